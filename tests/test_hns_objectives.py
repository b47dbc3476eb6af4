"""The optional objectives of HideAndSeek (issue #21): the masked-out objective, random masks shaped like the
hider's, in-filling, CASM's area hinge. Each is checked against a case solved by hand or against the gradient
it must add to one set of variables only."""
import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from networks.binary import build_neuron
from networks.hider import build_hider
from networks.hns import HideAndSeek
from networks.objective import masked_out_entropy
from networks.seeker import build_seeker

SHAPE = (8, 8, 1)


def toy_seeker():
    """A fixed linear classifier of 1 x 2 one-channel images: logits = [c1, c2] @ [[1, -1], [0.5, 0]]."""
    seeker = keras.Sequential([keras.Input((1, 2, 1)), keras.layers.Flatten(),
                               keras.layers.Dense(2, use_bias=False, name="toy_logits")])
    seeker.get_layer("toy_logits").set_weights([np.array([[1.0, -1.0], [0.5, 0.0]], np.float32)])
    return seeker


def test_masked_out_entropy_and_its_gradient_on_a_toy_case_solved_by_hand():
    # x = [1, 2], mask y = [1, 0]: the complement c = x * (1 - y) = [0, 2].
    # logits l = c @ K = [0*1 + 2*0.5, 0*(-1) + 2*0] = [1, 0]; p = softmax(l) = [e/(1+e), 1/(1+e)]
    #   = [0.7310586, 0.2689414]; H = log(1 + e) - p . l = 1.3132617 - 0.7310586 = 0.5822031.
    # dH/dl_k = -p_k (l_k - p . l): [-0.7310586 * 0.2689414, +0.2689414 * 0.7310586] = [-0.1966119, 0.1966119];
    # dH/dc = K @ dH/dl = [1 * -0.1966119 + (-1) * 0.1966119, 0.5 * -0.1966119 + 0] = [-0.3932239, -0.0983060];
    # dH/dy_j = -x_j dH/dc_j = [0.3932239, 0.1966119].
    x = tf.constant([[[[1.0], [2.0]]]])
    y = tf.Variable([[[[1.0], [0.0]]]])
    with tf.GradientTape() as tape:
        h, logits = masked_out_entropy(toy_seeker(), x, y)
    np.testing.assert_allclose(logits.numpy(), [[1.0, 0.0]], rtol=1e-6)
    np.testing.assert_allclose(h.numpy(), [0.5822031], rtol=1e-6)
    np.testing.assert_allclose(tape.gradient(h, y).numpy().ravel(), [0.3932239, 0.1966119], rtol=1e-5)


def tiny_data(n=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, *SHAPE)).astype(np.float32), rng.integers(0, 3, n).astype(np.int32)


def one_sgd_step(x, labels, **kw):
    """(hider update, seeker update, logs) of one SGD(0.1) step of a freshly seeded tiny model."""
    keras.utils.set_random_seed(0)
    model = HideAndSeek(build_hider("small", SHAPE, 1, logits=True), build_seeker("small", SHAPE, 3),
                        build_neuron(False, "st1", seed=0), alpha=0.4, **kw)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    h0 = [w.numpy().copy() for w in model.hider.trainable_weights]
    s0 = [w.numpy().copy() for w in model.seeker.trainable_weights]
    logs = model.train_on_batch(x, labels, return_dict=True)
    return ([a.numpy() - b for a, b in zip(model.hider.trainable_weights, h0)],
            [a.numpy() - b for a, b in zip(model.seeker.trainable_weights, s0)], logs)


def fresh_pair():
    keras.utils.set_random_seed(0)
    return build_hider("small", SHAPE, 1, logits=True), build_seeker("small", SHAPE, 3)


# The untrained seeker is near uniform on the complement, where H is at its maximum and its gradient small:
# a large W makes the hider's share of the update large enough to see.
@pytest.mark.parametrize("weight, seeker_out", [(1000.0, False), (0.0, True), (1000.0, True)])
def test_masked_out_terms_reach_only_their_own_variables(weight, seeker_out):
    """With SGD an update is -lr * gradient: the hider's moves by -lr * d/dhider(-W mean H) more than without
    the options, the seeker's by -lr * d/dseeker(alpha mean CE(seeker(x * (1 - y)))) more."""
    x, labels = tiny_data()
    base_h, base_s, base_logs = one_sgd_step(x, labels)
    new_h, new_s, logs = one_sgd_step(x, labels, masked_out_weight=weight, seeker_masked_out=seeker_out)
    hider, seeker = fresh_pair()
    neuron = build_neuron(False, "st1", seed=0)
    with tf.GradientTape(persistent=True) as tape:
        y = neuron(hider(x, training=True), training=True)
        h, logits = masked_out_entropy(seeker, tf.constant(x), y, training=True)
        hider_term = -weight * tf.reduce_mean(h)
        ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits)
        seeker_term = 0.4 * ce if seeker_out else 0.0 * ce
    g_h = tape.gradient(hider_term, hider.trainable_weights, unconnected_gradients="zero")
    g_s = tape.gradient(seeker_term, seeker.trainable_weights, unconnected_gradients="zero")
    for b, n, g in zip(base_h, new_h, g_h):
        np.testing.assert_allclose(n - b, -0.1 * g.numpy(), atol=1e-6)
    for b, n, g in zip(base_s, new_s, g_s):
        np.testing.assert_allclose(n - b, -0.1 * g.numpy(), atol=1e-6)
    moved = g_h if weight else g_s
    assert any(0.1 * np.abs(g.numpy()).max() > 1e-4 for g in moved)
    assert "masked_out_entropy" in logs and "masked_out_entropy" not in base_logs
    assert np.isclose(logs["masked_out_entropy"], tf.reduce_mean(h).numpy(), rtol=1e-5)
    assert np.isclose(logs["loss"], base_logs["loss"])   # not part of the reported total


def test_masked_out_options_survive_the_config_round_trip_and_old_configs_load():
    hider, seeker = fresh_pair()
    model = HideAndSeek(hider, seeker, build_neuron(False, "st1"), masked_out_weight=1.5, seeker_masked_out=True)
    config = model.get_config()
    again = HideAndSeek.from_config(config)
    assert (again.masked_out_weight, again.seeker_masked_out) == (1.5, True)
    old = {k: v for k, v in model.get_config().items() if k not in ("masked_out_weight", "seeker_masked_out")}
    assert not HideAndSeek.from_config(old).masked_out


def test_a_frozen_seeker_cannot_learn_the_complement():
    hider, seeker = fresh_pair()
    with pytest.raises(ValueError, match="seeker_masked_out"):
        HideAndSeek(hider, seeker, build_neuron(False, "st1"), seeker_training="frozen", seeker_masked_out=True)


def test_run_folders_name_the_new_objectives():
    from utils.config import Config, fill_dataset_defaults
    from utils.stages.runs import hns_model_type

    base = fill_dataset_defaults(Config())
    cfg = dataclasses.replace(base, masked_out_weight=10.0, seeker_masked_out=True)
    assert hns_model_type(cfg) == "hns/deterministic+out10+seeker-out"
    topk = dataclasses.replace(base, mask_mode="topk", seeker_training="random-masks", random_mask_shape="budget")
    assert hns_model_type(topk) == "hns/topk/geometric+random-masks+rm-budget"
    assert hns_model_type(dataclasses.replace(base, mask_infill="local-mean")) == "hns/deterministic+fill-local-mean"


@pytest.mark.parametrize("grid, cell", [(None, 1), (4, 2)])
def test_budget_shaped_random_masks_keep_exactly_k_random_cells(grid, cell):
    from networks.budget import TopKNeuron

    neuron = TopKNeuron(0.25, grid=grid)
    masks = neuron.random_mask(tf.zeros((6, *SHAPE)), keras.random.SeedGenerator(3)).numpy()[..., 0]
    n = (SHAPE[0] // cell) ** 2
    k = round(0.25 * n)
    assert set(np.unique(masks)) == {0.0, 1.0}
    cells = masks[:, ::cell, ::cell]
    # every pixel of a cell carries the cell's value, and each image keeps exactly k cells
    assert np.array_equal(np.repeat(np.repeat(cells, cell, 1), cell, 2), masks)
    assert (cells.reshape(6, -1).sum(-1) == k).all()
    assert len({m.tobytes() for m in cells}) == 6


def test_budget_shaped_random_masks_are_what_the_seeker_learns():
    """With SGD, random-masks minus joint is -lr * d/dseeker [alpha * mean CE(seeker(x * r))], r the budget's
    random cells drawn by the model's seed."""
    from networks.budget import TopKNeuron

    x, labels = tiny_data()
    updates = {}
    for training in ("joint", "random-masks"):
        keras.utils.set_random_seed(0)
        shape = "budget" if training == "random-masks" else "evalx"
        model = HideAndSeek(build_hider("small", SHAPE, 1, logits=True), build_seeker("small", SHAPE, 3),
                            TopKNeuron(0.25, grid=4), alpha=0.4, seeker_training=training, seed=7,
                            random_mask_shape=shape)
        model.compile(optimizer=keras.optimizers.SGD(0.1))
        before = [w.numpy().copy() for w in model.seeker.trainable_weights]
        model.train_on_batch(x, labels)
        updates[training] = [a.numpy() - b for a, b in zip(model.seeker.trainable_weights, before)]
    _, seeker = fresh_pair()
    r = TopKNeuron(0.25, grid=4).random_mask(tf.constant(x), keras.random.SeedGenerator(7, name="random_masks"))
    with tf.GradientTape() as tape:
        loss = 0.4 * keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, seeker(x * r, training=True))
    grads = tape.gradient(loss, seeker.trainable_weights)
    for joint, extra, g in zip(updates["joint"], updates["random-masks"], grads):
        np.testing.assert_allclose(extra - joint, -0.1 * g.numpy(), atol=1e-6)
    assert any(np.abs(g.numpy()).max() > 1e-4 for g in grads)


def test_budget_shaped_random_masks_need_a_top_k_neuron_and_random_masks():
    hider, seeker = fresh_pair()
    with pytest.raises(ValueError, match="random_mask_shape='budget'"):
        HideAndSeek(hider, seeker, build_neuron(False, "st1"), seeker_training="random-masks",
                    random_mask_shape="budget")


def test_zero_fill_is_exactly_the_plain_product_with_the_same_gradient():
    from networks.infill import Zero, infill

    rng = np.random.default_rng(1)
    x = tf.constant(rng.random((4, *SHAPE)).astype(np.float32))
    z = tf.Variable(rng.random((4, *SHAPE)).astype(np.float32))
    with tf.GradientTape(persistent=True) as tape:
        filled, product = infill(x, z, Zero()), x * z
        loss_filled, loss_product = tf.reduce_sum(tf.sin(filled)), tf.reduce_sum(tf.sin(product))
    assert np.array_equal(filled.numpy(), product.numpy())
    assert np.array_equal(tape.gradient(loss_filled, z).numpy(), tape.gradient(loss_product, z).numpy())


def test_blur_fill_is_what_the_seeker_sees_in_training_and_prediction():
    from networks.infill import Blur, default_sigma, infill

    hider, seeker = fresh_pair()
    model = HideAndSeek(hider, seeker, build_neuron(False, "st1"), alpha=0.4, mask_infill="blur")
    x, labels = tiny_data()
    y, _, _ = model.mask(x)
    expected = seeker(x * y + (1 - y) * Blur(default_sigma(SHAPE[0]))(tf.constant(x), y))
    np.testing.assert_allclose(model(x).numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)
    out = model._forward(tf.constant(x), tf.constant(labels), training=False)
    np.testing.assert_allclose(out["logits"].numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)
    assert not np.allclose(expected.numpy(), seeker(x * y).numpy())   # the fill changes what the seeker sees


def test_noise_fill_is_fresh_in_every_training_step_and_fixed_in_prediction():
    hider, seeker = fresh_pair()
    model = HideAndSeek(hider, seeker, build_neuron(False, "st1"), mask_infill="noise", seed=3)
    x = tf.constant(tiny_data()[0])
    z = tf.zeros((8, *SHAPE[:2], 1))
    a, b = model.fill(x, z, training=True), model.fill(x, z, training=True)
    assert not np.allclose(a.numpy(), b.numpy())
    assert np.array_equal(model.fill(x, z).numpy(), model.fill(x, z).numpy())
    assert np.array_equal(model.fill(x, tf.ones_like(z), training=True).numpy(), x.numpy())


def test_mean_fill_holds_the_set_colour_and_travels_with_the_weights(tmp_path):
    from networks.hns import set_fill_value
    from networks.weights import load_weights, save_weights

    hider, seeker = fresh_pair()
    model = HideAndSeek(hider, seeker, build_neuron(False, "st1"), mask_infill="mean")
    set_fill_value(model, [0.25])
    x = tf.constant(tiny_data()[0])
    z = np.zeros((8, *SHAPE[:2], 1), np.float32)
    z[:, :3] = 1.0  # the top three rows kept
    filled = model.fill(x, tf.constant(z)).numpy()
    np.testing.assert_array_equal(filled[:, :3], x.numpy()[:, :3])
    np.testing.assert_allclose(filled[:, 3:], 0.25)
    y, _, _ = model.mask(x)
    np.testing.assert_allclose(model(x).numpy(), seeker(x * y + (1 - y) * 0.25).numpy(), rtol=1e-5, atol=1e-6)
    save_weights(model, tmp_path / "m.weights.h5")
    again = HideAndSeek(*fresh_pair(), build_neuron(False, "st1"), mask_infill="mean")
    load_weights(again, tmp_path / "m.weights.h5")
    np.testing.assert_allclose(again.fill(x, tf.constant(z)).numpy(), filled)
    blur = HideAndSeek(*fresh_pair(), build_neuron(False, "st1"), mask_infill="blur")
    set_fill_value(blur, [0.25])   # no colour to set: nothing happens
    assert not hasattr(blur, "fill_value")


def test_training_sets_the_mean_fill_to_the_training_images_mean(tmp_path, monkeypatch):
    from networks.build import build_hns
    from utils.config import Config, fill_dataset_defaults
    from utils.config.arguments import hns_arguments
    from utils.data.splits import Data, Split
    from utils.runs import Run
    from utils.stages.hns import train_hns
    from utils.stages.runs import run_paths

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)

    def split(m, level):  # images near `level` (uint8), so that the mean is known
        return Split(np.clip(rng.integers(level - 10, level + 11, (m, 8, 8, 1)), 0, 255).astype(np.uint8),
                     rng.integers(0, 3, m).astype(np.int32))

    data = Data(split(32, 60), split(16, 200), split(16, 200), 3)
    cfg = fill_dataset_defaults(Config(dataset="mnist", image_size=8, channels=1, num_classes=3, batch_size=8,
                                       max_epochs=1, mask_mode="topk", start_budget=0.5, final_budget=0.25,
                                       budget_epochs=1, mask_infill="mean", seed=3, quiet=True))
    model = build_hns(data.image_shape, 3, **hns_arguments(cfg))
    train_hns(cfg, data, Run(None, run_paths(cfg, "hns/topk"), 3), model=model)
    np.testing.assert_allclose(model.fill_value.value.numpy(), [data.train.x.mean() / 255.0], rtol=1e-6)


@pytest.mark.parametrize("fill", ["blur", "local-mean", "noise", "mean"])
def test_every_fill_trains_and_survives_the_config_round_trip(fill):
    x, labels = tiny_data()
    keras.utils.set_random_seed(0)
    hider, seeker = fresh_pair()
    model = HideAndSeek(hider, seeker, build_neuron(False, "st1"), alpha=0.5, mask_infill=fill, seed=1,
                        seeker_training="random-masks", masked_out_weight=1.0, seeker_masked_out=True)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    logs = model.train_on_batch(x, labels, return_dict=True)
    assert all(np.isfinite(v) for v in logs.values())
    assert HideAndSeek.from_config(model.get_config()).infiller.name == fill
    old = {k: v for k, v in model.get_config().items() if k != "mask_infill"}
    assert HideAndSeek.from_config(old).infiller.name == "zero"


def toy_hns(area_hinge):
    """A 1 x 2 hider h = x - 1.5 (so y = 1[x > 1.5]) and the fixed linear seeker of `toy_seeker`."""
    hider = keras.Sequential([keras.Input((1, 2, 1)), keras.layers.Conv2D(1, 1, name="hider_logits")])
    hider.get_layer("hider_logits").set_weights([np.ones((1, 1, 1, 1), np.float32), np.array([-1.5], np.float32)])
    return HideAndSeek(hider, toy_seeker(), build_neuron(False, "st1"), alpha=0.5, area_hinge=area_hinge)


def test_area_hinge_on_a_toy_case_solved_by_hand():
    # Image 0: x = [1, 2] -> y = [0, 1], mean(y) = 0.5, x * y = [0, 2], logits [1, 0]: class 0, its label (correct);
    #   CE = log(1 + e^-1) = 0.3132617; per image 0.5 * 0.3132617 + 0.5 * 1 * 0.5 = 0.4066309.
    # Image 1: x = [2, 1] -> y = [1, 0], x * y = [2, 0], logits [2, -2]: class 0, label 1 (wrong);
    #   CE = log(e^2 + e^-2) + 2 = 4.0181499; per image 0.5 * 4.0181499 + 0.5 * 0 * 0.5 = 2.0090749
    #   (without the hinge + 0.25: 2.2590749).
    x = tf.constant([[[[1.0], [2.0]]], [[[2.0], [1.0]]]])
    labels = tf.constant([0, 1])
    for hinge, expected in ((True, [0.4066309, 2.0090749]), (False, [0.4066309, 2.2590749])):
        model = toy_hns(hinge)
        with tf.GradientTape(persistent=True) as tape:
            out = model._forward(x, labels, training=True)
            mask_1 = out["mask_size"][1]
            rest = 0.5 * tf.reduce_mean(out["ce"]) + 0.25 * out["mask_size"][0]
        np.testing.assert_allclose(out["per_sample"].numpy(), expected, rtol=1e-6)
        # the wrong image's mask size reaches the hider only without the hinge
        bias = model.hider.get_layer("hider_logits").bias
        g_total = tape.gradient(out["total"], bias).numpy()
        g_rest = tape.gradient(rest, bias).numpy()
        g_mask_1 = tape.gradient(mask_1, bias).numpy()
        assert np.abs(g_mask_1).max() > 0
        np.testing.assert_allclose(g_total, g_rest + (0.0 if hinge else 0.25) * g_mask_1, rtol=1e-6, atol=1e-7)


def test_area_hinge_is_refused_under_a_budget_and_named_in_the_run_folder():
    from networks.budget import TopKNeuron
    from utils.config import Config, fill_dataset_defaults
    from utils.stages.runs import hns_model_type

    hider, seeker = fresh_pair()
    with pytest.raises(ValueError, match="area_hinge"):
        HideAndSeek(hider, seeker, TopKNeuron(0.5), area_hinge=True)
    cfg = dataclasses.replace(fill_dataset_defaults(Config()), area_hinge=True, seeker_training="joint")
    assert hns_model_type(cfg) == "hns/deterministic+hinge"
    assert HideAndSeek.from_config(toy_hns(True).get_config()).area_hinge


@pytest.mark.parametrize("estimator", ["st2", "reinforce"])
def test_area_hinge_trains_with_stochastic_neurons(estimator):
    x, labels = tiny_data()
    hider, seeker = fresh_pair()
    model = HideAndSeek(hider, seeker, build_neuron(True, estimator, seed=0), alpha=0.5, area_hinge=True)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    before = [w.numpy().copy() for w in model.hider.trainable_weights]
    logs = model.train_on_batch(x, labels, return_dict=True)
    assert all(np.isfinite(v) for v in logs.values())
    assert any(not np.allclose(b, a.numpy()) for b, a in zip(before, model.hider.trainable_weights))


def test_checkpoint_evaluation_scores_the_fill_the_model_was_trained_with():
    from utils.evaluation.checkpoints import mask_predictor

    hider, seeker = fresh_pair()
    model = HideAndSeek(hider, seeker, build_neuron(False, "st1"), mask_infill="blur")
    x = tf.constant(tiny_data()[0])
    preds, kept, _, _ = mask_predictor(model, 0.1)(x)
    assert np.array_equal(preds.numpy(), np.argmax(model(x).numpy(), -1))
    assert np.array_equal(kept.numpy(), model.mask(x)[0].numpy()[..., 0] > 0.5)


def test_tensorboard_mask_images_show_the_fill_the_seeker_sees(tmp_path, monkeypatch):
    from networks.budget import TopKNeuron
    from utils.training.callbacks import MaskImages

    hider, seeker = fresh_pair()
    model = HideAndSeek(hider, seeker, TopKNeuron(0.25), mask_infill="blur")
    x = tf.constant(tiny_data(3)[0])
    drawn = {}
    monkeypatch.setattr(tf.summary, "image", lambda name, grid, **kw: drawn.setdefault("grid", grid.numpy()))
    callback = MaskImages(tmp_path, x)
    callback.set_model(model)
    callback.on_epoch_end(0)
    y, _, _ = model.mask(x)
    width = SHAPE[1]
    np.testing.assert_allclose(drawn["grid"][:, :, 2 * width:], model.fill(x, y).numpy(), atol=1e-6)
    assert not np.allclose(drawn["grid"][:, :, 2 * width:], (x * y).numpy())   # the blur, not black holes


def test_every_term_key_is_a_flag_an_argument_an_hparam_and_names_its_run_folder():
    """A term's keys are declared once (networks.term_keys) and read everywhere: the configuration's fields (same
    default, help and range), hns_arguments, TensorBoard's hparams, the run folder's name and the model's config."""
    from networks.term_keys import KEYS
    from utils.config import Config, fill_dataset_defaults
    from utils.config.arguments import hns_arguments
    from utils.config.schema import FIELDS, HNS
    from utils.stages.hns import HPARAMS
    from utils.stages.runs import hns_model_type

    base = fill_dataset_defaults(Config())
    config = HideAndSeek(*fresh_pair(), build_neuron(False, "st1")).get_config()
    for name, key in KEYS.items():
        f = FIELDS[name]
        assert (f.default, f.metadata["help"], f.metadata["group"]) == (key.default, key.help, HNS)
        assert all(f.metadata[m] == v for m, v in key.meta.items())
        assert hns_arguments(base)[name] == key.default and name in HPARAMS and config[name] == key.default
    assert hns_model_type(dataclasses.replace(base, mask_smoothness=0.25)) == "hns/deterministic+tv0.25"


def test_a_terms_rule_is_written_once_and_refused_where_the_settings_enter():
    """The same rule refuses a model built with the library (ValueError, key='value') and a configuration
    (UsageError before anything starts, --flag value)."""
    from networks.budget import TopKNeuron
    from utils.config import Config, fill_dataset_defaults
    from utils.config.checks import validate
    from utils.errors import UsageError

    cfg = dataclasses.replace(fill_dataset_defaults(Config()), nested_budget=0.3, typed=frozenset({"nested_budget"}))
    with pytest.raises(UsageError, match=r"^--nested_budget 0.3 cuts the ranking of a top-k mask lower; a "
                                         r"thresholded mask has none: add --mask_mode topk or drop it$"):
        validate(cfg)
    with pytest.raises(ValueError, match=r"^nested_budget=0.3 cuts the ranking of a top-k mask lower; a "
                                         r"thresholded mask has none: add mask_mode='topk' or drop it$"):
        HideAndSeek(*fresh_pair(), build_neuron(False, "st1"), nested_budget=0.3)
    HideAndSeek(*fresh_pair(), TopKNeuron(0.5), nested_budget=0.3)


@pytest.mark.parametrize("neuron, settings, terms", [
    ("det", {}, ["Classification", "MaskSize", "LogitBound"]),
    ("st1", dict(area_hinge=True, mask_smoothness=0.1),
     ["Classification", "AreaHinge", "LogitBound", "EvaluationMask", "Smoothness"]),
    ("reinforce", dict(seeker_training="frozen", masked_out_weight=1.0),
     ["Classification", "MaskSize", "LogitBound", "ScoreFunction", "MaskedOut"]),
    ("topk", dict(seeker_training="random-masks", random_mask_shape="budget", nested_budget=0.2,
                     seeker_masked_out=True),
     ["Classification", "MaskSize", "LogitBound", "RandomMasks", "NestedBudget", "MaskedOut"]),
])
def test_the_objective_holds_the_terms_its_settings_ask_for_in_the_order_of_the_sum(neuron, settings, terms):
    from networks.budget import TopKNeuron

    made = {"det": build_neuron(False), "st1": build_neuron(True, "st1"), "reinforce": build_neuron(True, "reinforce"),
            "topk": TopKNeuron(0.5)}[neuron]
    model = HideAndSeek(*fresh_pair(), made, **settings)
    assert [type(term).__name__ for term in model.terms] == terms
    assert model.masked_out == ("MaskedOut" in terms)
