"""The pooling seeker (networks/seeker.py): it learns an object wherever it is, the hider on the seeker's
features reads it as the strided seekers, it saves and loads, and --seeker_model reaches every builder."""
import keras
import numpy as np
import pytest

from conftest import refused_in_one_line
from networks.build import build_hns
from networks.seeker import PooledConv2D, build_seeker
from networks.weights import load_weights, read_weights, save_weights

SQUARE = np.ones((3, 3), np.float32)
PLUS = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], np.float32)


def shapes_anywhere(n, size, seed):
    """n grey images of `size` pixels: a bright 3x3 square (class 0) or plus (class 1) at a random place on
    uniform noise in [0, 0.3]; the classes differ only in the object's four corners."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    x = rng.uniform(0, 0.3, (n, size, size, 1)).astype(np.float32)
    for i in range(n):
        r, c = rng.integers(0, size - 2, 2)
        x[i, r:r + 3, c:c + 3, 0] = np.maximum(x[i, r:r + 3, c:c + 3, 0], (SQUARE, PLUS)[y[i]])
    return x, y.astype(np.int32)


def accuracy_after_training(model_name, train, test, epochs=4):
    keras.utils.set_random_seed(0)
    seeker = build_seeker(model_name, train[0].shape[1:], 2)
    seeker.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    seeker.fit(*train, batch_size=32, epochs=epochs, verbose=0)
    return float(np.mean(np.argmax(seeker.predict(test[0], verbose=0), axis=1) == test[1]))


def test_the_pooling_seeker_learns_an_object_anywhere_where_the_small_one_does_not():
    train, test = shapes_anywhere(512, 24, 0), shapes_anywhere(200, 24, 1)
    assert accuracy_after_training("pooling", train, test) >= 0.95
    # the same budget leaves Flatten + Dense far from it: the task is one of position, not of too few epochs
    assert accuracy_after_training("small", train, test) <= 0.8


@pytest.mark.parametrize("size", [28, 30, 32])  # 28: stages of 14, 7 and 4 pixels; 30: 15, 8, 4
def test_stages_halve_the_image_and_the_logits_forget_where_the_object_was(size):
    seeker = build_seeker("pooling", (size, size, 1), 5)
    sides = [-(-size // 2 ** i) for i in (1, 2, 3)]
    assert [seeker.get_layer(f"seeker_conv{i}").output.shape[1] for i in (1, 2, 3)] == sides
    assert seeker.output_shape == (None, 5)
    # an object on a black image moved by the three poolings' stride (8 pixels), far enough from the border
    # that no stage's padding cuts what it sees: the same logits
    x = np.zeros((2, size, size, 1), np.float32)
    x[0, 8:11, 8:11, 0] = PLUS
    x[1, 16:19, 8:11, 0] = PLUS
    logits = seeker(x).numpy()
    np.testing.assert_allclose(logits[0], logits[1], rtol=1e-5, atol=1e-6)


def test_a_stage_rebuilt_from_its_config_is_the_same_stage():
    stage = PooledConv2D(4, 3, padding="same", activation="relu", pool_size=2, name="seeker_conv1")
    x = np.random.default_rng(0).random((2, 9, 9, 1)).astype(np.float32)
    y = stage(x)
    copy = PooledConv2D.from_config(stage.get_config())
    copy.build(x.shape)
    copy.set_weights(stage.get_weights())
    assert tuple(y.shape) == (2, 5, 5, 4) == tuple(copy.compute_output_shape(x.shape))
    np.testing.assert_array_equal(copy(x).numpy(), y.numpy())


def hns(features, **kwargs):
    return build_hns((16, 16, 1), 2, seeker_model="pooling", hider_features=features, mask_mode="topk",
                     start_budget=0.5, alpha=1.0, hider_head_layers=1, **kwargs)


@pytest.mark.parametrize("features", ["frozen", "live"])
def test_the_feature_hider_reads_the_pooling_seeker(features, tmp_path):
    x, y = shapes_anywhere(8, 16, 2)
    seeker_file = tmp_path / "seeker.weights.h5"
    keras.utils.set_random_seed(3)
    save_weights(build_seeker("pooling", (16, 16, 1), 2), seeker_file)
    trained = hns(features, seeker_weights=seeker_file, seed=0)
    assert trained.seeker.name == "seeker_pooling"
    assert tuple(trained.hider(x).shape) == (8, 16, 16, 1)
    if features == "frozen":  # a copy of each stage, pooling and weights included, reads what the seeker's does
        copy, stage = trained.hider.get_layer("hider_enc_conv1"), trained.seeker.get_layer("seeker_conv1")
        assert type(copy) is PooledConv2D and not copy.trainable
        np.testing.assert_array_equal(copy(x).numpy(), stage(x).numpy())
    trained.train_on_batch(x, y)
    # weights by name: the seeker's stages once, as the seeker's; a fresh model loads them back exactly
    save_weights(trained, tmp_path / "hns.weights.h5")
    stored = read_weights(tmp_path / "hns.weights.h5")
    assert sorted(k for k in stored if k.split("/")[-1].startswith("seeker_conv")) == [
        f"seeker_pooling/seeker_conv{i}" for i in (1, 2, 3)]
    fresh = hns(features, seeker_weights=seeker_file, seed=1)
    load_weights(fresh, tmp_path / "hns.weights.h5")
    for a, b in zip(fresh.mask(x), trained.mask(x)):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    # the whole model as .keras: the live hider is rebuilt on the loaded pooling seeker
    trained.save(tmp_path / "hns.keras")
    loaded = keras.models.load_model(tmp_path / "hns.keras")
    assert type(loaded.seeker.get_layer("seeker_conv2")) is PooledConv2D
    for a, b in zip(loaded.mask(x), trained.mask(x)):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(loaded(x).numpy(), trained(x).numpy())
    loaded.train_on_batch(x, y)


def test_the_flag_reaches_every_seeker_builder(tmp_path):
    from utils.config import parse_config
    from utils.config.arguments import hns_arguments
    from utils.stages.pretraining import build_pretraining_model

    pooling = parse_config(["--seeker_model", "pooling"], "collaborative_training.py", "", groups=("common", "hns"))
    default = parse_config([], "collaborative_training.py", "", groups=("common", "hns"))
    assert pooling.seeker_architecture == "pooling" and default.seeker_architecture == default.model == "small"
    assert hns_arguments(pooling)["seeker_model"] == "pooling" and hns_arguments(default)["seeker_model"] == "small"
    assert build_hns((16, 16, 1), 2, **hns_arguments(pooling, start_weights=False)).seeker.name == "seeker_pooling"
    assert build_pretraining_model(pooling, "seeker", (16, 16, 1), 2).name == "seeker_pooling"
    assert build_pretraining_model(default, "seeker", (16, 16, 1), 2).name == "seeker_small"
    # another architecture never shares a run folder (or a judge) with --model's seeker
    from utils.stages.runs import hns_model_type, seeker_model_type
    from utils.stages.judge import judge_config as evaluator_config

    assert seeker_model_type(pooling) == "seeker+pooling" and seeker_model_type(default) == "seeker"
    assert seeker_model_type(pooling, random_masks=True) == "seeker-random+pooling"
    assert "+seeker-pooling" in hns_model_type(pooling) and "seeker-" not in hns_model_type(default)
    assert evaluator_config(pooling).identifier == evaluator_config(default).identifier + "-pooling"


@pytest.mark.parametrize("args, message", [
    (["--seeker_model", "cnn"], "argument --seeker_model: invalid choice: 'cnn'"),
    (["--hider_features", "live", "--seeker_model", "resnet"],
     "not ResNet50's: drop --seeker_model or set it to pooling (or small, large)"),
])
def test_refusals_are_one_line_exit_2(args, message, tmp_path, monkeypatch, capsys):
    import collaborative_training

    refused_in_one_line(collaborative_training.main, args, message, tmp_path, monkeypatch, capsys)
