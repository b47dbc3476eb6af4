"""Binary neurons: turn the hider's logits h into a binary mask y (1 = pixel kept).

All neurons take logits, not probabilities: p = sigmoid(s * h) is computed here (s = 1 except
for slope annealing), so no second sigmoid is ever applied. The straight-through estimators
return exactly y_hard in the forward pass (a custom gradient, so the mask is exactly 0 or 1)
and dL/dh = dL/dy * d(h) in the backward pass, with d(h) the estimator's derivative below.

Why straight-through in the *logit*: if the backward pass goes through the sigmoid,
dy/dh = p(1 - p), which vanishes once p saturates near 0 or 1, and the mask freezes (a
prototype trained from scratch stalled that way). With
dy/dh = 1 the gradient never vanishes; the model adds a small penalty on |h| beyond a bound
so logits stay where the decision can still flip.

Estimators (y the binary output, p = sigmoid(s h)):

=============  ========================  ==================================================
name           forward (training)        backward dy/dh
=============  ========================  ==================================================
deterministic  y = 1[p > 0.5] = 1[h > 0]  1                     (straight-through, logit)
st1            y ~ Bernoulli(p)          1                     (whole neuron as identity)
st2            y ~ Bernoulli(p)          sigma'(h) = p (1 - p) (through the sigmoid)
sa             y ~ Bernoulli(p), s grows s p (1 - p)           (slope annealing)
reinforce      y ~ Bernoulli(p)          none (``pathwise`` is False): the neuron's
                                         ``surrogate`` gives a score-function estimate,
                                         see `reinforce_surrogate`
=============  ========================  ==================================================

In evaluation and prediction every neuron is deterministic, y = 1[p > 0.5], unless called
with ``sample=True``. Sampling uses a Keras SeedGenerator, so seeded runs repeat exactly.
"""
from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from networks.choices import ESTIMATORS


@tf.custom_gradient
def _straight_through(h, y_hard, derivative):
    """Forward: exactly y_hard. Backward: dL/dh = dL/dy * derivative (no gradient to the others)."""

    def grad(dy):
        return dy * derivative, None, None

    return tf.identity(y_hard), grad


@keras.saving.register_keras_serializable("hns")
class DeterministicBinaryNeuron(keras.layers.Layer):
    """Binary deterministic neuron (BDN).

    Forward: y = 1[sigmoid(h) > 0.5] = 1[h > 0]. Backward: dy/dh = 1 (straight-through with
    respect to the logit h, so the gradient never saturates).
    """

    stochastic = False
    estimator = "deterministic"
    pathwise = True

    def probability(self, h):
        return ops.sigmoid(h)

    def call(self, h, training=None, sample=None):
        y_hard = ops.cast(h > 0, h.dtype)
        return _straight_through(h, y_hard, ops.ones_like(h))


@keras.saving.register_keras_serializable("hns")
class StochasticBinaryNeuron(keras.layers.Layer):
    """Binary stochastic neuron (BSN): y ~ Bernoulli(p), p = sigmoid(s * h).

    Args:
        estimator: 'st1' (dy/dh = 1), 'st2' (dy/dh = p(1 - p)), 'sa' (dy/dh = s p(1 - p), with
            the slope s multiplied by (1 + rate) at the end of each epoch by the
            `SlopeAnnealing` callback, never during evaluation), or 'reinforce' (no pathwise
            gradient; see `reinforce_surrogate`).
        seed: seed of the sampling noise.

    Sampling happens in training (or with ``sample=True``); otherwise y = 1[p > 0.5].
    """

    stochastic = True

    def __init__(self, estimator: str = "st1", seed=None, **kwargs):
        super().__init__(**kwargs)
        if estimator not in ESTIMATORS:
            raise ValueError(f"unknown estimator {estimator!r}; choose one of {', '.join(ESTIMATORS)}")
        self.estimator = estimator
        self.seed = seed
        # Named, so that its state has the same path in every process (`utils.training.resume`).
        self.seed_generator = keras.random.SeedGenerator(seed, name="sampling")
        self.slope = self.add_weight(shape=(), initializer="ones", trainable=False, name="slope")

    def probability(self, h):
        return ops.sigmoid(self.slope * h)

    def call(self, h, training=None, sample=None):
        p = self.probability(h)
        if sample is None:
            sample = bool(training)
        if sample:
            u = keras.random.uniform(ops.shape(h), seed=self.seed_generator, dtype=h.dtype)
            y_hard = ops.cast(u < p, h.dtype)
        else:
            y_hard = ops.cast(p > 0.5, h.dtype)
        if self.estimator == "st1":
            return _straight_through(h, y_hard, ops.ones_like(h))
        if self.estimator in ("st2", "sa"):
            return _straight_through(h, y_hard, ops.stop_gradient(self.slope * p * (1.0 - p)))
        return ops.stop_gradient(y_hard)

    @property
    def pathwise(self) -> bool:
        """False for REINFORCE: the output carries no gradient, `surrogate` gives it instead."""
        return self.estimator != "reinforce"

    def surrogate(self, per_sample_loss, y, h):
        """A scalar whose gradient with respect to h estimates d E[loss] / dh (see `reinforce_surrogate`)."""
        if self.pathwise:
            raise ValueError(f"estimator {self.estimator!r} has a pathwise gradient: it needs no surrogate")
        return reinforce_surrogate(per_sample_loss, y, h)

    def get_config(self):
        return {**super().get_config(), "estimator": self.estimator, "seed": self.seed}


def bernoulli_log_prob(y, h):
    """log P(y | p) for p = sigmoid(h): y log p + (1 - y) log(1 - p), computed stably.

    Its gradient with respect to h is y - p.
    """
    return -(y * ops.softplus(-h) + (1.0 - y) * ops.softplus(h))


def reinforce_surrogate(per_sample_loss, y, h, eps: float = 1e-6):
    """Score-function (REINFORCE) surrogate whose gradient with respect to h is the estimate.

    For sample i of a batch of B and mask element j, with J_i the per-sample loss,

        dL/dh_ij ~= (J_i - b_ij) (y_ij - p_ij) / B,
        b_ij = sum_{k != i} (y_kj - p_kj)^2 J_k / sum_{k != i} (y_kj - p_kj)^2,

    the variance-minimising baseline b = E[(y - p)^2 J] / E[(y - p)^2] estimated on the
    *other* samples of the batch (leave-one-out), so b_ij does not depend on sample i and the
    estimate stays unbiased: E[(J - b)(y - p)] = dE[J]/dh. Returns a scalar whose value is
    meaningless (add it as ``s - stop_gradient(s)``) and whose gradient is the estimate.

    Args:
        per_sample_loss: (B,) loss J_i of each sample (no gradient flows through it).
        y: (B, ...) sampled binary masks.
        h: (B, ...) logits, p = sigmoid(h).
    """
    batch = ops.shape(y)[0]
    y = ops.reshape(ops.stop_gradient(y), (batch, -1))
    h = ops.reshape(h, (batch, -1))
    p = ops.stop_gradient(ops.sigmoid(h))
    loss = ops.stop_gradient(ops.reshape(per_sample_loss, (batch, 1)))
    w = ops.square(y - p)
    num = ops.sum(w * loss, axis=0, keepdims=True) - w * loss
    den = ops.sum(w, axis=0, keepdims=True) - w
    baseline = num / (den + eps)
    advantage = ops.stop_gradient(loss - baseline)
    return ops.sum(ops.mean(advantage * bernoulli_log_prob(y, h), axis=0))


def build_neuron(stochastic: bool, estimator: str = "st1", seed=None):
    if not stochastic:
        return DeterministicBinaryNeuron(name="binary_neuron", dtype="float32")
    return StochasticBinaryNeuron(estimator, seed=seed, name="binary_neuron", dtype="float32")
