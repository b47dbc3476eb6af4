"""Tests of utils/explainers/cem.py: the FISTA pieces by hand, the c search, a closed-form PN, batching."""
from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from utils.explainers.cem import ContrastiveExplainer, bracket_closed, project, shrink, stop_rule, update_c


@pytest.fixture(scope="module")
def cnn():
    """Tiny untrained softmax CNN on 8x8x1 images whose predictions differ between the images.

    Random biases: with zero biases a ReLU network has zero gradient at the empty image, where every
    PP search starts (delta = 0).
    """
    keras.utils.set_random_seed(1)
    init = keras.initializers.RandomNormal(stddev=0.3)
    return keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu", kernel_initializer=init,
                            bias_initializer=init),
        keras.layers.Flatten(),
        keras.layers.Dense(3, activation="softmax", kernel_initializer=init),
    ])


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).uniform(0.0, 1.0, (4, 8, 8, 1)).astype(np.float32)


def linear_logits(weights):
    model = keras.Sequential([keras.Input((weights.shape[0],)), keras.layers.Dense(weights.shape[1])])
    model.layers[0].set_weights([weights, np.zeros(weights.shape[1], np.float32)])
    return model


def is_valid(scores, target, mode, kappa):
    """The PN/PP condition recomputed in numpy from the model's scores."""
    shifted = scores.copy()
    rows = np.arange(len(target))
    shifted[rows, target] += kappa if mode == "PN" else -kappa
    return shifted.argmax(1) != target if mode == "PN" else shifted.argmax(1) == target


def test_shrink_matches_hand_computed_values():
    x = np.array([0.5, 0.5, 0.5, 0.5, 0.5, 0.0], np.float32)
    z = np.array([0.75, 0.5625, 0.25, 0.4375, 1.5, -0.5], np.float32)
    # z - x = 0.25, 0.0625, -0.25, -0.0625, 1.0, -0.5 with beta = 0.125: move 0.125 toward x,
    # snap to x inside [-0.125, 0.125], then clip to [0, 1].
    expected = [0.625, 0.5, 0.375, 0.5, 1.0, 0.0]
    np.testing.assert_allclose(shrink(z, x, 0.125, 0.0, 1.0).numpy(), expected)


def test_project_matches_hand_computed_values():
    v = np.float32(0.5)
    x = np.array([0.25, 0.25, 0.75, 0.75, 0.5, 0.25], np.float32)
    new = np.array([0.125, 0.375, 0.875, 0.625, 0.5, 0.75], np.float32)
    # |x - v| = .25 .25 .25 .25 0 .25 and |new - v| = .375 .125 .375 .125 0 .25: strictly farther
    # from v only in coordinates 0 and 2; the last one is equally far (counts as "toward" for PP).
    np.testing.assert_allclose(project(new, x, v, "PN").numpy(), [0.125, 0.25, 0.875, 0.75, 0.5, 0.25])
    np.testing.assert_allclose(project(new, x, v, "PP").numpy(), [0.25, 0.375, 0.75, 0.625, 0.5, 0.75])


def test_update_c_follows_the_bisection_on_a_scripted_sequence():
    c, lb, ub = np.array([10.0, 10.0]), np.zeros(2), np.full(2, 1e10)
    script = [([False, True], [100.0, 5.0]),    # no upper bound yet: x10; found: (0 + 10) / 2
              ([False, False], [1000.0, 7.5]),  # x10; lb = 5, ub = 10: (5 + 10) / 2
              ([True, True], [550.0, 6.25]),    # ub = 1000, lb = 100: 550; ub = 7.5, lb = 5
              ([False, False], [775.0, 6.875])]  # lb = 550, ub = 1000; lb = 6.25, ub = 7.5
    for found, expected in script:
        c, lb, ub = update_c(c, lb, ub, found)
        np.testing.assert_allclose(c, expected)
    np.testing.assert_allclose(lb, [550.0, 6.25])
    np.testing.assert_allclose(ub, [1000.0, 7.5])


def test_iterates_follow_the_fista_updates_of_a_numpy_reference():
    # One c step on 2-class linear logits, where grad_y smooth = c * 1[a . y + kappa > 0] * a - 2 (x - y)
    # with a = W[:, t] - W[:, other]; save_every=1 exposes every iterate adv_k for the comparison.
    weights = np.array([[1.0, -1.0], [-2.0, 1.0], [0.5, 0.0], [1.0, 0.0]], np.float32)
    a = (weights[:, 0] - weights[:, 1]).astype(np.float64)
    x = np.array([0.5, 0.4, 0.5, 0.5])
    c, kappa, beta, lr0, iterations, clip = 2.0, 0.1, 0.02, 0.05, 12, (-1.5, 1.5)
    explainer = ContrastiveExplainer(linear_logits(weights), mode="PN", kappa=kappa, beta=beta, c_init=c,
                                     c_steps=1, max_iterations=iterations, learning_rate_init=lr0, clip=clip,
                                     no_info_val=0.0, save_every=1)
    saved = explainer.explain(x[None].astype(np.float32)).extras["savepoints"]

    def away_from_zero(new):  # PN projection with v = 0: keep a change only if |new| > |x|
        return np.where(np.abs(new) > np.abs(x), new, x)

    adv = y = x
    for k, (index, iterate) in enumerate(saved):
        grad = np.clip(c * (a @ y + kappa > 0) * a - 2 * (x - y), *clip)
        z = y - lr0 * np.sqrt(1 - k / iterations) * grad
        new = away_from_zero(np.clip(x + np.sign(z - x) * np.maximum(np.abs(z - x) - beta, 0), 0, 1))
        adv, y = new, away_from_zero(new + (k + 1) / (k + 4) * (new - adv))
        assert index == k + 1
        np.testing.assert_allclose(iterate[0], adv, atol=1e-5)
    assert len(saved) == iterations and not np.allclose(adv, x)


@pytest.mark.parametrize("mode", ["PN", "PP"])
def test_iterates_match_a_stored_alibi_trajectory(mode):
    # tests/fixtures/make_alibi_cem_fixture.py ran alibi 0.9.6 single-threaded on this linear model and
    # stored its iterate adv after each of the first c step's iterations (for PP alibi's adv is x - PP).
    fixture = json.loads((Path(__file__).parent / "fixtures" / "alibi_cem_linear.json").read_text())
    s, x = fixture["settings"], np.asarray([fixture["x"]], np.float32)
    theirs = np.asarray(fixture["modes"][mode])
    explainer = ContrastiveExplainer(linear_logits(np.asarray(fixture["weights"], np.float32)), mode=mode,
                                     kappa=s["kappa"], beta=s["beta"], c_init=s["c_init"], c_steps=1,
                                     max_iterations=s["max_iterations"], learning_rate_init=s["learning_rate_init"],
                                     clip=tuple(s["clip"]), feature_range=tuple(s["feature_range"]),
                                     no_info_val=s["no_info_val"], save_every=1)
    mine = np.stack([it[0] for _, it in explainer.explain(x).extras["savepoints"]])
    mine = mine if mode == "PN" else x[0] - mine
    assert len(np.unique(theirs.round(4), axis=0)) > 5, "the stored trajectory must move"
    np.testing.assert_allclose(mine, theirs, atol=2e-6)


def test_stop_rule_on_a_scripted_sequence():
    # Instance 0 improves at iterations 0, 1 and 3, then stalls; instance 1 is never valid, so never stops.
    inf = np.inf
    dists = [[5.0, 9.0], [4.0, 9.0], [4.5, 9.0], [3.0, 9.0], [3.0, 9.0], [3.5, 9.0], [2.0, 9.0]]
    valid = [[True, False], [True, False], [True, False], [True, False], [True, False], [True, False],
             [True, False]]
    expected = [  # step_best, since, active after each iteration, patience 2
        ([5.0, inf], [0, 0], [True, True]),
        ([4.0, inf], [0, 0], [True, True]),    # instance 1: nothing valid yet, the clock has not started
        ([4.0, inf], [1, 0], [True, True]),    # 4.5 is no improvement
        ([3.0, inf], [0, 0], [True, True]),
        ([3.0, inf], [1, 0], [True, True]),    # equal is no improvement
        ([3.0, inf], [2, 0], [False, True]),   # stalled for 2: stops
        ([3.0, inf], [3, 0], [False, True]),   # a stopped instance does not come back, even for 2.0
    ]
    best, since, active = np.full(2, inf), np.zeros(2, int), np.ones(2, bool)
    for dist, ok, (e_best, e_since, e_active) in zip(dists, valid, expected):
        best, since, active = stop_rule(best, since, active, np.array(ok), np.array(dist), 2)
        np.testing.assert_array_equal(best, e_best)
        np.testing.assert_array_equal(since, e_since)
        np.testing.assert_array_equal(active, e_active)


def test_bracket_closed_needs_a_found_solution_and_a_narrow_bracket():
    lower = np.array([0.0, 9.0, 9.5, 5.0])
    upper = np.array([1e10, 10.0, 10.0, 10.0])
    np.testing.assert_array_equal(bracket_closed(lower, upper, 0.1), [False, True, True, False])


@pytest.mark.parametrize("mode", ["PN", "PP"])
def test_patience_that_never_triggers_gives_the_full_search_exactly(cnn, images, mode):
    kwargs = dict(mode=mode, c_init=1.0, c_steps=3, max_iterations=40, beta=0.05)
    full = ContrastiveExplainer(cnn, **kwargs).explain(images)
    never = ContrastiveExplainer(cnn, patience=41, **kwargs).explain(images)
    assert full.extras["found"].any()
    np.testing.assert_array_equal(never.extras[mode], full.extras[mode])
    np.testing.assert_array_equal(never.extras["found"], full.extras["found"])
    np.testing.assert_array_equal(never.extras["c"], full.extras["c"])
    np.testing.assert_array_equal(never.extras["iterations"], full.extras["iterations"])


@pytest.mark.parametrize("mode", ["PN", "PP"])
def test_early_stopped_answers_are_valid_and_scored_like_the_full_ones(cnn, images, mode):
    kwargs = dict(mode=mode, c_init=1.0, c_steps=4, max_iterations=60, beta=0.05)
    full = ContrastiveExplainer(cnn, **kwargs).explain(images)
    early = ContrastiveExplainer(cnn, patience=5, c_tolerance=0.3, **kwargs).explain(images)
    early, full = early.extras, full.extras
    assert early["found"].any()
    result = early[mode][early["found"]]
    scores = cnn(result).numpy()
    np.testing.assert_array_equal(is_valid(scores, early["X_pred"][early["found"]], mode, 0.0), True)
    delta = (images - early["PN"] if mode == "PN" else early["PP"]).reshape(len(images), -1)
    np.testing.assert_allclose(early["l1"], np.where(early["found"], np.abs(delta).sum(1), early["l1"]), rtol=1e-6)
    np.testing.assert_array_equal(full["iterations"], 4 * 60)
    assert np.all(early["iterations"] <= full["iterations"]) and early["iterations"].sum() < full["iterations"].sum(), \
        "patience 5 must stop something"


def test_the_answer_is_the_valid_iterate_of_smallest_elastic_net_distance(cnn, images):
    beta, kappa = 0.05, 0.0
    explainer = ContrastiveExplainer(cnn, mode="PN", kappa=kappa, beta=beta, c_init=100.0, c_steps=1,
                                     max_iterations=30, save_every=1)
    exp = explainer.explain(images)
    iterates = np.stack([s for _, s in exp.extras["savepoints"]])  # (iterations, n, 8, 8, 1)
    delta = (images - iterates).reshape(len(iterates), len(images), -1)
    dist = np.square(delta).sum(-1) + beta * np.abs(delta).sum(-1)
    valid = np.stack([is_valid(cnn(it).numpy(), exp.extras["X_pred"], "PN", kappa) for it in iterates])
    assert valid.any(0).sum() >= 2 and not valid.all(), "the test needs found instances and invalid iterates"
    np.testing.assert_array_equal(exp.extras["found"], valid.any(0))
    for i in np.flatnonzero(exp.extras["found"]):
        best = np.argmin(np.where(valid[:, i], dist[:, i], np.inf))
        np.testing.assert_array_equal(exp.extras["PN"][i], iterates[best, i])


@pytest.mark.parametrize("no_info", ["x", "zero"])
def test_pn_of_a_linear_model_is_the_closed_form_projection(no_info):
    # Logits f(z) = W^T z, t = 0, margin m(z) = a . z with a = W[:, 0] - W[:, 1]. With beta = gamma = 0
    # the best valid iterate minimises ||delta||^2 (delta = x - adv) subject to the PN condition
    # m(adv) < -kappa, i.e. a . delta > m(x) + kappa. The minimum over delta in a subspace S is
    # delta* = (m(x) + kappa) a_S / ||a_S||^2 (projection of x onto the hyperplane m = -kappa).
    # * no_info = x: every change moves away from v = x, so nothing is projected out: S = all features.
    # * no_info = 0: x > 0, so a PN may only raise features (delta_j <= 0); a . delta grows only through
    #   the features with a_j < 0, hence S = {j : a_j < 0} = {1}.
    # Both optima lie inside the feature range [0, 1].
    weights = np.array([[1.0, -1.0], [-2.0, 1.0], [0.5, 0.0], [1.0, 0.0]], np.float32)
    a = weights[:, 0] - weights[:, 1]
    x = np.array([[0.5, 0.4, 0.5, 0.5]], np.float32)
    kappa = 0.01
    a_s = a if no_info == "x" else np.where(a < 0, a, 0.0)
    expected = x[0] - (a @ x[0] + kappa) * a_s / (a_s @ a_s)
    explainer = ContrastiveExplainer(linear_logits(weights), mode="PN", kappa=kappa, beta=0.0, c_init=1.0,
                                     c_steps=8, max_iterations=100,
                                     no_info_val=x[0] if no_info == "x" else 0.0)
    exp = explainer.explain(x)
    assert exp.extras["found"][0] and exp.extras["X_pred"][0] == 0 and exp.extras["PN_pred"][0] == 1
    np.testing.assert_allclose(exp.extras["PN"][0], expected, atol=1e-3)


def test_instances_without_solution_keep_the_original_and_are_flagged():
    weights = np.array([[1.0, -1.0], [-2.0, 1.0]], np.float32)
    x = np.array([[0.5, 0.25], [0.75, 0.25]], np.float32)
    # c = 1e-3 and 5 small steps cannot cross the decision boundary (margins 1.25 and 2.0).
    exp = ContrastiveExplainer(linear_logits(weights), mode="PN", c_init=1e-3, c_steps=1,
                               max_iterations=5).explain(x)
    assert not exp.extras["found"].any()
    np.testing.assert_array_equal(exp.extras["PN"], x)
    np.testing.assert_array_equal(exp.extras["PN_pred"], [-1, -1])
    np.testing.assert_array_equal(exp.extras["X_pred"], [0, 0])
    np.testing.assert_array_equal(exp.extras["l0"], [0, 0])
    np.testing.assert_allclose(exp.extras["c"], [1e-3, 1e-3])


@pytest.mark.parametrize("mode", ["PN", "PP"])
def test_batch_gives_the_one_at_a_time_results(cnn, images, mode):
    explainer = ContrastiveExplainer(cnn, mode=mode, kappa=0.05, c_init=1.0, c_steps=3, max_iterations=30)
    batch = explainer.explain(images)
    for i in range(len(images)):
        one = explainer.explain(images[i:i + 1])
        assert one.extras["found"][0] == batch.extras["found"][i]
        np.testing.assert_allclose(one.extras[mode][0], batch.extras[mode][i], atol=1e-5)
        assert one.extras["c"][0] == batch.extras["c"][i]
        assert one.extras[f"{mode}_pred"][0] == batch.extras[f"{mode}_pred"][i]


@pytest.mark.parametrize("mode", ["PN", "PP"])
def test_found_agrees_with_the_model_on_the_returned_arrays(cnn, images, mode):
    kappa = 0.05
    explainer = ContrastiveExplainer(cnn, mode=mode, kappa=kappa, beta=0.05, c_init=1.0, c_steps=4,
                                     max_iterations=40, no_info_val=0.0)
    exp = explainer.explain(images)
    assert (exp.method, exp.kept, exp.extras["mode"]) == (f"cem-{mode.lower()}", None, mode)
    np.testing.assert_array_equal(exp.targets, exp.extras["X_pred"])
    exp = exp.extras
    result = exp[mode]
    assert ("PP" if mode == "PN" else "PN") not in exp
    assert result.shape == images.shape and np.all(np.isfinite(result))
    assert exp["found"].any(), "the search should succeed on some instances"
    scores = cnn(result).numpy()
    np.testing.assert_array_equal(exp["found"], is_valid(scores, exp["X_pred"], mode, kappa) & exp["found"])
    np.testing.assert_array_equal(exp[f"{mode}_pred"], np.where(exp["found"], scores.argmax(1), -1))
    np.testing.assert_array_equal(result[~exp["found"]], images[~exp["found"]])
    delta = images - result if mode == "PN" else np.where(exp["found"][:, None, None, None], result, 0.0)
    np.testing.assert_allclose(exp["l1"], np.abs(delta).reshape(len(images), -1).sum(1), rtol=1e-5)
    np.testing.assert_allclose(exp["l2"], np.sqrt(np.square(delta).reshape(len(images), -1).sum(1)), rtol=1e-5)
    np.testing.assert_array_equal(exp["l0"], np.count_nonzero(delta.reshape(len(images), -1), axis=1))
    # PN only adds (moves away from 0), PP's delta is a part of x.
    if mode == "PN":
        assert np.all(result >= images)
    else:
        assert np.all((result[exp["found"]] >= 0) & (result[exp["found"]] <= images[exp["found"]]))


def test_colour_images_and_flat_inputs_run():
    keras.utils.set_random_seed(2)
    colour = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Conv2D(4, 4, strides=4),
                               keras.layers.Flatten(), keras.layers.Dense(4)])
    flat = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3)])
    rng = np.random.default_rng(1)
    for model, x in ((colour, rng.uniform(0, 1, (2, 32, 32, 3))), (flat, rng.uniform(0, 1, (3, 5)))):
        exp = ContrastiveExplainer(model, mode="PN", beta=0.01, c_init=10.0, c_steps=3,
                                   max_iterations=40).explain(x)
        assert exp.extras["PN"].shape == x.shape and exp.extras["found"].shape == (len(x),)
        assert exp.extras["found"].any()
        scores = model(exp.extras["PN"]).numpy()
        np.testing.assert_array_equal(exp.extras["found"], is_valid(scores, exp.extras["X_pred"], "PN", 0.0))


def test_autoencoder_term_changes_the_result_and_is_required_for_gamma():
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3)])
    autoencoder = keras.Sequential([keras.Input((6,)), keras.layers.Dense(2, activation="relu"),
                                    keras.layers.Dense(6, activation="sigmoid")])
    x = np.random.default_rng(2).uniform(0.2, 0.8, (3, 6)).astype(np.float32)
    kwargs = dict(mode="PN", c_init=10.0, c_steps=2, max_iterations=50)
    plain = ContrastiveExplainer(model, **kwargs).explain(x)
    with_ae = ContrastiveExplainer(model, gamma=10.0, autoencoder=autoencoder, **kwargs).explain(x)
    assert with_ae.settings["autoencoder"] and with_ae.settings["gamma"] == 10.0
    assert not np.allclose(plain.extras["PN"], with_ae.extras["PN"], atol=1e-3)
    with pytest.raises(ValueError, match="autoencoder"):
        ContrastiveExplainer(model, gamma=1.0)
    too_short = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5)])
    with pytest.raises(ValueError, match="input's shape"):
        ContrastiveExplainer(model, gamma=1.0, autoencoder=too_short).explain(x)


def test_a_hider_autoencoder_serves_for_the_gamma_term(cnn, images):
    from networks.hider import hider_small

    keras.utils.set_random_seed(4)
    hider = hider_small((8, 8, 1), 1)
    kwargs = dict(mode="PN", beta=0.0, c_init=10.0, c_steps=1, max_iterations=10)
    plain = ContrastiveExplainer(cnn, **kwargs).explain(images)
    with_hider = ContrastiveExplainer(cnn, gamma=100.0, autoencoder=hider, **kwargs).explain(images)
    assert np.all(np.isfinite(with_hider.extras["PN"]))
    assert not np.allclose(plain.extras["PN"], with_hider.extras["PN"], atol=1e-4)


def test_savepoints_and_a_single_trace_for_all_batch_sizes(cnn, images):
    explainer = ContrastiveExplainer(cnn, mode="PN", beta=0.0, c_steps=2, max_iterations=10, save_every=4)
    exp = explainer.explain(images)
    # Every 4 iterations of each 10-iteration c step, counted over both steps.
    assert [i for i, _ in exp.extras["savepoints"]] == [4, 8, 14, 18]
    assert all(s.shape == images.shape for _, s in exp.extras["savepoints"])
    assert not np.array_equal(exp.extras["savepoints"][0][1], images)
    explainer.explain(images[:1])
    (c_step,) = explainer._compiled.values()
    assert c_step.experimental_get_tracing_count() == 1
    assert ContrastiveExplainer(cnn, c_steps=1, max_iterations=5).explain(images).extras["savepoints"] == []


def test_fit_sets_the_no_information_value_per_feature(cnn):
    data = np.stack([np.full((8, 8, 1), v, np.float32) for v in (0.0, 0.25, 1.0)])
    explainer = ContrastiveExplainer(cnn)
    np.testing.assert_allclose(explainer.fit(data, "median").no_info_val, np.full((8, 8, 1), 0.25))
    np.testing.assert_allclose(explainer.fit(data, "mean").no_info_val, np.full((8, 8, 1), 1.25 / 3))
    assert explainer.explain(data[1:2]).settings["no_info_type"] == "mean"


@pytest.mark.parametrize("kwargs, x, match", [
    (dict(mode="XX"), None, "mode"),
    (dict(kappa=-1.0), None, "kappa"),
    (dict(c_steps=0), None, "c_steps"),
    (dict(clip=(1.0, -1.0)), None, "clip"),
    (dict(save_every=11, max_iterations=10), None, "save_every"),
    (dict(save_every=1, max_iterations=10, patience=5), None, "save_every needs the full search"),
    (dict(patience=0), None, "patience"),
    (dict(c_tolerance=1.0), None, "c_tolerance"),
    ({}, np.zeros((8, 8, 1)), "batch"),
    ({}, np.full((1, 8, 8, 1), 2.0), "feature_range"),
    ({}, np.full((1, 8, 8, 1), np.nan), "NaN"),
    (dict(no_info_val=np.zeros(3)), np.zeros((1, 8, 8, 1)), "no_info_val"),
    ({}, np.zeros((1, 5, 5, 1)), "cannot take"),
])
def test_bad_arguments_raise_clear_errors(cnn, kwargs, x, match):
    with pytest.raises(ValueError, match=match):
        ContrastiveExplainer(cnn, **kwargs).explain(x)
