"""The budget mask (networks.budget), its schedules (utils.training.budget) and its checkpoints."""
import dataclasses

import numpy as np
import pytest
import tensorflow as tf
from conftest import die_after_epoch

from networks.budget import TopKNeuron, keep_count, top_k_count_mask, top_k_mask
from utils.config import Config, fill_dataset_defaults
from utils.config.arguments import hns_arguments
from utils.explainers import topk
from utils.runs import budget_decimals, checkpoint_budget, checkpoint_label, checkpoints
from utils.training.budget import GeometricBudget, PlateauBudget, budget_levels


def test_keep_count_rounds_the_budget_and_keeps_at_least_one():
    assert [int(keep_count(b, 100)) for b in (0.5, 0.031, 0.035, 0.001, 1.0)] == [50, 3, 4, 1, 100]


def test_top_k_keeps_exactly_k_per_image_and_breaks_ties_by_index():
    h = tf.constant([[1.0, 3.0, 3.0, 0.0, 3.0],      # a three-way tie for two places
                     [0.0, 0.0, 0.0, 0.0, 0.0],      # all tied
                     [5.0, -1.0, 2.0, 7.0, 2.0]])
    y, _ = top_k_mask(h, 0.4)  # k = 2 of 5
    assert y.numpy().tolist() == [[0, 1, 1, 0, 0], [1, 1, 0, 0, 0], [1, 0, 0, 1, 0]]
    rng = np.random.default_rng(0)
    many = tf.constant(rng.integers(0, 3, (16, 64)).astype(np.float32))  # heavy ties
    for budget in (0.03, 0.2, 0.5):
        y, _ = top_k_mask(many, budget)
        assert (y.numpy().sum(axis=1) == round(budget * 64)).all()
        assert (top_k_mask(many, budget)[0].numpy() == y.numpy()).all()  # deterministic


def test_straight_through_gradient_around_the_kth_value_by_hand():
    # h = (2, 0, -1), budget 1/3: k = 1, h_k = 2. With t = 1, dy_i/dh_i = s_i (1 - s_i),
    # s = sigmoid(h - 2) = (1/2, sigmoid(-2), sigmoid(-3)); the loss sum(w * y) with w = (1, 2, 3)
    # gives dL/dh = w * s (1 - s) = (0.25, 2 * 0.104994, 3 * 0.045177). With t = 2: s = sigmoid((h - 2) / 2)
    # = (1/2, sigmoid(-1), sigmoid(-1.5)), dL/dh = w * s (1 - s) / 2 = (0.125, 0.196612, 0.223720).
    h = tf.constant([[2.0, 0.0, -1.0]])
    w = tf.constant([[1.0, 2.0, 3.0]])
    for t, by_hand in ((1.0, [0.25, 0.209987, 0.135530]), (2.0, [0.125, 0.196612, 0.223720])):
        with tf.GradientTape() as tape:
            tape.watch(h)
            y, _ = top_k_mask(h, 1 / 3, temperature=t)
            loss = tf.reduce_sum(w * y)
        assert y.numpy().tolist() == [[1.0, 0.0, 0.0]]
        assert np.allclose(tape.gradient(loss, h).numpy()[0], by_hand, atol=1e-5)


def test_grid_mode_keeps_whole_cells_and_spreads_their_gradient():
    # 4x4 logits, a 2x2 grid (cells of 2x2 pixels), budget 1/4: the one cell with the highest mean.
    h = np.zeros((1, 4, 4, 1), np.float32)
    h[0, 2:, :2, 0] = [[1.0, 2.0], [3.0, 4.0]]   # mean 2.5
    h[0, :2, 2:, 0] = [[9.0, -9.0], [0.0, 0.0]]  # mean 0: one bright pixel is not a cell
    neuron = TopKNeuron(0.25, grid=2)
    x = tf.constant(h)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = neuron(x)
        loss = tf.reduce_sum(y)
    expected = np.zeros((4, 4))
    expected[2:, :2] = 1
    assert (y.numpy()[0, ..., 0] == expected).all()
    g = tape.gradient(loss, x).numpy()[0, ..., 0]
    # d sum(y) / d cell logit = 4 s (1 - s) for the 4 pixels of the cell; each pixel is 1/4 of its cell's mean.
    s_kept, s_other = 0.5, 1 / (1 + np.exp(2.5))  # cells at h_k and 2.5 below it
    assert np.allclose(g[2:, :2], s_kept * (1 - s_kept)) and np.allclose(g[:2, 2:], s_other * (1 - s_other))


def test_budget_levels_are_geometric_and_exact_in_the_names():
    levels = budget_levels(0.5, 0.03, 4, budget_decimals(0.03))
    assert levels[0] == 0.5 and levels[-1] == 0.03 and len(levels) == 5
    ratio = (0.03 / 0.5) ** 0.25
    assert np.allclose(levels, 0.5 * ratio ** np.arange(5), atol=5e-5)
    assert all(checkpoint_budget(f"budget_{b:.4f}.weights.h5") == b for b in levels)
    assert checkpoint_label("budget_0.0300.weights.h5") == "b0.0300"


class FakeModel:
    """What the schedules read and write: the neuron's budget, the step buffer, stop_training."""

    def __init__(self, values=(), steps_per_execution=1):
        self.values = iter(values)
        self.neuron = type("N", (), {})()
        self.neuron.budget = tf.Variable(1.0)
        self.stop_training = False
        self.step_buffer = tf.Variable(tf.zeros((steps_per_execution, 2)))
        self.step_count = tf.Variable(0, dtype=tf.int64)

    def step(self, cb):
        buffer = self.step_buffer.numpy()
        v = next(self.values)
        buffer[0] = [v, v]
        self.step_count.assign_add(1)
        self.step_buffer.assign(buffer)
        cb.on_train_batch_end(0)


def _saved(monkeypatch):
    import utils.training.budget as budget

    saved = []
    monkeypatch.setattr(budget, "save_weights", lambda model, path: saved.append(path))
    return saved


def test_geometric_schedule_steps_once_per_epoch_then_holds_and_resumes(monkeypatch):
    saved = _saved(monkeypatch)
    levels = [0.5, 0.25, 0.125]
    cb, fake = GeometricBudget(levels, checkpoint=lambda b: b, verbose=False), FakeModel()
    cb.set_model(fake)
    seen = []
    for epoch in range(3):
        cb.on_epoch_begin(epoch)
        seen.append(float(fake.neuron.budget.numpy()))
        cb.on_epoch_end(epoch)
    # a resumed process: a new callback, the state of the old one, the next epoch
    resumed, fake2 = GeometricBudget(levels, checkpoint=lambda b: b, verbose=False), FakeModel()
    resumed.set_state(cb.get_state())
    resumed.set_model(fake2)
    for epoch in (3, 4):
        resumed.on_epoch_begin(epoch)
        seen.append(float(fake2.neuron.budget.numpy()))
        resumed.on_epoch_end(epoch)
    assert seen == [0.5, 0.25, 0.125, 0.125, 0.125]
    assert saved == seen  # after each epoch, the checkpoint of the budget it trained at
    assert resumed.history == [(0, 0.5), (1, 0.25), (2, 0.125)]


def test_plateau_schedule_steps_down_the_ladder_on_plateaus_and_stops(monkeypatch):
    saved = _saved(monkeypatch)
    levels = [0.5, 0.25, 0.125]
    cb = PlateauBudget(levels, patience=10, min_delta=0.01, checkpoint=lambda b: b, verbose=False)
    fake = FakeModel(list(np.linspace(2, 1, 20)) + [1.0] * 100)
    cb.set_model(fake)
    cb.on_train_begin()
    assert float(fake.neuron.budget.numpy()) == 0.5
    for _ in range(20):  # improving: the budget stays
        fake.step(cb)
    assert float(fake.neuron.budget.numpy()) == 0.5 and not saved
    for _ in range(10):  # flat: a plateau
        fake.step(cb)
    assert float(fake.neuron.budget.numpy()) == 0.25 and saved == [0.5]
    state = cb.get_state()
    resumed = PlateauBudget(levels, patience=10, min_delta=0.01, checkpoint=lambda b: b, verbose=False)
    resumed.set_state(state)
    resumed.set_model(fake)
    resumed.on_train_begin()  # a resumed run keeps the budget it had
    assert float(fake.neuron.budget.numpy()) == 0.25
    for _ in range(20):
        fake.step(resumed)
    assert saved == [0.5, 0.25, 0.125] and fake.stop_training and resumed.finished
    assert [b for _, b in resumed.history] == [0.25, 0.125, 0.125]
    # linspace ends at exactly 1.0 on step 20: steps 20..29 are the first flat window of 10, then
    # each cleared window fills again in 10 steps
    assert [s for s, _ in resumed.history] == [29, 39, 49]


def _tiny_data(n=32, size=8, classes=3, seed=0):
    from utils.data.splits import Data, Split

    rng = np.random.default_rng(seed)

    def split(m):
        return Split(rng.integers(0, 256, (m, size, size, 1)).astype(np.uint8), rng.integers(0, classes, m).astype(np.int32))

    return Data(split(n), split(16), split(16), classes)


@pytest.mark.parametrize("mask_grid", [None, 2])
def test_a_tiny_topk_fit_writes_one_checkpoint_per_budget(tmp_path, monkeypatch, mask_grid):
    from networks.weights import load_weights
    from utils.evaluation.checkpoints import evaluate_run, recommend
    from utils.runs import Run
    from utils.stages.runs import run_paths
    from utils.stages.hns import train_hns

    monkeypatch.chdir(tmp_path)
    cfg = fill_dataset_defaults(Config(dataset="mnist", image_size=8, channels=1, num_classes=3, batch_size=8,
                                       max_epochs=4, mask_mode="topk", start_budget=0.5, final_budget=0.125,
                                       budget_epochs=2, mask_grid=mask_grid, quiet=True))
    paths = run_paths(cfg, "hns/topk/geometric")
    data = _tiny_data()
    result = train_hns(cfg, data, Run(None, paths, 0))
    names = sorted(p.name for p in paths.weights.glob("budget_*"))
    assert names == ["budget_0.1250.weights.h5", "budget_0.2500.weights.h5", "budget_0.5000.weights.h5"]
    assert [e["budget"] for e in result.history] == pytest.approx([0.5, 0.25, 0.125, 0.125])
    assert all(e["alpha"] == 1.0 for e in result.history)
    model = result.model
    # k = max(1, round(b n)) elements: 32, 16, 8 of 64 pixels, or 2, 1, 1 (round(0.5) = 0) of 4 cells of 16 pixels
    kept = (32, 16, 8) if mask_grid is None else (32, 16, 16)
    for path, k in zip(checkpoints(paths.weights), kept):
        load_weights(model, path)  # a checkpoint carries its budget
        assert float(model.neuron.budget.numpy()) == checkpoint_budget(path)
        y, _, _ = model.mask(tf.constant(data.test.x, tf.float32) / 255.0)
        assert (y.numpy().reshape(len(data.test), -1).sum(axis=1) == k).all()
    rows = evaluate_run(model, checkpoints(paths.weights), data, leakage_epochs=0, baseline=0.5, val_baseline=0.5,
                        log=lambda *a: None)
    assert [r["budget"] for r in rows] == [0.5, 0.25, 0.125, 0.125]  # the final weights too
    best, rule = recommend(rows, 0.0, True)
    assert rows[best]["budget"] == 0.125 and "smallest budget" in rule
    # where the splits know their evidence, every row says where the masks lie
    for split in (data.val, data.test):
        split.evidence = np.zeros((len(split), 8, 8), bool)
        split.evidence[:, :2, :2] = True
    rows = evaluate_run(model, checkpoints(paths.weights)[-1:], data, leakage_epochs=0, log=lambda *a: None)
    for figures in (rows[0]["test"], rows[0]["val"]):
        assert 0 <= figures["tpr"] <= 1 and figures["pointing"] in np.arange(17) / 16
        # the final mask keeps 8 of 64 pixels: at most 4 of them on the 4 evidence pixels
        assert figures["mask_fdr"] >= 0.5 and figures["mask_tpr"] <= 1


def test_threshold_mode_is_untouched_by_the_budget_flags():
    from networks.binary import DeterministicBinaryNeuron
    from networks.build import build_hns

    cfg = fill_dataset_defaults(Config(image_size=8, channels=1, num_classes=3, start_budget=0.2))
    model = build_hns((8, 8, 1), 3, **hns_arguments(cfg))
    assert isinstance(model.neuron, DeterministicBinaryNeuron)
    topk = build_hns((8, 8, 1), 3, **hns_arguments(dataclasses.replace(cfg, mask_mode="topk")))
    assert float(topk.neuron.budget.numpy()) == pytest.approx(0.2)
    # the same hider and seeker weights; only the neuron's budget is new
    assert len(topk.weights) == len(model.weights) + 1


def test_the_mask_size_term_is_the_constant_budget():
    # k = round(0.25 * 64) = 16 of 64 pixels: mask_size = 0.25 for every image, and no gradient reaches the
    # hider through it (a constraint, not a penalty), whatever alpha is.
    from networks.build import build_hns

    cfg = fill_dataset_defaults(Config(image_size=8, channels=1, num_classes=3, mask_mode="topk", start_budget=0.25))
    model = build_hns((8, 8, 1), 3, **hns_arguments(cfg))
    x = tf.constant(np.random.default_rng(0).random((4, 8, 8, 1)), tf.float32)
    labels = tf.constant([0, 1, 2, 0])
    with tf.GradientTape() as tape:
        out = model._forward(x, labels, training=True)
        size = tf.reduce_mean(out["mask_size"])
    assert np.allclose(out["mask_size"].numpy(), 0.25)
    grads = tape.gradient(size, model.hider.trainable_variables)
    assert all(g is None or not np.any(g.numpy()) for g in grads)


def test_recommendation_of_a_budget_run_is_the_smallest_budget_meeting_the_floor():
    from utils.evaluation.checkpoints import recommend

    def row(budget, val_acc, base=0.9, n=400):
        val = {"images": n, "accuracy": val_acc, "F": val_acc / base, "I_fg": 1 - budget,
               "FII_fg": val_acc / base * (1 - budget)}
        return {"checkpoint": f"budget_{budget:.4f}.weights.h5", "budget": budget, "val": val, "test": val}

    # F = 1.056, 1.0, 0.667: at a floor of 0.98 (one SE is about 0.016 at 0.90) budgets 0.5 and 0.05
    # qualify, 0.03 does not: the smallest qualifying budget is 0.05. At a floor of 1.2 none qualifies and
    # the rule falls back to the highest FII_fg: 0.528, 0.95, 0.647 -> 0.05 again.
    rows = [row(0.5, 0.95), row(0.05, 0.90), row(0.03, 0.60)]
    best, rule = recommend(rows, 0.98, True)
    assert best == 1 and "smallest budget" in rule
    best, rule = recommend(rows, 1.2, True)
    assert best == 1 and "no checkpoint reached" in rule


def test_a_killed_topk_run_with_every_patches_option_resumes_exactly(tmp_path, monkeypatch):
    # The patches preset's budget run (plateau schedule, live feature hider, nested budgets, masked-out
    # objective, blur in-fill, random-mask seeker) dies right after its second epoch's state reached the
    # disk; the resumed run must end exactly as the uninterrupted one, history and weights alike.
    from networks.weights import read_weights
    from utils.runs import Run
    from utils.stages.runs import run_paths
    from utils.seeding import seed_everything
    from utils.stages.hns import train_hns
    from utils.training.resume import ResumeState

    monkeypatch.chdir(tmp_path)
    cfg = fill_dataset_defaults(Config(dataset="mnist", image_size=8, channels=1, num_classes=3, batch_size=8,
                                       max_epochs=5, mask_mode="topk", start_budget=0.5, final_budget=0.125,
                                       budget_schedule="plateau", patience=3, hider_features="live",
                                       nested_budget=0.25, masked_out_weight=1.0, seeker_masked_out=True,
                                       mask_infill="blur", seeker_training="random-masks", seed=3, quiet=True))
    data = _tiny_data()

    def train(identifier, resuming=False):
        paths = run_paths(dataclasses.replace(cfg, identifier=identifier), "hns/topk/plateau")
        seed_everything(3)  # as train_series does before each run
        return paths, train_hns(cfg, data, Run(None, paths, 3), resuming)

    ref_paths, ref = train("ref")
    assert len(ref.alpha_history) >= 2  # the budget moved during the run, so its schedule state matters
    save = die_after_epoch(monkeypatch, 2)
    with pytest.raises(RuntimeError, match="killed"):
        train("killed")
    epochs = []

    def counted(self, epoch, logs=None):
        epochs.append(epoch)
        save(self, epoch, logs)

    monkeypatch.setattr(ResumeState, "on_epoch_end", counted)
    paths, resumed = train("killed", resuming=True)
    assert epochs == [2, 3, 4]  # it continued after epoch 2, and did not start again
    assert resumed.history == ref.history and resumed.alpha_history == ref.alpha_history
    names = sorted(p.name for p in paths.weights.glob("*.weights.h5"))
    assert names == sorted(p.name for p in ref_paths.weights.glob("*.weights.h5"))
    for name in names:
        a, b = read_weights(paths.weights / name), read_weights(ref_paths.weights / name)
        assert a.keys() == b.keys() and all(np.array_equal(x, y) for k in a for x, y in zip(a[k], b[k]))


def test_the_explainers_top_k_cut_is_the_budget_modes_rule():
    """utils.explainers.topk cuts score maps with networks.budget's rule: the same k of a budget and the same
    order, equal scores by position (the earlier first), as the hider's top-k mask."""
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 3, (6, 4, 4)).astype(np.float32)   # many ties
    k = np.array([1, 3, 5, 8, 13, 16])
    hard, _ = top_k_count_mask(tf.constant(scores.reshape(6, 16)), tf.constant(k))
    assert np.array_equal(topk.top_k_mask(scores, k), hard.numpy().reshape(6, 4, 4) > 0.5)
    assert topk.top_k_mask(np.zeros((1, 2, 3)), 2).ravel().tolist() == [True, True, False, False, False, False]
    for fraction, pixels in ((0.03, 784), (0.5, 3), (0.125, 40), (1e-6, 64), (1.0, 7)):
        assert topk.budget_pixels(fraction, pixels) == int(keep_count(fraction, pixels))
