"""Masks optimised per image: FIDO (Chang et al. 2019, arXiv 1807.08024) and BBMP (Fong & Vedaldi 2017).

Both learn one logit theta_c per cell c of a coarse grid (g x g cells), whose keep probability
sigmoid(theta) is upsampled bilinearly to the image: pi = up(sigmoid(theta)) in (0, 1)^(H x W).

* **FIDO** (``stochastic=True``) samples a relaxed Bernoulli (binary concrete) mask per pixel at
  temperature tau, with u ~ U(0, 1):

      z = sigmoid((log pi - log(1 - pi) + log u - log(1 - u)) / tau)

  (P(z > 1/2) = pi exactly; z becomes Bernoulli(pi) as tau -> 0), ``num_samples`` masks per step.
* **BBMP** (``stochastic=False``) uses the deterministic mask z = pi. It is parameterised like
  FIDO's (sigmoid of a logit, ``init`` 0: pi = 1/2, the same ramp), so the two differ only in the
  sampling; FIDO's own BBMP baseline (BBMPNet.py) instead clamps the mask values to [0, 1] and
  starts from the whole image kept (1).

The in-filled input is x~ = x * z + (1 - z) * G(x, round(z)) (`utils.explainers.infillers`).
Objectives per image, with t the target, averaged over the samples:

    SSR (smallest sufficient region):   L = -log p_t(x~) + lambda_k * sum_pixels pi
    SDR (smallest destroying region):   L =  log p_t(x~) + lambda_k * sum_pixels (1 - pi)

The penalty ramps up linearly: lambda_k = reg_coef * min(1, k / reg_ramp) at iteration
k = 0 .. epochs - 1. Keras' Adam (beta1 0.9, beta2 0.999, eps 1e-8) with a linearly decaying rate
lr_k = learning_rate * (1 - k / epochs) updates theta; with g the gradient at step k (1-based
count s = k + 1):

    m = beta1 m + (1 - beta1) g,  v = beta2 v + (1 - beta2) g^2,
    theta -= lr_k * sqrt(1 - beta2^s) / (1 - beta1^s) * m / (sqrt(v) + eps)

(the textbook form with eps added to the bias-corrected sqrt(v / (1 - beta2^s)) differs only in
where the 1e-8 goes).

Every image has its own theta and its own loss term, so a batch is many independent problems
solved at once; the noise of an image depends only on its seed, so a batch gives the
one-at-a-time result. Iterations run inside one compiled function, `chunk` at a time (the
progress bar moves between chunks; nothing returns to the host within one).

Scores: the keep probability pi for SSR, the drop probability 1 - pi for SDR (what the method
finds important, highest first). ``kept`` counts the pixels with that score above 1/2.

Defaults are FIDO's own: learning rate 0.05, temperature 0.1, 1 sample, 300 iterations, a ramp over
the first 30, and reg_coef 1e-3 for FIDO, 5e-3 for BBMP, per pixel as in FIDO's code. Only the grid
depends on the image size: image_size / 4 cells per side (FIDO: 56 for 224). Scaling reg_coef by
the area ((224 / 28)^2 = 64 times at 28 pixels, so that a whole image weighs as at 224) made the
masks collapse on mnist-5k: SSR kept no pixel above 1/2 (README: the sweep on validation digits).
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from utils.explainers.base import Explainer, Explanation, per_image_uniform
from utils.explainers.infillers import Zero, infill

OBJECTIVES = ("ssr", "sdr")
FIDO_REG, BBMP_REG = 1e-3, 5e-3
ADAM = (0.9, 0.999, 1e-8)


def default_reg_coef(stochastic: bool) -> float:
    """FIDO's (1e-3) or BBMP's (5e-3) penalty per pixel (see the module docstring)."""
    return FIDO_REG if stochastic else BBMP_REG


def concrete(pi, u, temperature: float):
    """Binary concrete sample: sigmoid((logit(pi) + logit(u)) / temperature)."""
    eps = 1e-6
    pi = tf.clip_by_value(pi, eps, 1.0 - eps)
    u = tf.clip_by_value(u, eps, 1.0 - eps)
    logits = tf.math.log(pi) - tf.math.log1p(-pi) + tf.math.log(u) - tf.math.log1p(-u)
    return tf.sigmoid(logits / temperature)


class MaskExplainer(Explainer):
    """FIDO (``stochastic=True``) or BBMP (``stochastic=False``) with SSR or SDR; see the module docstring.

    Args:
        model: Keras classifier; ``outputs`` says whether it returns logits or probabilities.
        objective: ``"ssr"`` or ``"sdr"``.
        infiller: a `utils.explainers.infillers.Infiller` (default: zero).
        grid: cells per side of the mask (default image_size / 4); must divide the image size.
        temperature, num_samples: of the concrete samples (FIDO only).
        reg_coef: lambda (default: FIDO's 1e-3, BBMP's 5e-3); reg_ramp: iterations of its linear ramp.
        learning_rate, epochs: Adam's initial rate (decaying linearly to 0) and the iterations.
        init: initial logit of every cell (0: keep probability 1/2).
        chunk: iterations per compiled call; progress: show a progress bar over iterations.
    """

    def __init__(self, model, objective: str = "ssr", stochastic: bool = True, infiller=None, grid=None,
                 temperature: float = 0.1, num_samples: int = 1, reg_coef=None, reg_ramp: int = 30,
                 learning_rate: float = 0.05, epochs: int = 300, init: float = 0.0, chunk: int = 50,
                 outputs: str = "logits", seed: int = 0, progress: bool = False):
        super().__init__(model, outputs, seed, progress)
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
        for name, value, low in (("temperature", temperature, 0.0), ("learning_rate", learning_rate, None),
                                 ("reg_coef", reg_coef, None)):
            if value is not None and (not np.isfinite(value) or value < 0 or (low is not None and value <= low)):
                raise ValueError(f"{name} must be a finite number {'> 0' if low is not None else '>= 0'}, "
                                 f"got {value!r}")
        for name, value, low in (("num_samples", num_samples, 1), ("epochs", epochs, 1), ("reg_ramp", reg_ramp, 0),
                                 ("chunk", chunk, 1)):
            if int(value) != value or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if grid is not None and (int(grid) != grid or grid < 1):
            raise ValueError(f"grid must be a whole number of cells >= 1, got {grid!r}")
        self.objective, self.stochastic = objective, bool(stochastic)
        self.infiller = infiller or Zero()
        self.grid, self.temperature, self.num_samples = grid, float(temperature), int(num_samples)
        self.reg_coef, self.reg_ramp = reg_coef, int(reg_ramp)
        self.learning_rate, self.epochs, self.init, self.chunk = float(learning_rate), int(epochs), float(init), int(chunk)
        self.name = f"{'fido' if stochastic else 'bbmp'}-{objective}"
        self._compiled = {}

    def settings(self) -> dict:
        return {**super().settings(), "objective": self.objective, "stochastic": self.stochastic,
                **self.infiller.settings(), "grid": self.grid, "temperature": self.temperature,
                "num_samples": self.num_samples, "reg_coef": self.reg_coef, "reg_ramp": self.reg_ramp,
                "learning_rate": self.learning_rate, "epochs": self.epochs, "init": self.init}

    def _resolve(self, shape):
        height, width = shape[0], shape[1]
        grid = self.grid or max(1, min(height, width) // 4)
        if height % grid or width % grid:
            raise ValueError(f"a grid of {grid} cells does not divide the image ({height} x {width}): "
                             f"use a divisor of the image size")
        reg = self.reg_coef if self.reg_coef is not None else default_reg_coef(self.stochastic)
        return grid, reg

    def keep_probability(self, theta, shape):
        """pi = up(sigmoid(theta)): (n, g, g, 1) logits -> (n, H, W, 1) keep probabilities."""
        return tf.image.resize(tf.sigmoid(theta), shape[:2], method="bilinear")

    def objective_terms(self, x, targets, theta, seeds, k, reg):
        """Per image: (loss, log p_t averaged over the samples, penalty, last mask, last filled input)."""
        shape = x.shape[1:]
        pi = self.keep_probability(theta, shape)
        log_p, z, filled = 0.0, pi, x
        for s in range(self.num_samples if self.stochastic else 1):
            if self.stochastic:
                u = per_image_uniform(seeds, k * self.num_samples + s, (*shape[:2], 1))
                z = concrete(pi, u, self.temperature)
            filled = infill(x, z, self.infiller, seeds, k * self.num_samples + s)
            log_p += self.log_prob(filled, targets)
        log_p /= float(self.num_samples if self.stochastic else 1)
        ramp = tf.minimum(1.0, tf.cast(k, tf.float32) / self.reg_ramp) if self.reg_ramp else 1.0
        area = tf.reduce_sum(pi if self.objective == "ssr" else 1.0 - pi, axis=[1, 2, 3])
        sign = -1.0 if self.objective == "ssr" else 1.0
        return sign * log_p + reg * ramp * area, log_p, area, z, filled

    def _step_fn(self, n, shape, grid, reg):
        """(theta, its Adam, the compiled iterations, the compiled final pass) for n images of `shape`.

        The variables live as long as the explainer, so that each batch size is traced once; every
        batch starts them afresh (`_explain`)."""
        key = (n, tuple(shape), grid, reg)
        if key in self._compiled:
            return self._compiled[key]
        b1, b2, eps = ADAM
        epochs = self.epochs
        theta = tf.Variable(tf.zeros((n, grid, grid, 1)), name="theta")
        decay = keras.optimizers.schedules.PolynomialDecay(self.learning_rate, epochs, end_learning_rate=0.0)
        adam = keras.optimizers.Adam(decay, beta_1=b1, beta_2=b2, epsilon=eps)
        adam.build([theta])

        @tf.function(reduce_retracing=True)
        def run(x, targets, seeds, first, count):
            for k in tf.range(first, first + count):
                with tf.GradientTape(watch_accessed_variables=False) as tape:
                    tape.watch(theta)
                    loss = tf.reduce_sum(self.objective_terms(x, targets, theta, seeds, k, reg)[0])
                adam.apply_gradients([(tape.gradient(loss, theta), theta)])

        @tf.function(reduce_retracing=True)
        def final(x, targets, seeds):
            loss, log_p, area, z, filled = self.objective_terms(x, targets, theta, seeds, epochs, reg)
            return loss, log_p, area, z, filled, self.keep_probability(theta, x.shape[1:])

        self._compiled[key] = (theta, adam, run, final)
        return self._compiled[key]

    def _explain(self, x, targets, seeds) -> Explanation:
        shape = x.shape[1:]
        grid, reg = self._resolve(shape)
        theta, adam, run, final = self._step_fn(x.shape[0], shape, grid, reg)
        theta.assign(tf.fill(theta.shape, self.init))
        for variable in adam.variables:  # the step count and both moments start at 0 for every batch
            variable.assign(tf.zeros_like(variable))
        bar = _progress(self.epochs, self.name) if self.progress else None
        for first in range(0, self.epochs, self.chunk):
            count = min(self.chunk, self.epochs - first)
            run(x, targets, seeds, tf.constant(first), tf.constant(count))
            if bar is not None:
                bar.update(first + count)
        loss, log_p, area, z, filled, pi = final(x, targets, seeds)
        keep = pi.numpy()[..., 0]
        scores = keep if self.objective == "ssr" else 1.0 - keep
        return Explanation(self.name, scores, targets.numpy(), 0.0, kept=(scores > 0.5).sum(axis=(1, 2)),
                           extras={"keep_probability": keep, "mask": z.numpy()[..., 0], "filled": filled.numpy(),
                                   "loss": loss.numpy(), "log_p": log_p.numpy(), "penalty_area": area.numpy(),
                                   "grid": grid, "reg_coef": reg})


def _progress(total: int, name: str):
    import keras

    print(f"{name}: {total} iterations")
    return keras.utils.Progbar(total, unit_name="iteration")
