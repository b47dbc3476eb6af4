"""The hider on the seeker's features (networks/feature_hider.py): its shape, a frozen copy that never moves,
live features that pass no gradient to the seeker, weights and resume state that round-trip, and the flags."""
import numpy as np
import pytest
import tensorflow as tf

from conftest import refused_in_one_line
from networks.build import build_hns
from networks.seeker import build_seeker
from networks.weights import load_weights, read_weights, save_weights

SHAPE = (16, 16, 3)
CLASSES = 3


def batch(shape=SHAPE, n=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, *shape)).astype(np.float32), rng.integers(0, CLASSES, n).astype(np.int32)


def model(features, seeker_weights=None, seed=0, shape=SHAPE, head_layers=0):
    return build_hns(shape, CLASSES, hider_features=features, seeker_weights=seeker_weights, seed=seed,
                     mask_mode="topk", start_budget=0.5, alpha=1.0, hider_head_layers=head_layers)


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """A seeker's weights file (random weights: what matters is that they are these)."""
    path = tmp_path_factory.mktemp("seeker") / "seeker.weights.h5"
    import keras

    keras.utils.set_random_seed(7)
    save_weights(build_seeker("small", SHAPE, CLASSES), path)
    return path


def layer_weights(model, prefix):
    return {f"{layer.name}/{i}": w.numpy().copy() for layer in model.layers if layer.name.startswith(prefix)
            for i, w in enumerate(layer.weights)}


@pytest.mark.parametrize("features", ["frozen", "live"])
@pytest.mark.parametrize("shape", [(16, 16, 3), (28, 28, 1)])  # 28: stages of 14, 7 and 4 pixels
def test_one_channel_of_float32_logits_at_the_image_size(features, shape):
    hns = model(features, shape=shape)
    h = hns.hider(batch(shape)[0])
    assert tuple(h.shape) == (8, *shape[:2], 1) and h.dtype == tf.float32
    assert hns.hider.get_layer("hider_logits").activation.__name__ == "linear"


@pytest.mark.parametrize("head_layers", [0, 2])
def test_head_layers_are_full_resolution_convolutions_before_the_logits(head_layers):
    hns = model("live", head_layers=head_layers)
    names = [layer.name for layer in hns.hider.layers]
    heads = [name for name in names if name.startswith("hider_head")]
    assert heads == [f"hider_head{k}" for k in range(1, head_layers + 1)]
    last = f"hider_head{head_layers}" if head_layers else "hider_upconv3"  # the small seeker's three stages
    assert names.index(last) == names.index("hider_logits") - 1
    for name in heads:
        layer = hns.hider.get_layer(name)
        assert layer.kernel_size == (3, 3) and layer.strides == (1, 1) and layer.filters == 16
        assert tuple(layer.output.shape) == (None, *SHAPE[:2], 16)
    assert tuple(hns.hider(batch()[0]).shape) == (8, *SHAPE[:2], 1)


def test_the_frozen_copy_holds_the_pretrained_seeker_and_never_moves_while_the_seeker_learns(pretrained):
    hns = model("frozen", seeker_weights=pretrained)
    stored = read_weights(pretrained)
    copy_before = layer_weights(hns.hider, "hider_enc_conv")
    assert len(copy_before) == 6  # three convolutions, kernel and bias
    for name, value in copy_before.items():
        i, index = name.removeprefix("hider_enc_conv").split("/")
        np.testing.assert_array_equal(value, stored[f"seeker_conv{i}"][int(index)])
    seeker_before = layer_weights(hns.seeker, "seeker_conv")
    x, y = batch()
    hns.train_on_batch(x, y)
    copy_after = layer_weights(hns.hider, "hider_enc_conv")
    assert all(np.array_equal(copy_before[k], copy_after[k]) for k in copy_before)
    seeker_after = layer_weights(hns.seeker, "seeker_conv")
    assert any(not np.array_equal(seeker_before[k], seeker_after[k]) for k in seeker_before)
    assert not any(v.path.startswith("hider_enc_conv") for v in hns.trainable_variables)


def test_live_features_pass_no_gradient_to_the_seeker_but_follow_it():
    hns = model("live")
    x, _ = batch()
    seeker_variables = hns.seeker.trainable_variables
    with tf.GradientTape() as tape:
        out = tf.reduce_sum(hns.hider(x, training=True))
    grads = tape.gradient(out, seeker_variables + hns.hider.trainable_variables)
    to_seeker, to_hider = grads[:len(seeker_variables)], grads[len(seeker_variables):]
    assert all(g is None or not np.any(g.numpy()) for g in to_seeker)
    assert any(g is not None and np.any(g.numpy()) for g in to_hider)
    before = hns.hider(x).numpy()
    conv = hns.seeker.get_layer("seeker_conv1")
    conv.kernel.assign(conv.kernel * 2.0)
    assert not np.allclose(before, hns.hider(x).numpy())  # it reads the seeker's weights, not a copy


def test_live_seeker_weights_are_trained_once():
    hns = model("live")
    paths = [v.path for v in hns.trainable_variables]
    assert len(paths) == len(set(paths)) and not any(v.path.startswith("seeker_conv") for v in hns.hider.weights)


@pytest.mark.parametrize("features", ["frozen", "live"])
def test_weights_and_resume_state_round_trip(features, pretrained, tmp_path):
    from utils.training.resume import load_state, save_state

    trained = model(features, seeker_weights=pretrained if features == "frozen" else None)
    x, y = batch()
    trained.train_on_batch(x, y)
    save_weights(trained, tmp_path / "hns.weights.h5")
    save_state(trained, tmp_path / "state.npz", 1, {})
    stored = read_weights(tmp_path / "hns.weights.h5")
    seeker_layers = [k for k in stored if k.split("/")[-1].startswith("seeker_conv")]
    assert sorted(seeker_layers) == [f"seeker_small/seeker_conv{i}" for i in (1, 2, 3)]  # once, as the seeker's
    if features == "frozen":
        assert sorted(k for k in stored if "enc_conv" in k) == [f"hider_features_frozen/hider_enc_conv{i}"
                                                               for i in (1, 2, 3)]
    for restore in ("weights", "state"):
        fresh = model(features, seed=1)  # other initial weights, and an untrained copy
        assert not np.array_equal(fresh.mask(x)[2].numpy(), trained.mask(x)[2].numpy())
        if restore == "weights":
            load_weights(fresh, tmp_path / "hns.weights.h5")
        else:
            load_state(fresh, tmp_path / "state.npz")
        for a, b in zip(fresh.mask(x), trained.mask(x)):
            np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("features, head_layers", [("none", 0), ("frozen", 0), ("live", 0), ("live", 2)])
@pytest.mark.parametrize("mask_grid", [None, 4])
def test_the_whole_model_saves_as_keras_and_loads_back(features, head_layers, mask_grid, tmp_path):
    # Keras skips a custom compile when it loads a model (the step buffer was then missing), and it cannot
    # serialise the live hider's reference to the seeker's convolutions: HideAndSeek stores the hider's
    # recipe instead and rebuilds it on the loaded seeker (a thresholded mask keeps the hider's grid head,
    # so the recipe must carry the grid too).
    import keras

    trained = build_hns(SHAPE, CLASSES, hider_features=features, mask_grid=mask_grid, seed=0, alpha=0.5,
                        hider_head_layers=head_layers)
    x, y = batch()
    trained.train_on_batch(x, y)
    path = tmp_path / "hns.keras"
    trained.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded.hider.get_layer("hider_logits")) is keras.layers.Conv2D
    assert [layer.name for layer in loaded.hider.layers] == [layer.name for layer in trained.hider.layers]
    for a, b in zip(loaded.mask(x), trained.mask(x)):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(loaded(x).numpy(), trained(x).numpy())
    assert float(loaded.alpha.numpy()) == 0.5
    assert int(loaded.optimizer.iterations.numpy()) == int(trained.optimizer.iterations.numpy()) == 1
    loaded.train_on_batch(x, y)  # and it trains on
    if features == "live":  # the rebuilt hider reads the loaded seeker's convolutions, not copies of them
        loaded.seeker.get_layer("seeker_conv1").kernel.assign_add(tf.ones_like(loaded.seeker.get_layer(
            "seeker_conv1").kernel))
        assert not np.array_equal(loaded.mask(x)[2].numpy(), trained.mask(x)[2].numpy())


def test_the_flag_reaches_the_model_and_names_the_run(pretrained):
    from utils.config import parse_config
    from utils.config.arguments import hns_arguments
    from utils.stages.runs import hns_model_type

    groups = ("common", "hns")
    live = parse_config(["--hider_features", "live"], "evaluation.py", "", groups=groups)
    frozen = parse_config(["--hider_features", "frozen", "--seeker_weights", str(pretrained)], "evaluation.py", "",
                          groups=groups)
    assert hns_arguments(live)["hider_features"] == "live"
    original = hns_model_type(parse_config([], "evaluation.py", "", groups=groups))  # the preset's variant, if any
    # the variant joins the preset's own ones (mnist-5k: random-masks, hinge) in their fixed order
    assert hns_model_type(live).replace("+features-live", "") == original != hns_model_type(live)
    assert hns_model_type(frozen).replace("+features-frozen", "") == original != hns_model_type(frozen)
    head = parse_config(["--hider_features", "live", "--hider_head_layers", "2"], "evaluation.py", "", groups=groups)
    assert hns_arguments(head)["hider_head_layers"] == 2 and hns_arguments(live)["hider_head_layers"] == 0
    assert hns_model_type(head) == hns_model_type(live).replace("+features-live", "+features-live+head2")


@pytest.mark.parametrize("args, message", [
    (["--hider_features", "frozen"], "--hider_features frozen copies the pretrained seeker's convolutions"),
    (["--hider_features", "live", "--model", "resnet"], "not ResNet50's: drop --model or set it to small"),
    (["--hider_features", "live", "--hider_decoder", "unet"], "--hider_decoder unet does not apply"),
    (["--hider_head_layers", "2"], "--hider_head_layers 2 adds layers to the hider that reads the seeker's features"),
])
def test_refusals_are_one_line_exit_2(args, message, tmp_path, monkeypatch, capsys):
    import collaborative_training

    refused_in_one_line(collaborative_training.main, args, message, tmp_path, monkeypatch, capsys)


def test_a_live_hider_keeps_the_keras_file_layout_of_earlier_models(tmp_path):
    """Keras' own files (``model.save``, ``save_weights``) hold the seeker's convolutions once, under the hider's
    SeekerFeatures layer, as every such file written so far does (so those still load), and not again under the
    seeker."""
    import h5py

    path = tmp_path / "keras.weights.h5"
    model("live").save_weights(path)
    with h5py.File(path) as f:
        arrays = []
        f.visititems(lambda name, item: arrays.append(name) if isinstance(item, h5py.Dataset) else None)
    read = [a for a in arrays if a.startswith("hider/layers/seeker_features/_convs/")]
    assert len(read) == 6   # three convolutions, a kernel and a bias each
    assert len(arrays) == len(set(arrays)) and not [a for a in arrays if a.startswith("layers/") and "/conv2d" in a]
