import numpy as np
import pytest
import tensorflow as tf

from networks.binary import (DeterministicBinaryNeuron, StochasticBinaryNeuron, bernoulli_log_prob,
                             reinforce_surrogate)

H = np.array([[-8.0, -1.5, -0.2, 0.0, 0.3, 2.0, 8.0]], np.float32)


def grad_of_output(neuron, h, training=True):
    h = tf.constant(h)
    with tf.GradientTape() as tape:
        tape.watch(h)
        y = neuron(h, training=training)
    g = tape.gradient(y, h)
    return y.numpy(), None if g is None else g.numpy()


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_deterministic_forward_and_straight_through_in_the_logit():
    y, g = grad_of_output(DeterministicBinaryNeuron(), H)
    assert np.array_equal(y, (H > 0).astype(np.float32))
    assert np.allclose(g, 1.0)


@pytest.mark.parametrize("estimator, expected", [
    ("st1", lambda h, s: np.ones_like(h)),
    ("st2", lambda h, s: sigmoid(h) * (1 - sigmoid(h))),
    ("sa", lambda h, s: s * sigmoid(s * h) * (1 - sigmoid(s * h))),
])
def test_straight_through_backward_equals_formula(estimator, expected):
    neuron = StochasticBinaryNeuron(estimator, seed=1)
    slope = 2.5 if estimator == "sa" else 1.0
    neuron.slope.assign(slope)
    y, g = grad_of_output(neuron, H)
    assert set(np.unique(y)) <= {0.0, 1.0}
    assert np.allclose(g, expected(H, slope), atol=1e-6)


def test_reinforce_has_no_pathwise_gradient():
    _, g = grad_of_output(StochasticBinaryNeuron("reinforce", seed=1), H)
    assert g is None or np.allclose(g, 0.0)


def test_the_logit_path_does_not_saturate():
    # At |h| = 8 the gradient through the sigmoid is p(1-p) ~ 3e-4: the mask freezes there.
    _, g_logit = grad_of_output(DeterministicBinaryNeuron(), H)
    _, g_sigmoid = grad_of_output(StochasticBinaryNeuron("st2", seed=0), H)
    assert g_sigmoid[0, 0] < 1e-3 and g_sigmoid[0, -1] < 1e-3
    assert g_logit[0, 0] == 1.0 and g_logit[0, -1] == 1.0


def test_samples_follow_p_itself_whatever_the_batch():
    # p = 0.3 for the first column, whatever extreme logits sit beside it in the batch.
    neuron = StochasticBinaryNeuron("st1", seed=3)
    h = np.zeros((4000, 3), np.float32)
    h[:, 0] = np.log(0.3 / 0.7)
    h[:, 1] = 6.0
    h[:, 2] = -6.0
    y = neuron(tf.constant(h), training=True).numpy()
    assert abs(y[:, 0].mean() - 0.3) < 0.03
    assert y[:, 1].mean() > 0.99 and y[:, 2].mean() < 0.01


def test_evaluation_is_deterministic_threshold():
    neuron = StochasticBinaryNeuron("st1", seed=3)
    h = tf.constant(np.random.default_rng(0).normal(size=(50, 10)).astype(np.float32))
    a, b = neuron(h, training=False).numpy(), neuron(h, training=False).numpy()
    assert np.array_equal(a, b) and np.array_equal(a, (h.numpy() > 0).astype(np.float32))
    sampled = neuron(h, training=False, sample=True).numpy()
    assert not np.array_equal(sampled, a)


def test_bernoulli_log_prob_and_its_gradient():
    h = tf.constant([[-2.0, 0.5, 3.0]])
    y = tf.constant([[1.0, 0.0, 1.0]])
    with tf.GradientTape() as tape:
        tape.watch(h)
        lp = bernoulli_log_prob(y, h)
    p = sigmoid(h.numpy())
    assert np.allclose(lp.numpy(), y * np.log(p) + (1 - y) * np.log(1 - p), atol=1e-6)
    assert np.allclose(tape.gradient(lp, h).numpy(), y.numpy() - p, atol=1e-6)


def test_reinforce_matches_the_exact_gradient_of_the_expected_loss():
    # Three Bernoulli mask elements: E[J] can be enumerated over all 8 masks.
    h0 = np.array([0.4, -0.7, 1.2], np.float32)
    w = np.array([1.0, -2.0, 0.5], np.float32)

    def loss(y):  # any function of the binary mask
        return (tf.reduce_sum(y * w, -1) - 0.3) ** 2 + y[..., 0] * y[..., 2]

    masks = tf.constant(np.array(np.meshgrid(*[[0, 1]] * 3, indexing="ij")).reshape(3, -1).T, tf.float32)
    h = tf.Variable(h0)
    with tf.GradientTape() as tape:
        p = tf.sigmoid(h)
        probs = tf.reduce_prod(masks * p + (1 - masks) * (1 - p), axis=-1)
        expected = tf.reduce_sum(probs * loss(masks))
    exact = tape.gradient(expected, h).numpy()

    batch = 40000
    neuron = StochasticBinaryNeuron("reinforce", seed=7)
    hb = tf.Variable(np.tile(h0, (batch, 1)))
    with tf.GradientTape() as tape:
        y = neuron(hb, training=True)
        surrogate = reinforce_surrogate(loss(y), y, hb)
    estimate = tape.gradient(surrogate, hb).numpy().sum(axis=0)  # d mean_i J_i summed over copies
    assert np.all(np.abs(exact) > 0.05)
    assert np.allclose(estimate, exact, atol=0.03), (estimate, exact)


def test_slope_is_saved_in_config_free_weights():
    neuron = StochasticBinaryNeuron("sa", seed=0)
    assert [w.name for w in neuron.weights if "slope" in w.name]
    assert StochasticBinaryNeuron.from_config(neuron.get_config()).estimator == "sa"
