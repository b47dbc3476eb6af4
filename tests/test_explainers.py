"""Post-hoc explainers: in-fillers, concrete samples, FIDO/BBMP objectives, gradients, occlusion, top-k."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from utils.explainers.base import per_image_uniform
from utils.explainers.edges import EdgeExplainer
from utils.explainers.gradients import GradientExplainer, OcclusionExplainer
from utils.explainers.infillers import (Autoencoder, Blur, LocalMean, Mean, Noise, Zero, build_infiller, default_sigma,
                                        default_window, infill)
from utils.explainers.masks import MaskExplainer, concrete, default_reg_coef
from utils.explainers.topk import budget_pixels, top_k_mask


def linear_model(weights, bias):
    """logits = W . flatten(x) + b, for images of weights.shape[:-1]."""
    shape, classes = weights.shape[:-1], weights.shape[-1]
    inputs = keras.Input(shape)
    dense = keras.layers.Dense(classes)
    model = keras.Model(inputs, dense(keras.layers.Flatten()(inputs)))
    dense.set_weights([weights.reshape(-1, classes).astype(np.float32), np.asarray(bias, np.float32)])
    return model


# --- in-fillers ----------------------------------------------------------------------------------

def test_zero_and_mean_fill_exactly():
    x = np.random.default_rng(0).random((3, 4, 4, 3)).astype(np.float32)
    z = (np.random.default_rng(1).random((3, 4, 4, 1)) > 0.5).astype(np.float32)
    assert np.array_equal(infill(x, z, Zero()).numpy(), x * z)
    mean = Mean.fit(x)
    assert np.allclose(mean.mean, x.mean(axis=(0, 1, 2)))
    expected = x * z + (1 - z) * x.mean(axis=(0, 1, 2))
    assert np.allclose(infill(x, z, mean).numpy(), expected, atol=1e-7)


def test_local_mean_of_a_known_pattern():
    # 5 x 5 image of values 0..24, observed where z = 1; 3 x 3 window
    x = np.arange(25, dtype=np.float32).reshape(1, 5, 5, 1)
    z = np.zeros((1, 5, 5, 1), np.float32)
    z[0, 1, 1] = z[0, 1, 3] = z[0, 3, 2] = 1.0                     # observed: 6, 8, 17
    fill = LocalMean(3, mean=-1.0)(tf.constant(x), tf.constant(z)).numpy()[0, ..., 0]
    assert fill[2, 2] == pytest.approx((6 + 8 + 17) / 3)           # all three in its window
    assert fill[0, 0] == pytest.approx(6.0)                         # only (1, 1)
    assert fill[2, 1] == pytest.approx((6 + 17) / 2)                # (1, 1) and (3, 2)
    assert fill[0, 4] == pytest.approx(8.0)
    assert fill[4, 2] == pytest.approx(17.0)                        # only (3, 2)
    assert fill[4, 4] == -1.0 and fill[4, 0] == -1.0                # none observed: the fallback mean


def test_local_mean_falls_back_to_the_mean_where_nothing_is_observed():
    x = np.ones((1, 7, 7, 1), np.float32)
    z = np.zeros((1, 7, 7, 1), np.float32)
    z[0, 0, 0] = 1.0
    fill = LocalMean(3, mean=0.25)(tf.constant(x), tf.constant(z)).numpy()[0, ..., 0]
    assert fill[1, 1] == 1.0 and fill[6, 6] == 0.25


def test_blur_leaves_a_constant_image_unchanged_borders_included():
    x = np.full((2, 9, 9, 3), 0.37, np.float32)
    out = Blur(default_sigma(28))(tf.constant(x), tf.ones((2, 9, 9, 1))).numpy()
    assert np.allclose(out, 0.37, atol=1e-6)
    # and it does blur: an impulse spreads over its neighbours
    impulse = np.zeros((1, 9, 9, 1), np.float32)
    impulse[0, 4, 4] = 1.0
    spread = Blur(1.0)(tf.constant(impulse), tf.ones((1, 9, 9, 1))).numpy()[0, ..., 0]
    g = np.exp(-0.5 * np.arange(-3, 4) ** 2)
    g /= g.sum()                                                    # the 1-D taps at sigma 1 (radius 3)
    assert spread[4, 4] == pytest.approx(g[3] ** 2, rel=1e-5) and spread[4, 5] == pytest.approx(g[3] * g[4], rel=1e-5)


def test_autoencoder_infiller_changes_only_dropped_pixels():
    ae = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid")])
    x = np.random.default_rng(0).random((2, 6, 6, 1)).astype(np.float32)
    z = (np.random.default_rng(1).random((2, 6, 6, 1)) > 0.5).astype(np.float32)
    out = infill(tf.constant(x), tf.constant(z), Autoencoder(ae)).numpy()
    kept = z.astype(bool)
    assert np.array_equal(out[kept], x[kept])
    assert np.allclose(out[~kept], ae(x * z).numpy()[~kept])


def test_noise_infiller_is_per_image_and_seeded():
    x = np.zeros((3, 5, 5, 3), np.float32)
    z = np.zeros((3, 5, 5, 1), np.float32)
    a = Noise()(tf.constant(x), tf.constant(z), tf.constant([4, 5, 6])).numpy()
    b = Noise()(tf.constant(x[1:2]), tf.constant(z[1:2]), tf.constant([5])).numpy()
    assert np.array_equal(a[1], b[0]) and not np.array_equal(a[0], a[1])
    assert a.min() >= 0 and a.max() <= 1
    # its colour (std 0: the fill is the colour) is not the concrete sampler's draw for the same seed
    # and iteration, whose first values a shared stream would repeat
    colour = Noise(std=0.0)(tf.constant(x), tf.constant(z), tf.constant([4, 5, 6]), 0).numpy()[:, :1, :1, :]
    sampler = per_image_uniform(tf.constant([4, 5, 6]), 0, (1, 1, 3)).numpy()
    assert np.abs(colour - sampler).min() > 1e-4


def test_scaled_fido_settings():
    assert default_window(224) == 15 and default_window(28) == 3 and default_window(64) == 5
    assert default_sigma(224) == 10.0 and default_sigma(28) == pytest.approx(1.25)
    assert default_reg_coef(True) == 1e-3 and default_reg_coef(False) == 5e-3   # FIDO's own, per pixel
    with pytest.raises(ValueError, match="autoencoder"):
        build_infiller("autoencoder", 28)


# --- the concrete sampler ------------------------------------------------------------------------

def test_concrete_samples_have_the_probability_and_become_binary():
    rng = np.random.default_rng(0)
    p = np.array([0.1, 0.3, 0.5, 0.8], np.float32)
    u = rng.random((40000, 4)).astype(np.float32)
    z = concrete(tf.constant(np.broadcast_to(p, u.shape)), tf.constant(u), 0.1).numpy()
    # P(z > 1/2) = p exactly; 40000 draws: standard error <= 0.0025
    assert np.allclose((z > 0.5).mean(axis=0), p, atol=0.01)
    assert np.allclose(z.mean(axis=0), p, atol=0.02)
    undecided = lambda t: np.mean((lambda s: (s > 0.05) & (s < 0.95))(  # noqa: E731
        concrete(tf.constant(np.broadcast_to(p, u.shape)), tf.constant(u), t).numpy()))
    shares = [undecided(t) for t in (1.0, 0.1, 0.01, 1e-4)]
    assert shares == sorted(shares, reverse=True) and shares[0] > 0.5 and shares[-1] < 0.002


# --- FIDO / BBMP -----------------------------------------------------------------------------------

def _toy_loss_by_hand(x, w, b, pi, target, reg, objective):
    logits = (x * pi).reshape(-1) @ w.reshape(-1, 2) + b
    log_p = logits[target] - np.log(np.exp(logits).sum())
    if objective == "ssr":
        return -log_p + reg * pi.sum()
    return log_p + reg * (1 - pi).sum()


@pytest.mark.parametrize("objective", ["ssr", "sdr"])
def test_ssr_and_sdr_losses_on_a_linear_softmax_model_by_hand(objective):
    rng = np.random.default_rng(3)
    w, b = rng.normal(size=(2, 2, 1, 2)).astype(np.float32), np.array([0.2, -0.1], np.float32)
    model = linear_model(w, b)
    x = rng.random((1, 2, 2, 1)).astype(np.float32)
    theta = np.array([1.0, -0.5, 0.3, 2.0], np.float32).reshape(1, 2, 2, 1)
    explainer = MaskExplainer(model, objective, stochastic=False, grid=2, reg_coef=0.7, reg_ramp=10)
    loss = explainer.objective_terms(tf.constant(x), tf.constant([1]), tf.constant(theta), tf.constant([0]),
                                     tf.constant(10), 0.7)[0].numpy()
    pi = 1 / (1 + np.exp(-theta))
    assert loss[0] == pytest.approx(_toy_loss_by_hand(x[0], w, b, pi[0], 1, 0.7, objective), rel=1e-5)
    # the penalty ramps: at iteration 5 of a 10-iteration ramp it weighs half
    half = explainer.objective_terms(tf.constant(x), tf.constant([1]), tf.constant(theta), tf.constant([0]),
                                     tf.constant(5), 0.7)[0].numpy()
    assert half[0] == pytest.approx(_toy_loss_by_hand(x[0], w, b, pi[0], 1, 0.35, objective), rel=1e-5)


UP = np.array([[1.0, 0.0], [0.75, 0.25], [0.25, 0.75], [0.0, 1.0]])  # bilinear 2 -> 4, half-pixel centres


def _softmax_log_p(logits, target):
    return logits[target] - np.log(np.exp(logits).sum())


@pytest.mark.parametrize("objective", ["ssr", "sdr"])
@pytest.mark.parametrize("outputs", ["logits", "probabilities"])
def test_fido_loss_with_samples_upsampling_and_an_infiller_by_hand(objective, outputs):
    # FIDO's own path: a 2 x 2 grid upsampled to 4 x 4 pixels, two concrete samples at temperature
    # 0.5 averaged, the mean in-filler, no ramp; the model gives logits or softmax probabilities.
    rng = np.random.default_rng(4)
    w, b = rng.normal(size=(4, 4, 1, 2)).astype(np.float32), np.array([0.3, -0.2], np.float32)
    model = linear_model(w, b)
    if outputs == "probabilities":
        model = keras.Sequential([model, keras.layers.Softmax()])
    x = rng.random((1, 4, 4, 1)).astype(np.float32)
    theta = np.array([[0.8, -1.2], [0.1, 1.5]], np.float32)
    explainer = MaskExplainer(model, objective, stochastic=True, grid=2, temperature=0.5, num_samples=2,
                              infiller=Mean(0.3), reg_coef=0.2, reg_ramp=0, outputs=outputs)
    loss = explainer.objective_terms(tf.constant(x), tf.constant([0]), tf.constant(theta.reshape(1, 2, 2, 1)),
                                     tf.constant([5]), tf.constant(3), 0.2)[0].numpy()[0]
    pi = UP @ (1 / (1 + np.exp(-theta))) @ UP.T                         # keep probabilities, 4 x 4
    log_p = 0.0
    for s in range(2):                                                 # iteration 3: noise draws 3 * 2 + s
        u = per_image_uniform(tf.constant([5]), 3 * 2 + s, (4, 4, 1)).numpy()[0, ..., 0]
        z = 1 / (1 + np.exp(-(np.log(pi / (1 - pi)) + np.log(u / (1 - u))) / 0.5))
        filled = x[0, ..., 0] * z + (1 - z) * 0.3
        log_p += _softmax_log_p(filled.reshape(-1) @ w.reshape(-1, 2) + b, 0) / 2
    by_hand = -log_p + 0.2 * pi.sum() if objective == "ssr" else log_p + 0.2 * (1 - pi).sum()
    assert loss == pytest.approx(by_hand, rel=1e-4)


def test_two_adam_steps_with_a_decaying_rate_and_a_ramp_by_hand():
    # BBMP, one cell per pixel, zero fill: loss_k = -log p_t(x * pi) + reg * min(1, k / ramp) * sum(pi),
    # pi = sigmoid(theta), theta_0 = 0. Gradient by hand, Adam (0.9, 0.999, 1e-8) with the rate
    # 0.05 * (1 - k / 2) at iterations k = 0, 1.
    rng = np.random.default_rng(6)
    w, b = rng.normal(size=(2, 2, 1, 3)).astype(np.float32), np.array([0.1, 0.0, -0.1], np.float32)
    x = rng.random((1, 2, 2, 1)).astype(np.float32)
    result = MaskExplainer(linear_model(w, b), "ssr", stochastic=False, grid=2, infiller=Zero(), reg_coef=0.4,
                           reg_ramp=4, learning_rate=0.05, epochs=2).explain(x, targets=[2])
    wf, xf = w.reshape(-1, 3), x.reshape(-1)
    theta, m, v = np.zeros(4), np.zeros(4), np.zeros(4)
    for k in range(2):
        pi = 1 / (1 + np.exp(-theta))
        p = np.exp(logits := (xf * pi) @ wf + b) / np.exp(logits).sum()
        d_pi = -(wf[:, 2] - wf @ p) * xf + 0.4 * min(1.0, k / 4)       # d loss / d pi
        g = d_pi * pi * (1 - pi)
        m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g ** 2
        step = 0.05 * (1 - k / 2) * (m / (1 - 0.9 ** (k + 1))) / (np.sqrt(v / (1 - 0.999 ** (k + 1))) + 1e-8)
        theta = theta - step
    assert np.allclose(result.scores[0].reshape(-1), 1 / (1 + np.exp(-theta)), atol=1e-6)


def block_model():
    """16 x 16 images, 2 classes; class 1 needs (nearly) all of the 4 x 4 block at rows/cols 4..7."""
    w = np.zeros((16, 16, 1, 2), np.float32)
    w[4:8, 4:8, 0, 1] = 40.0 / 16
    return linear_model(w, [0.0, -36.0])


def block_images(n=3, seed=0):
    x = np.random.default_rng(seed).uniform(0.2, 1.0, (n, 16, 16, 1)).astype(np.float32)
    x[:, 4:8, 4:8] = 1.0
    return x


@pytest.mark.parametrize("stochastic", [True, False])
@pytest.mark.parametrize("grid, halo", [(16, 0), (8, 2)])
def test_fido_and_bbmp_ssr_recover_the_evidence_block(stochastic, grid, halo):
    # One cell per pixel: the block itself. Cells of 2 x 2 pixels, upsampled bilinearly: the block
    # and at most `halo` pixels around it (interpolation reaches into the neighbouring cells).
    model, x = block_model(), block_images()
    assert np.all(np.argmax(model(x), -1) == 1)
    explainer = MaskExplainer(model, "ssr", stochastic=stochastic, grid=grid, reg_coef=0.05, epochs=300)
    result = explainer.explain(x)
    block = np.zeros((16, 16), bool)
    block[4:8, 4:8] = True
    around = np.zeros((16, 16), bool)
    around[4 - halo:8 + halo, 4 - halo:8 + halo] = True
    for region in result.scores > 0.5:
        assert (region & block).sum() >= 15 and not (region & ~around).any()
    # ranked first: the block (on the coarse grid its 4 corners may trail pixels beside its edges)
    assert np.all(top_k_mask(result.scores, 16)[:, 4:8, 4:8].sum(axis=(1, 2)) >= (14 if halo == 0 else 12))
    kept = x * (result.scores > 0.5)[..., None]                        # zero-filled elsewhere
    assert np.all(np.argmax(model(kept), -1) == 1)                     # the region is sufficient


def test_batched_masks_equal_one_at_a_time_for_the_same_seeds():
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
                              keras.layers.Flatten(), keras.layers.Dense(3)])
    x = np.random.default_rng(0).random((3, 8, 8, 1)).astype(np.float32)
    explainer = MaskExplainer(model, "ssr", stochastic=True, grid=4, num_samples=2, epochs=30, infiller=Noise())
    batch = explainer.explain(x, seeds=[7, 8, 9])
    for i in range(3):
        alone = explainer.explain(x[i:i + 1], targets=batch.targets[i:i + 1], seeds=[7 + i])
        assert np.allclose(alone.scores[0], batch.scores[i], atol=1e-4)
        assert np.allclose(alone.extras["loss"][0], batch.extras["loss"][i], atol=1e-4)
    smooth = GradientExplainer(model, "smoothgrad", samples=5)
    batch = smooth.explain(x, seeds=[1, 2, 3])
    assert np.allclose(smooth.explain(x[2:], seeds=[3]).scores[0], batch.scores[2], atol=1e-5)


@pytest.mark.parametrize("kwargs, match", [
    (dict(temperature=0.0), "temperature must be"), (dict(learning_rate=-1.0), "learning_rate must be"),
    (dict(reg_coef=-0.1), "reg_coef must be"), (dict(objective="xxr"), "objective must be"),
    (dict(epochs=-1), "epochs must be"), (dict(num_samples=0), "num_samples must be"),
    (dict(objective="topk"), "deterministic"),
])
def test_bad_mask_settings_are_clear(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MaskExplainer(block_model(), **kwargs)


def test_a_grid_must_divide_the_image():
    with pytest.raises(ValueError, match="does not divide"):
        MaskExplainer(block_model(), grid=5, epochs=1).explain(block_images(1))


# --- gradients and occlusion -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def linear():
    rng = np.random.default_rng(5)
    w, b = rng.normal(size=(4, 4, 2, 3)).astype(np.float32), np.array([0.1, 0.2, -0.3], np.float32)
    x = rng.random((2, 4, 4, 2)).astype(np.float32)
    return linear_model(w, b), w, b, x


def test_gradients_equal_their_closed_forms_on_a_linear_model(linear):
    model, w, b, x = linear
    targets = np.array([2, 0])
    wt = np.stack([w[..., t] for t in targets])                      # d logit_t / d x = W_t
    g = GradientExplainer(model, "gradient").explain(x, targets)
    assert np.allclose(g.extras["attributions"], wt, atol=1e-6)
    assert np.allclose(g.scores, np.abs(wt).max(axis=-1), atol=1e-6)
    gi = GradientExplainer(model, "gradient-input").explain(x, targets)
    assert np.allclose(gi.extras["attributions"], x * wt, atol=1e-6)
    sg = GradientExplainer(model, "smoothgrad", samples=4, noise=0.5).explain(x, targets)
    assert np.allclose(sg.extras["attributions"], wt, atol=1e-5)      # the noise does not move a linear gradient


def test_integrated_gradients_is_complete(linear):
    model, w, b, x = linear
    targets = np.array([1, 2])
    ig = GradientExplainer(model, "integrated-gradients", steps=7, baseline=0.3).explain(x, targets)
    a = ig.extras["attributions"]
    wt = np.stack([w[..., t] for t in targets])
    assert np.allclose(a, (x - 0.3) * wt, atol=1e-6)                 # closed form
    logits = model(x).numpy()[np.arange(2), targets]
    at_baseline = model(np.full_like(x, 0.3)).numpy()[np.arange(2), targets]
    assert np.allclose(a.sum(axis=(1, 2, 3)), logits - at_baseline, atol=1e-5)   # completeness
    assert np.allclose(ig.scores, a.sum(axis=-1), atol=1e-6)


def test_integrated_gradients_with_an_array_baseline_by_hand():
    # s_0(x) = x_1^2 + x_2^2 on 1 x 2 images: the gradient 2 (b + alpha (x - b)) is linear in alpha, so the
    # midpoint rule is exact and a_i = (x_i - b_i)(x_i + b_i) = x_i^2 - b_i^2. With x = (1, 2) and the
    # baseline (0.5, -1): a = (0.75, 3), which sums to s_0(x) - s_0(b) = 5 - 1.25 = 3.75.
    inputs = keras.Input((1, 2, 1))
    dense = keras.layers.Dense(2)
    model = keras.Model(inputs, dense(keras.layers.Flatten()(keras.ops.square(inputs))))
    dense.set_weights([np.array([[1.0, 0.0], [1.0, 0.0]], np.float32), np.zeros(2, np.float32)])
    x = np.array([1.0, 2.0], np.float32).reshape(1, 1, 2, 1)
    baseline = np.array([0.5, -1.0], np.float32).reshape(1, 2, 1)   # one image's shape, broadcast over the batch
    ig = GradientExplainer(model, "integrated-gradients", steps=3, baseline=baseline).explain(x, [0])
    a = ig.extras["attributions"]
    np.testing.assert_allclose(a.reshape(-1), [0.75, 3.0], rtol=1e-6)
    assert a.sum() == pytest.approx(3.75)
    assert ig.settings["baseline"] == [[[0.5], [-1.0]]]
    with pytest.raises(ValueError, match="does not broadcast"):
        GradientExplainer(model, "integrated-gradients", baseline=np.zeros(3)).explain(x, [0])


def test_integrated_gradients_completeness_converges_on_a_nonlinear_model():
    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Conv2D(4, 3, activation="tanh"),
                              keras.layers.Flatten(), keras.layers.Dense(2)])
    x = np.random.default_rng(1).random((2, 6, 6, 1)).astype(np.float32)
    gap = model(x).numpy()[:, 0] - model(np.zeros_like(x)).numpy()[:, 0]
    errors = [np.abs(GradientExplainer(model, "integrated-gradients", steps=s).explain(x, [0, 0])
                     .extras["attributions"].sum(axis=(1, 2, 3)) - gap).max() for s in (2, 64)]
    assert errors[1] < errors[0] and errors[1] < 1e-3


def test_occlusion_of_single_pixels_on_a_linear_model(linear):
    model, w, b, x = linear
    targets = np.array([0, 1])
    occ = OcclusionExplainer(model, patch=1, stride=1, value=0.0).explain(x, targets)
    wt = np.stack([w[..., t] for t in targets])
    assert np.allclose(occ.scores, (x * wt).sum(axis=-1), atol=1e-5)  # dropping pixel j removes x_j . W_t,j
    wide = OcclusionExplainer(model, patch=2, stride=2).explain(x, targets)
    blocks = (x * wt).sum(axis=-1).reshape(2, 2, 2, 2, 2).sum(axis=(2, 4))
    assert np.allclose(wide.scores, np.repeat(np.repeat(blocks, 2, axis=1), 2, axis=2), atol=1e-5)
    # stride 2 does not reach the edge with patch 3 on 4 pixels: patches at rows/columns 0 and 1
    # (the edge), so every pixel is covered. Pixel (0, 0) is in one patch, (1, 1) in all four.
    edge = OcclusionExplainer(model, patch=3, stride=2).explain(x, targets)
    v = (x * wt).sum(axis=-1)
    patch = {(r, c): v[:, r:r + 3, c:c + 3].sum(axis=(1, 2)) for r in (0, 1) for c in (0, 1)}
    assert np.allclose(edge.scores[:, 0, 0], patch[0, 0], atol=1e-5)
    assert np.allclose(edge.scores[:, 3, 3], patch[1, 1], atol=1e-5)
    assert np.allclose(edge.scores[:, 1, 1], sum(patch.values()) / 4, atol=1e-5)
    with pytest.raises(ValueError, match="at most patch"):   # a stride beyond the patch skips pixels
        OcclusionExplainer(model, patch=1, stride=2)


# --- the Sobel edge filter -------------------------------------------------------------------------

def test_sobel_scores_equal_the_hand_computed_responses():
    # Image 0, 5 x 5, one channel: 0 in columns 0-1, 1 in columns 2-4 (a vertical step). Gy = 0 (no change
    # down the rows, and the reflected border rows repeat their neighbours). Gx(i, j) = (1 + 2 + 1) (x(j+1)
    # - x(j-1)) with x(-1) = x(1) and x(5) = x(3) by reflection: columns 0..4 give 0, 4, 4, 0, 0.
    # Image 1: one bright pixel at (2, 2). Gx(i, j) = Kx[3-i, 3-j] and Gy(i, j) = Ky[3-i, 3-j] around it: the
    # four neighbours across an axis get |2| from one kernel and 0 from the other, the diagonals 1 and 1
    # (sqrt 2), the pixel itself 0 from both.
    x = np.zeros((2, 5, 5, 1), np.float32)
    x[0, :, 2:] = 1.0
    x[1, 2, 2] = 1.0
    model = linear_model(np.ones((5, 5, 1, 2)), [0.0, 0.0])
    scores = EdgeExplainer(model).explain(x).scores
    np.testing.assert_allclose(scores[0], np.tile([0.0, 4.0, 4.0, 0.0, 0.0], (5, 1)), atol=1e-6)
    r2 = np.sqrt(2.0)
    impulse = np.zeros((5, 5))
    impulse[1:4, 1:4] = [[r2, 2, r2], [2, 0, 2], [r2, 2, r2]]
    np.testing.assert_allclose(scores[1], impulse, atol=1e-6)
    # Three channels: the step up by 1 in channel 0, down by 2 in channel 1, none in channel 2. The norm over
    # channels: sqrt(4^2 + 8^2) = sqrt(80) in columns 1 and 2 (a sum of magnitudes would give 12); a
    # horizontal step (rows 0-1 against 2-4) gives the same down the rows through Gy.
    colour = np.zeros((2, 5, 5, 3), np.float32)
    colour[0, :, 2:, 0], colour[0, :, :2, 1], colour[..., 2] = 1.0, 2.0, 0.5
    colour[1] = colour[0].transpose(1, 0, 2)
    scores = EdgeExplainer(linear_model(np.ones((5, 5, 3, 2)), [0.0, 0.0])).explain(colour).scores
    np.testing.assert_allclose(scores[0], np.tile([0, 80 ** 0.5, 80 ** 0.5, 0, 0], (5, 1)), atol=1e-5)
    np.testing.assert_allclose(scores[1], scores[0].T, atol=1e-5)


def test_sobel_never_looks_at_the_model():
    rng = np.random.default_rng(3)
    x = rng.random((4, 6, 6, 2)).astype(np.float32)
    keras.utils.set_random_seed(0)
    conv = keras.Sequential([keras.Input((6, 6, 2)), keras.layers.Conv2D(3, 3, activation="relu"),
                             keras.layers.Flatten(), keras.layers.Dense(5)])
    linear = linear_model(rng.normal(size=(6, 6, 2, 3)), [0.0, 1.0, -1.0])
    a = EdgeExplainer(conv).explain(x)
    b = EdgeExplainer(linear).explain(x, targets=[2, 1, 0, 2])
    assert np.array_equal(a.scores, b.scores)          # other models, other classes: the same scores
    assert a.kept is None and a.settings["method"] == "sobel"


def test_sobel_is_a_method_of_explain_py_and_of_the_benchmark():
    from utils.config import COMMON, EXPLAIN, parse_config
    from utils.config.arguments import explainer_arguments
    from utils.config.checks import parse_methods
    from utils.explainers.factory import build_explainer

    cfg = parse_config(["--method", "sobel"], "explain.py", "", groups=(COMMON, EXPLAIN))
    explainer = build_explainer(cfg.method, linear_model(np.ones((4, 4, 1, 2)), [0.0, 0.0]),
                                **explainer_arguments(cfg, cfg.method))
    assert isinstance(explainer, EdgeExplainer)
    assert "sobel" in parse_methods("all") and parse_methods("hns,sobel") == ["hns", "sobel"]


# --- refinement from a start ----------------------------------------------------------------------

def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def _adam_by_hand(theta, gradient, steps, lr):
    """`steps` Adam steps (0.9, 0.999, 1e-8) at the rate lr * (1 - k / steps), gradient(theta, k) by hand, in
    Keras' form (eps added to sqrt(v) before the bias correction: it matters for gradients near 1e-6)."""
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    for k in range(steps):
        g = gradient(theta, k)
        m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g ** 2
        correction = np.sqrt(1 - 0.999 ** (k + 1)) / (1 - 0.9 ** (k + 1))
        theta = theta - lr * (1 - k / steps) * correction * m / (np.sqrt(v) + 1e-8)
    return theta


def test_bbmp_steps_from_a_start_by_hand():
    # BBMP-SSR from a start: one logit per pixel (theta_0 = start), zero fill, the penalty at full weight from
    # the first step (no ramp), the rate 0.05 * (1 - k / 3) over K = 3 steps.
    rng = np.random.default_rng(7)
    w, b = rng.normal(size=(2, 2, 1, 3)).astype(np.float32), np.array([0.1, 0.0, -0.1], np.float32)
    x = rng.random((1, 2, 2, 1)).astype(np.float32)
    start = np.array([[1.5, -0.5], [0.2, -2.0]], np.float32)
    result = MaskExplainer(linear_model(w, b), "ssr", stochastic=False, infiller=Zero(), reg_coef=0.4, reg_ramp=30,
                           learning_rate=0.05, epochs=3).explain(x, targets=[2], start=start[None])
    wf, xf = w.reshape(-1, 3), x.reshape(-1)

    def gradient(theta, k):
        pi = _sigmoid(theta)
        p = np.exp(logits := (xf * pi) @ wf + b) / np.exp(logits).sum()
        return (-(wf[:, 2] - wf @ p) * xf + 0.4) * pi * (1 - pi)

    theta = _adam_by_hand(start.reshape(-1).astype(np.float64), gradient, 3, 0.05)
    assert np.allclose(result.scores[0].reshape(-1), _sigmoid(theta), atol=1e-6)
    assert result.extras["started"] and result.extras["grid"] == 2


def test_a_constant_start_equals_bbmp_s_own_steps_from_that_init():
    # BBMP without a ramp on a grid of one cell per pixel is exactly the refinement of the constant start init.
    rng = np.random.default_rng(8)
    w, b = rng.normal(size=(4, 4, 1, 2)).astype(np.float32), np.array([0.2, -0.2], np.float32)
    x = rng.random((2, 4, 4, 1)).astype(np.float32)
    model = linear_model(w, b)
    own = MaskExplainer(model, "sdr", stochastic=False, grid=4, reg_ramp=0, init=0.7, epochs=5).explain(x)
    refined = MaskExplainer(model, "sdr", stochastic=False, epochs=5).explain(x, start=np.full((2, 4, 4), 0.7))
    assert np.allclose(own.scores, refined.scores, atol=1e-6)


def test_top_k_objective_loss_and_gradient_by_hand():
    # 2 x 2 image, k = 2: the mask keeps the two highest logits (1.0 and 0.3); loss = -log p_t(x * y) with zeros
    # elsewhere; d loss / d theta_i = d loss / d y_i * s_i (1 - s_i), s = sigmoid(theta - theta_(2)), t = 1.
    rng = np.random.default_rng(9)
    w, b = rng.normal(size=(2, 2, 1, 2)).astype(np.float32), np.array([0.3, -0.3], np.float32)
    x = rng.random((1, 2, 2, 1)).astype(np.float32)
    theta = np.array([1.0, -0.5, 0.3, -2.0], np.float32)
    explainer = MaskExplainer(linear_model(w, b), "topk", stochastic=False, infiller=Zero())
    variable = tf.Variable(theta.reshape(1, 2, 2, 1))
    with tf.GradientTape() as tape:
        loss, log_p, area, z, _ = explainer.objective_terms(tf.constant(x), tf.constant([1]), variable,
                                                           tf.constant([0]), tf.constant(0), 0.0, tf.constant([2]))
    grad = tape.gradient(loss, variable).numpy().reshape(-1)
    y = np.array([1.0, 0.0, 1.0, 0.0])
    wf, xf = w.reshape(-1, 2), x.reshape(-1)
    logits = (xf * y) @ wf + b
    p = np.exp(logits) / np.exp(logits).sum()
    assert loss.numpy()[0] == pytest.approx(-(logits[1] - np.log(np.exp(logits).sum())), rel=1e-5)
    assert np.array_equal(z.numpy().reshape(-1).round(), y) and area.numpy()[0] == pytest.approx(2.0)
    s = _sigmoid(theta - 0.3)
    assert np.allclose(grad, -(wf[:, 1] - wf @ p) * xf * s * (1 - s), atol=1e-6)


def test_top_k_refinement_steps_by_hand():
    # K = 2 Adam steps on the top-k objective at k = 2, then the cut at k: the top 2 of the refined logits.
    rng = np.random.default_rng(10)
    w, b = rng.normal(size=(2, 2, 1, 2)).astype(np.float32), np.array([0.0, 0.1], np.float32)
    x = rng.random((1, 2, 2, 1)).astype(np.float32)
    start = np.array([0.2, 0.1, 0.0, -0.1], np.float32)
    result = MaskExplainer(linear_model(w, b), "topk", stochastic=False, learning_rate=0.3, epochs=2).explain(
        x, targets=[0], start=start.reshape(1, 2, 2), budget=2)
    wf, xf = w.reshape(-1, 2), x.reshape(-1)

    def gradient(theta, k):
        y = np.zeros(4)
        y[np.argsort(-theta, kind="stable")[:2]] = 1.0
        p = np.exp(logits := (xf * y) @ wf + b) / np.exp(logits).sum()
        s = _sigmoid(theta - np.sort(theta)[::-1][1])
        return -(wf[:, 0] - wf @ p) * xf * s * (1 - s)

    theta = _adam_by_hand(start.astype(np.float64), gradient, 2, 0.3)
    assert np.allclose(result.scores[0].reshape(-1), theta, atol=1e-6)
    assert np.array_equal(result.extras["mask"][0].round().astype(bool), top_k_mask(theta.reshape(1, 2, 2), 2)[0])
    assert result.kept.tolist() == [2]


def test_zero_steps_return_the_start_s_top_k():
    rng = np.random.default_rng(11)
    model = keras.Sequential([keras.Input((5, 5, 1)), keras.layers.Flatten(), keras.layers.Dense(3)])
    x, start = rng.random((3, 5, 5, 1)).astype(np.float32), rng.normal(size=(3, 5, 5)).astype(np.float32)
    explainer = MaskExplainer(model, "topk", stochastic=False, epochs=0)
    result = explainer.explain(x, start=start, budget=[1, 4, 7])
    expected = top_k_mask(start, [1, 4, 7])
    assert np.array_equal(result.extras["mask"].round().astype(bool), expected)
    assert np.array_equal(top_k_mask(result.scores, [1, 4, 7]), expected)
    by_default = explainer.explain(x, start=start)   # the start's own budget: logits > 0
    assert by_default.kept.tolist() == (start > 0).sum(axis=(1, 2)).tolist()


def test_refinement_leaves_the_classifier_s_weights_unchanged():
    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
                              keras.layers.Flatten(), keras.layers.Dense(3)])
    before = [v.numpy().copy() for v in model.weights]
    x = np.random.default_rng(0).random((2, 8, 8, 1)).astype(np.float32)
    start = np.random.default_rng(1).normal(size=(2, 8, 8))
    for objective in ("topk", "ssr"):
        MaskExplainer(model, objective, stochastic=False, epochs=5).explain(x, start=start)
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(before, model.weights))


@pytest.mark.parametrize("kwargs, call, match", [
    (dict(objective="topk", stochastic=False), dict(), "refines a start"),
    (dict(epochs=0), dict(), "epochs=0"),
    (dict(), dict(start=np.zeros((1, 4, 4))), "one logit per pixel"),
    (dict(), dict(start=np.zeros((1, 16, 16)), budget=3), "budget is the top-k"),
    (dict(objective="topk", stochastic=False), dict(start=np.zeros((1, 16, 16)), budget=0), "budget must be"),
    (dict(grid=4), dict(start=np.zeros((1, 16, 16))), "drop grid"),
])
def test_bad_starts_are_clear(kwargs, call, match):
    with pytest.raises(ValueError, match=match):
        MaskExplainer(block_model(), epochs=kwargs.pop("epochs", 1), **kwargs).explain(block_images(1), **call)


# --- top-k -----------------------------------------------------------------------------------------

def test_top_k_keeps_exactly_k_with_ties_broken_by_position():
    scores = np.zeros((2, 3, 3))
    scores[0, 2, 2] = 5.0
    mask = top_k_mask(scores, 3)
    assert mask.sum(axis=(1, 2)).tolist() == [3, 3]
    assert mask[0, 2, 2] and mask[0, 0, 0] and mask[0, 0, 1] and not mask[0, 0, 2]   # ties: earliest first
    assert mask[1, 0, :].all() and mask[1].sum() == 3
    per_image = top_k_mask(np.random.default_rng(0).random((4, 5, 5)), [0, 1, 7, 25])
    assert per_image.sum(axis=(1, 2)).tolist() == [0, 1, 7, 25]
    assert budget_pixels(0.03, 784) == 24 and budget_pixels(1e-6, 784) == 1
    with pytest.raises(ValueError, match="k must be"):
        top_k_mask(scores, 10)
    with pytest.raises(ValueError, match="budget"):
        budget_pixels(0.0, 784)


def test_method_and_infiller_names_agree_with_the_command_line():
    from utils.config import schema
    from utils.explainers import INFILLERS, METHODS

    assert METHODS == schema.METHODS and INFILLERS == schema.INFILLERS
