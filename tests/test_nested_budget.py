"""Nested budgets (HideAndSeek's ``nested_budget``, after nested dropout): per-image budgets of the top-k mask, the
nested mask as a prefix of the same ranking, and the term it adds, checked against cases solved by hand."""
import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from networks.budget import TopKNeuron, top_k_mask
from networks.hider import build_hider
from networks.hns import HideAndSeek
from networks.objective import NestedBudget
from networks.seeker import build_seeker

SHAPE = (8, 8, 1)


def test_per_image_budgets_keep_exactly_k_i_and_cut_each_row_at_its_own_kth_value():
    # Row 0: h = (2, 0, -1), budget 1/3 -> k = 1, h_k = 2; row 1: the same logits, budget 2/3 -> k = 2, h_k = 0.
    # With the loss sum(w * y), w = (1, 2, 3): dL/dh = w * s (1 - s), s = sigmoid(h - h_k):
    #   row 0: s = (1/2, sigmoid(-2), sigmoid(-3)) -> (0.25, 0.209987, 0.135530)
    #   row 1: s = (sigmoid(2), 1/2, sigmoid(-1)) -> (0.104994, 0.5, 0.589836)
    h = tf.constant([[2.0, 0.0, -1.0], [2.0, 0.0, -1.0]])
    w = tf.constant([[1.0, 2.0, 3.0]])
    with tf.GradientTape() as tape:
        tape.watch(h)
        y, _ = top_k_mask(h, tf.constant([1 / 3, 2 / 3]))
        loss = tf.reduce_sum(w * y)
    assert y.numpy().tolist() == [[1, 0, 0], [1, 1, 0]]
    np.testing.assert_allclose(tape.gradient(loss, h).numpy(),
                               [[0.25, 0.209987, 0.135530], [0.104994, 0.5, 0.589836]], atol=1e-5)
    # Per-row budgets equal to the scalar one give the scalar mask, ties by index included.
    rng = np.random.default_rng(0)
    many = tf.constant(rng.integers(0, 3, (16, 64)).astype(np.float32))
    scalar, _ = top_k_mask(many, 0.2)
    per_row, _ = top_k_mask(many, tf.fill((16,), 0.2))
    assert (scalar.numpy() == per_row.numpy()).all()


@pytest.mark.parametrize("grid", [None, 4])
def test_the_nested_mask_is_a_prefix_of_the_full_mask(grid):
    neuron = TopKNeuron(0.5, grid=grid)
    h = tf.constant(np.random.default_rng(1).normal(size=(6, 8, 8, 1)).astype(np.float32))
    full = np.round(neuron(h).numpy())
    fraction = tf.constant([1.0, 0.5, 0.25, 0.1, 0.01, 0.75])
    nested = np.round(neuron.nested(h, fraction).numpy())
    n = 64 if grid is None else 16
    cell = 1 if grid is None else 4
    kept = nested.reshape(6, -1).sum(axis=1) / cell
    assert kept.tolist() == [max(1, round(f * 0.5 * n)) for f in fraction.numpy()]
    assert (nested <= full).all()  # inside the full mask
    assert (nested[0] == full[0]).all()


def toy_model(nested_budget, budget=0.5, alpha=0.4):
    """A tiny top-k model on 1 x 2 images with no logit penalty: its only gradient is the CE terms'."""
    keras.utils.set_random_seed(0)
    hider = keras.Sequential([keras.Input((1, 2, 1)), keras.layers.Conv2D(1, 1, name="hider_logits")])
    seeker = keras.Sequential([keras.Input((1, 2, 1)), keras.layers.Flatten(), keras.layers.Dense(2, name="toy")])
    model = HideAndSeek(hider, seeker, TopKNeuron(budget), alpha=alpha, logit_penalty=0.0,
                        nested_budget=nested_budget, seed=0)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    return model


def updates(model, x, labels):
    before = [w.numpy().copy() for w in model.trainable_weights]
    logs = model.train_on_batch(x, labels, return_dict=True)
    return [a.numpy() - b for a, b in zip(model.trainable_weights, before)], logs


def test_nested_term_by_hand_when_every_prefix_is_the_whole_mask():
    # Two pixels, budget 1/2: k = 1, and every nested k_i = max(1, round(u_i * 1)) = 1 as well, so the nested
    # mask is the mask and the term adds alpha * CE once more: with no other gradient (no logit penalty, no
    # random masks, a constant size term), the SGD update of every weight is exactly twice that without it.
    x = tf.constant(np.random.default_rng(0).random((4, 1, 2, 1)).astype(np.float32))
    labels = tf.constant([0, 1, 1, 0])
    plain, _ = updates(toy_model(0.0), x, labels)
    nested, logs = updates(toy_model(0.3), x, labels)
    for a, b in zip(plain, nested):
        np.testing.assert_allclose(b, 2 * a, rtol=1e-5, atol=1e-7)
    assert logs["nested_classification_loss"] == pytest.approx(logs["classification_loss"], rel=1e-6)


def test_nested_budgets_draw_smaller_prefixes_and_train_on_them():
    # Budget 1/2 of 64 pixels (k = 32), F = 0.1: k_i = round(u_i * 32), u_i log-uniform on [0.1, 1], so the
    # nested masks hold 3..32 pixels, most below 32; over 64 draws the mean of u is (1 - 0.1) / ln 10 = 0.391.
    keras.utils.set_random_seed(0)
    model = HideAndSeek(build_hider("small", SHAPE, 1, logits=True), build_seeker("small", SHAPE, 3),
                        TopKNeuron(0.5), nested_budget=0.1, seed=0)
    model.compile(optimizer="adam")
    x = tf.constant(np.random.default_rng(0).random((64, *SHAPE)).astype(np.float32))
    h = model.hider(x)
    kept = np.round(model.term(NestedBudget).mask(model, x, h).numpy()).reshape(64, -1).sum(axis=1)
    assert kept.min() >= 3 and kept.max() <= 32
    assert 0.3 < kept.mean() / 32 < 0.5
    assert (np.round(model.term(NestedBudget).mask(model, x, h).numpy()) <= np.round(model.neuron(h).numpy())).all()
    logs = model.fit(x, tf.constant(np.arange(64) % 3), epochs=1, batch_size=16, verbose=0).history
    assert np.isfinite(logs["nested_classification_loss"][0]) and logs["nested_classification_loss"][0] > 0


def test_nested_budget_is_refused_for_thresholded_masks_and_out_of_range():
    from networks.binary import build_neuron
    hider, seeker = build_hider("small", SHAPE, 1, logits=True), build_seeker("small", SHAPE, 3)
    with pytest.raises(ValueError, match="top-k"):
        HideAndSeek(hider, seeker, build_neuron(False, "st1"), nested_budget=0.5)
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match="nested_budget"):
            HideAndSeek(hider, seeker, TopKNeuron(0.5), nested_budget=bad)


def test_nested_budget_round_trips_names_its_run_folder_and_old_configs_load():
    from utils.config import Config, fill_dataset_defaults
    from utils.stages.runs import hns_model_type

    model = HideAndSeek(build_hider("small", SHAPE, 1, logits=True), build_seeker("small", SHAPE, 3),
                        TopKNeuron(0.5), nested_budget=0.25)
    assert HideAndSeek.from_config(model.get_config()).nested_budget == 0.25
    old = {k: v for k, v in model.get_config().items() if k != "nested_budget"}
    assert HideAndSeek.from_config(old).nested_budget == 0.0
    base = fill_dataset_defaults(Config())
    cfg = dataclasses.replace(base, mask_mode="topk", nested_budget=0.25)
    assert hns_model_type(cfg) == "hns/topk/geometric+nested0.25"
