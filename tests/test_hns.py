import numpy as np
import pytest
import tensorflow as tf

from networks.binary import StochasticBinaryNeuron, build_neuron
from networks.hider import build_hider
from networks.hns import HideAndSeek
from networks.objective import LogitBound
from networks.seeker import build_seeker
from networks.build import build_hns
from utils.config.arguments import hns_arguments
from networks.weights import load_weights, save_weights
from utils.config import Config, fill_dataset_defaults
from utils.runs import RunPaths, alpha_decimals
from utils.training.schedules import AdaptiveAlpha, SlopeAnnealing

SHAPE = (8, 8, 1)


def tiny_model(stochastic=False, estimator="st1", alpha=0.5, steps_per_execution=1, **kw):
    import keras

    model = HideAndSeek(build_hider("small", SHAPE, 1, logits=True), build_seeker("small", SHAPE, 3),
                        build_neuron(stochastic, estimator, seed=0), alpha=alpha, **kw)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), steps_per_execution=steps_per_execution)
    return model


def tiny_data(n=24, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, *SHAPE)).astype(np.float32)
    y = rng.integers(0, 3, n).astype(np.int32)
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(8), x, y


def test_loss_is_alpha_ce_plus_mask_size():
    model = tiny_model(alpha=0.3)
    _, x, y = tiny_data()
    out = model._forward(tf.constant(x), tf.constant(y), training=False)
    mask = out["y"].numpy()
    assert set(np.unique(mask)) <= {0.0, 1.0}
    logits = model.seeker(x * mask).numpy()
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    ce = -logp[np.arange(len(y)), y]
    expected = 0.3 * ce.mean() + 0.7 * mask.mean()
    assert np.isclose(out["total"].numpy(), expected, rtol=1e-5)


@pytest.mark.parametrize("stochastic, estimator", [(False, "st1"), (True, "st1"), (True, "st2"), (True, "sa"),
                                                   (True, "reinforce")])
def test_train_step_moves_the_hider_for_every_estimator(stochastic, estimator):
    model = tiny_model(stochastic, estimator)
    ds, _, _ = tiny_data()
    before = [w.numpy().copy() for w in model.hider.trainable_weights]
    history = model.fit(ds, epochs=2, verbose=0)
    after = model.hider.trainable_weights
    assert any(not np.allclose(b, a.numpy()) for b, a in zip(before, after))
    for key in ("loss", "classification_loss", "mask_loss", "accuracy", "hidden", "hidden_fg", "alpha"):
        assert key in history.history and np.isfinite(history.history[key][-1])


def test_saturated_logits_still_get_gradient():
    # All logits at +12: the sigmoid path gives the hider ~nothing, the logit path does.
    def hider_grad_norm(stochastic, estimator):
        model = tiny_model(stochastic, estimator, alpha=0.2, logit_penalty=0.0)
        model.hider.get_layer("hider_logits").bias.assign([12.0])
        _, x, y = tiny_data()
        with tf.GradientTape() as tape:
            total = model._forward(tf.constant(x), tf.constant(y), training=True)["total"]
        grads = tape.gradient(total, model.hider.trainable_weights)
        return float(tf.linalg.global_norm([g for g in grads if g is not None]))

    assert hider_grad_norm(False, "st1") > 1000 * hider_grad_norm(True, "st2")


def test_logit_penalty_only_beyond_the_bound():
    model = tiny_model(logit_bound=2.0, logit_penalty=1.0)
    assert float(model.term(LogitBound).penalty(tf.constant([1.9, -2.0, 0.0]))) == 0.0
    assert np.isclose(float(model.term(LogitBound).penalty(tf.constant([3.0, -4.0]))), (1 + 4) / 2)


def test_eval_masks_are_deterministic_for_stochastic_neurons():
    model = tiny_model(stochastic=True, estimator="st1")
    _, x, _ = tiny_data()
    a, p, _ = model.mask(tf.constant(x), training=False)
    b, _, _ = model.mask(tf.constant(x), training=False)
    assert np.array_equal(a.numpy(), b.numpy())
    assert np.array_equal(a.numpy(), (p.numpy() > 0.5).astype(np.float32))


def test_slope_changes_once_per_epoch_and_never_in_evaluation():
    model = tiny_model(stochastic=True, estimator="sa")
    ds, x, y = tiny_data()
    model.fit(ds, validation_data=ds, epochs=3, verbose=0, callbacks=[SlopeAnnealing(model.neuron, 0.5)])
    assert np.isclose(float(model.neuron.slope.numpy()), 1.5 ** 3)
    model.evaluate(ds, verbose=0)
    model.predict(x, verbose=0)
    assert np.isclose(float(model.neuron.slope.numpy()), 1.5 ** 3)


class ScriptedLoss:
    """Feeds AdaptiveAlpha a scripted sequence of per-step losses."""

    def __init__(self, values, steps_per_execution=1):
        self.values = iter(values)
        self.alpha = tf.Variable(1.0)
        self.stop_training = False
        self.step_buffer = tf.Variable(tf.zeros((steps_per_execution, 2)))
        self.step_count = tf.Variable(0, dtype=tf.int64)
        self.saved = []

    def step(self, cb, steps=1):
        """`steps` training steps in one compiled call, then the callback once."""
        buffer = self.step_buffer.numpy()
        for _ in range(steps):
            v = next(self.values)
            buffer[int(self.step_count.numpy()) % len(buffer)] = [v, v]
            self.step_count.assign_add(1)
        self.step_buffer.assign(buffer)
        cb.on_train_batch_end(0)


def _schedule(tmp_path, monkeypatch, step, min_alpha, patience=10):
    import utils.training.schedules as schedules

    saved = []
    monkeypatch.setattr(schedules, "save_weights", lambda model, path: saved.append(path.name))
    paths = RunPaths(tmp_path / "logs", tmp_path / "weights", tmp_path / "results")
    decimals = alpha_decimals(step)
    cb = AdaptiveAlpha(patience=patience, min_delta=0.01, step=step, min_alpha=min_alpha,
                       checkpoint=lambda a: paths.checkpoint(a, decimals), verbose=False)
    return cb, saved


def test_adaptive_alpha_drops_on_plateaus_and_stops(tmp_path, monkeypatch):
    cb, saved = _schedule(tmp_path, monkeypatch, step=0.25, min_alpha=0.5)
    fake = ScriptedLoss(list(np.linspace(2, 1, 20)) + [1.0] * 100)
    cb.set_model(fake)
    cb.on_train_begin()
    for _ in range(20):  # steadily improving: alpha stays
        fake.step(cb)
    assert float(fake.alpha.numpy()) == 1.0 and not saved
    for _ in range(10):  # flat: plateau
        fake.step(cb)
    assert np.isclose(float(fake.alpha.numpy()), 0.75) and saved == ["alpha_1.00.weights.h5"]
    for _ in range(20):
        fake.step(cb)
    assert saved == ["alpha_1.00.weights.h5", "alpha_0.75.weights.h5", "alpha_0.50.weights.h5"]
    assert fake.stop_training and np.isclose(float(fake.alpha.numpy()), 0.5)


def test_adaptive_alpha_sees_every_step_of_multi_step_calls(tmp_path, monkeypatch):
    # The same losses, read after every step or after calls of 4 steps: the same plateaus at the same
    # global steps, the same checkpoints (a call's later steps ran with the old alpha; here they are scripted).
    values = list(np.linspace(2, 1, 20)) + [1.0] * 60 + list(np.linspace(1, 0.5, 20)) + [0.5] * 60
    runs = []
    for k in (1, 4):
        cb, saved = _schedule(tmp_path / str(k), monkeypatch, step=0.25, min_alpha=0.25)
        fake = ScriptedLoss(values, steps_per_execution=k)
        cb.set_model(fake)
        cb.on_train_begin()
        for _ in range(len(values) // k):
            if fake.stop_training:
                break
            fake.step(cb, k)
        runs.append((cb.history, saved, float(fake.alpha.numpy())))
    assert runs[0] == runs[1] and len(runs[0][0]) >= 3


def test_step_buffer_of_a_model_compiled_with_several_steps_per_call():
    model = tiny_model(steps_per_execution=4)
    ds, x, y = tiny_data(n=64)
    cb = AdaptiveAlpha(patience=3, min_delta=0.0, step=0.1, min_alpha=0.05, verbose=False)
    model.fit(ds, epochs=2, verbose=0, callbacks=[cb])
    steps = 2 * len(list(ds))
    assert int(model.step_count.numpy()) == steps == cb.global_step
    assert np.isfinite(model.step_buffer.numpy()).all() and model.step_buffer.shape == (4, 2)


@pytest.mark.parametrize("steps_per_execution", [1, 2])
def test_tensorboard_steps_are_optimizer_steps_across_a_resume(tmp_path, steps_per_execution):
    # 32 images in batches of 8: 4 optimizer steps per epoch. Epoch 1 in one fit, epoch 2 in a second
    # fit with a new callback (a resumed process): the batch scalars sit at the 1-based number of
    # each call's first optimizer step, by hand 1, 2, ..., 8 (one step per call) or 1, 3, 5, 7 (two).
    from utils.training.callbacks import TensorBoard

    model = tiny_model(steps_per_execution=steps_per_execution)
    ds, _, _ = tiny_data(n=32)
    model.fit(ds, epochs=1, verbose=0, callbacks=[TensorBoard(tmp_path)])
    model.fit(ds, epochs=2, initial_epoch=1, verbose=0, callbacks=[TensorBoard(tmp_path)])
    records = [(e.step, v) for path in tmp_path.rglob("events.out.tfevents*")
               for e in tf.compat.v1.train.summary_iterator(str(path))
               for v in e.summary.value if v.tag == "batch_loss"]
    assert sorted(step for step, _ in records) == list(range(1, 9, steps_per_execution))
    # each the record tf.summary.scalar writes: a float32 scalar the scalars plugin reads
    for _, v in records:
        value = tf.make_ndarray(v.tensor)
        assert v.metadata.plugin_data.plugin_name == "scalars" and value.dtype == np.float32 and value.shape == ()
        assert np.isfinite(value) and value > 0   # a cross-entropy


@pytest.mark.parametrize("step", [0.005, 0.0025, 0.1, 0.05, 0.333333])
def test_every_alpha_of_a_schedule_gets_its_own_checkpoint(tmp_path, monkeypatch, step):
    # A flat loss: a plateau every `patience` steps, until min_alpha.
    cb, saved = _schedule(tmp_path, monkeypatch, step=step, min_alpha=0.9, patience=2)
    fake = ScriptedLoss([1.0] * 400)
    cb.set_model(fake)
    cb.on_train_begin()
    while not fake.stop_training:
        fake.step(cb)
    assert len(saved) == len(set(saved)) == int(np.floor(0.1 / step + 1e-9)) + 1
    from utils.runs import checkpoint_alpha

    alphas = [checkpoint_alpha(name) for name in saved]
    assert np.allclose(alphas, 1.0 - step * np.arange(len(saved)))  # the name holds the exact alpha


def test_build_hns_transfers_pretrained_weights_by_name(tmp_path):
    cfg = fill_dataset_defaults(Config(image_size=28))
    ae = build_hider("small", (28, 28, 1), 1)
    seeker = build_seeker("small", (28, 28, 1), 10)
    save_weights(ae, tmp_path / "h.weights.h5")
    save_weights(seeker, tmp_path / "s.weights.h5")
    import dataclasses

    cfg = dataclasses.replace(cfg, hider_weights=str(tmp_path / "h.weights.h5"),
                              seeker_weights=str(tmp_path / "s.weights.h5"))
    model = build_hns((28, 28, 1), 10, **hns_arguments(cfg))
    for name in ("hider_conv1", "hider_logits"):
        assert np.array_equal(model.hider.get_layer(name).kernel.numpy(), ae.get_layer(name).kernel.numpy())
    assert np.array_equal(model.seeker.get_layer("seeker_logits").kernel.numpy(),
                          seeker.get_layer("seeker_logits").kernel.numpy())


def test_config_round_trip_rebuilds_the_same_model():

    model = tiny_model(stochastic=True, estimator="sa", alpha=0.3, logit_bound=2.0, baseline=0.9)
    clone = HideAndSeek.from_config(model.get_config())
    assert (clone.neuron.estimator, float(clone.alpha.numpy()), clone.logit_bound, clone.baseline) == \
        ("sa", pytest.approx(0.3), 2.0, 0.9)
    assert [w.shape for w in clone.hider.weights] == [w.shape for w in model.hider.weights]
    assert [w.shape for w in clone.seeker.weights] == [w.shape for w in model.seeker.weights]


def test_a_config_saved_with_steps_per_execution_still_loads():
    config = {**tiny_model().get_config(), "steps_per_execution": 4}
    clone = HideAndSeek.from_config(config)
    clone.compile(optimizer="adam", steps_per_execution=2)
    clone.build((None, *SHAPE))
    assert clone.step_buffer.shape == (2, 2)


def test_a_config_saved_with_the_old_name_of_the_keep_rate_still_loads():
    config = tiny_model(seeker_training="random-masks", min_keep_rate=0.3).get_config()
    config["random_mask_rate"] = config.pop("min_keep_rate")
    assert HideAndSeek.from_config(config).min_keep_rate == pytest.approx(0.3)


@pytest.mark.parametrize("channels, logits, problem", [(1, False, "sigmoid activation"), (2, True, "2 channels")])
def test_a_hider_that_does_not_end_in_one_channel_of_logits_is_refused(channels, logits, problem):
    with pytest.raises(ValueError, match=problem):
        HideAndSeek(build_hider("small", SHAPE, channels, logits=logits), build_seeker("small", SHAPE, 3),
                    build_neuron(False))


def test_steps_per_execution_comes_from_compile_and_cannot_change_after_build():
    model = tiny_model(steps_per_execution=7)
    model.compile(optimizer="adam", steps_per_execution=3)   # before building: the buffer follows
    model.build((None, *SHAPE))
    assert model.step_buffer.shape == (3, 2)
    with pytest.raises(ValueError, match="compile it before building"):
        model.compile(optimizer="adam", steps_per_execution=5)
    model.compile(optimizer="adam", steps_per_execution=3)


def test_the_neuron_supplies_the_reinforce_surrogate():
    det, st1, rf = build_neuron(False), build_neuron(True, "st1"), build_neuron(True, "reinforce")
    assert det.pathwise and st1.pathwise and not rf.pathwise
    with pytest.raises(ValueError, match="pathwise"):
        st1.surrogate(tf.zeros(2), tf.zeros((2, 3)), tf.zeros((2, 3)))


@pytest.mark.parametrize("estimator", ["deterministic", "reinforce"])
def test_mixed_precision_computes_in_bfloat16_but_masks_and_losses_stay_float32(tmp_path, estimator):
    import dataclasses

    import keras

    from utils.training.precision import precision_policy

    cfg = fill_dataset_defaults(Config(image_size=28, mixed_precision=True, stochastic=estimator != "deterministic",
                                       estimator="st1" if estimator == "deterministic" else estimator))
    with precision_policy(True):
        model = build_hns((28, 28, 1), 10, **hns_arguments(cfg))
    assert keras.config.dtype_policy().name == "float32"  # restored on leaving
    assert model.hider.get_layer("hider_conv1").compute_dtype == "bfloat16"
    assert model.seeker.get_layer("seeker_conv1").compute_dtype == "bfloat16"
    assert all(v.dtype == "float32" for v in model.trainable_weights)
    x = tf.random.stateless_uniform((8, 28, 28, 1), seed=(1, 2))
    y, p, h = model.mask(x)
    assert (y.dtype, p.dtype, h.dtype, model(x).dtype) == (tf.float32,) * 4
    logs = model.train_on_batch(x, np.arange(8) % 10, return_dict=True)
    assert all(np.isfinite(v) for v in logs.values())
    # Weights trained in mixed precision load into a float32 model and give nearly the same logits.
    save_weights(model, tmp_path / "m.weights.h5")
    full = build_hns((28, 28, 1), 10, **hns_arguments(dataclasses.replace(cfg, mixed_precision=False)))
    load_weights(full, tmp_path / "m.weights.h5")
    assert full.hider.get_layer("hider_conv1").compute_dtype == "float32"
    np.testing.assert_allclose(full.hider(x).numpy(), h.numpy(), atol=0.1)


def test_total_variation_of_a_hand_made_mask():
    from networks.objective import total_variation

    y = np.zeros((1, 3, 3, 1), np.float32)
    y[0, 1, 1, 0] = 1.0   # one isolated kept pixel: 2 vertical + 2 horizontal edges out of 6 each
    assert np.isclose(float(total_variation(tf.constant(y))), 2 / 6 + 2 / 6)
    block = np.zeros((1, 4, 4, 1), np.float32)
    block[0, :2] = 1.0     # a half-image block: 4 of 12 vertical differences, no horizontal ones
    assert np.isclose(float(total_variation(tf.constant(block))), 4 / 12)


def test_frozen_seeker_never_moves_and_the_hider_does():
    model = tiny_model(seeker_training="frozen")
    ds, _, _ = tiny_data()
    seeker = [w.numpy().copy() for w in model.seeker.weights]
    hider = [w.numpy().copy() for w in model.hider.trainable_weights]
    model.fit(ds, epochs=2, verbose=0)
    assert all(np.array_equal(b, a.numpy()) for b, a in zip(seeker, model.seeker.weights))
    assert any(not np.allclose(b, a.numpy()) for b, a in zip(hider, model.hider.trainable_weights))
    assert not any(v is w for v in model.trainable_variables for w in model.seeker.weights)


def test_random_masks_add_the_evalx_loss_to_the_seekers_update():
    """With SGD the seeker's update is -lr * gradient: random-masks minus joint must be
    -lr * d/dseeker [alpha * mean CE(seeker(x * r))] for the r the model's seed draws."""
    import keras

    from networks.evalx import random_keep

    _, x, y = tiny_data(n=8)
    updates = {}
    for training in ("joint", "random-masks"):
        keras.utils.set_random_seed(0)
        model = HideAndSeek(build_hider("small", SHAPE, 1, logits=True), build_seeker("small", SHAPE, 3),
                            build_neuron(False, "st1", seed=0), alpha=0.4, seeker_training=training,
                            min_keep_rate=0.2, seed=7)
        model.compile(optimizer=keras.optimizers.SGD(0.1))
        before = [w.numpy().copy() for w in model.seeker.trainable_weights]
        model.train_on_batch(x, y)
        updates[training] = [a.numpy() - b for a, b in zip(model.seeker.trainable_weights, before)]
    keras.utils.set_random_seed(0)
    build_hider("small", SHAPE, 1, logits=True)   # the same draws as above, so the same initial seeker
    seeker = build_seeker("small", SHAPE, 3)
    r = random_keep(tf.constant(x), keras.random.SeedGenerator(7, name="random_masks"), 0.2)
    with tf.GradientTape() as tape:
        ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, seeker(x * r, training=True))
        loss = 0.4 * ce
    grads = tape.gradient(loss, seeker.trainable_weights)
    for joint, extra, g in zip(updates["joint"], updates["random-masks"], grads):
        assert np.allclose(extra - joint, -0.1 * g.numpy(), atol=1e-6)
    assert any(np.abs(g.numpy()).max() > 1e-4 for g in grads)


def test_mask_smoothness_changes_the_hiders_update_only():
    import keras

    _, x, y = tiny_data(n=8)
    moved = {}
    for mu in (0.0, 5.0):
        keras.utils.set_random_seed(0)
        model = HideAndSeek(build_hider("small", SHAPE, 1, logits=True), build_seeker("small", SHAPE, 3),
                            build_neuron(False, "st1", seed=0), alpha=0.4, mask_smoothness=mu)
        model.compile(optimizer=keras.optimizers.SGD(0.1))
        h0 = [w.numpy().copy() for w in model.hider.trainable_weights]
        s0 = [w.numpy().copy() for w in model.seeker.trainable_weights]
        logs = model.train_on_batch(x, y, return_dict=True)
        moved[mu] = ([a.numpy() - b for a, b in zip(model.hider.trainable_weights, h0)],
                     [a.numpy() - b for a, b in zip(model.seeker.trainable_weights, s0)], logs["loss"])
    assert any(not np.allclose(a, b) for a, b in zip(moved[0.0][0], moved[5.0][0]))
    assert all(np.allclose(a, b) for a, b in zip(moved[0.0][1], moved[5.0][1]))
    assert np.isclose(moved[0.0][2], moved[5.0][2])   # not part of the reported total


def test_hns_model_type_names_each_variant():
    from utils.stages.runs import hider_model_type, hns_model_type

    base = fill_dataset_defaults(Config())
    assert hns_model_type(base) == "hns/deterministic" and hider_model_type(base) == "hider"
    import dataclasses

    cfg = dataclasses.replace(base, hider_decoder="resize", mask_grid=7, seeker_training="frozen",
                              mask_smoothness=0.05)
    assert hns_model_type(cfg) == "hns/deterministic+resize+grid7+frozen+tv0.05"
    assert hider_model_type(cfg) == "hider-resize"
    sa = dataclasses.replace(base, stochastic=True, estimator="sa", seeker_training="random-masks")
    assert hns_model_type(sa) == "hns/stochastic/sa/rate_0.5+random-masks"
    # values that agree to 6 digits still get their own folders; short names stay short
    near = [dataclasses.replace(sa, rate=r) for r in (0.1234567, 0.1234568, 1.0)]
    assert [hns_model_type(c).split("/")[-1] for c in near] == [
        "rate_0.1234567+random-masks", "rate_0.1234568+random-masks", "rate_1+random-masks"]
    assert hns_model_type(dataclasses.replace(cfg, mask_smoothness=1e-7)).endswith("+tv1e-07")


@pytest.mark.parametrize("step, min_alpha", [(0.25, 0.5), (0.05, 0.05), (0.3, 0.05)])
def test_a_flat_loss_lasts_alpha_levels_times_patience_steps(tmp_path, monkeypatch, step, min_alpha):
    # A flat loss is a plateau as soon as the window is full: the shortest run the schedule allows.
    from utils.training.schedules import alpha_levels

    cb, saved = _schedule(tmp_path, monkeypatch, step=step, min_alpha=min_alpha, patience=5)
    fake = ScriptedLoss([1.0] * 1000)
    cb.set_model(fake)
    cb.on_train_begin()
    while not fake.stop_training:
        fake.step(cb)
    levels = alpha_levels(step, min_alpha)
    assert len(saved) == levels and cb.global_step == 5 * levels
    assert levels == {(0.25, 0.5): 3, (0.05, 0.05): 20, (0.3, 0.05): 4}[(step, min_alpha)]  # 1, .7, .4, .1


def test_run_length_names_what_bounds_the_run():
    from types import SimpleNamespace

    from utils.stages.hns import run_length

    cfg = SimpleNamespace(alpha=None, alpha_step=0.25, min_alpha=0.5, patience=150, max_epochs=10)
    text = run_length(cfg, steps=57)   # 3 alphas x 150 steps = 450 steps = 7.9 epochs of 57
    assert "3 alphas" in text and "at least 450 steps (8 epochs of 57 steps)" in text and "Warning" not in text
    assert "raise --max_epochs to at least 8" in run_length(SimpleNamespace(**{**vars(cfg), "max_epochs": 7}), 57)
    assert "--max_epochs 5 epochs" in run_length(SimpleNamespace(**{**vars(cfg), "alpha": 0.5, "max_epochs": 5}), 57)
