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

**Refinement from a start** (semi-amortised inference, Kim et al. 2018, "Semi-Amortized Variational
Autoencoders", ICML: per-image optimisation started from an amortised guess, which removes most of
its steps). ``explain(x, start=h)`` takes per-image, per-pixel logits h of a keep probability (the
HnS hider's logits, or any explainer's keep probability p as log(p / (1 - p))) and runs ``epochs``
= K steps from theta_0 = h. theta then has one logit per pixel, the start's (no grid, no
upsampling: pi = sigmoid(theta)). The schedule over the K steps:

    lambda_k = reg_coef                        (no ramp: the ramp lets the class term place the mask
                                                before the penalty shrinks it; a start has placed it)
    lr_k     = learning_rate * (1 - k / K)     (k = 0 .. K - 1: the same linear decay, over K steps)

A third objective, **top-k** (``objective="topk"``, deterministic only), is the budget mode's
(`networks.budget`) at each image's budget k_i (``budget``; default: the start's pixels with logit
> 0, i.e. keep probability above 1/2, at least 1), on the frozen classifier:

    y = topk_ST(theta, k_i)                    (`networks.budget.top_k_count_mask`: exactly the k_i
                                                highest logits in the forward pass, ties by position;
                                                backward sigma'((theta - theta_(k_i)) / t) / t, t = 1)
    L = -log p_t(x * y + (1 - y) * G(x, y))    (no penalty: the size is the constraint k_i)

and the explanation is the cut y at k_i after K steps (K = 0: the start's own top k_i). Its scores
are theta itself: a sigmoid would round the largest logits to 1.0 in float32 and tie them, and
the top k_i of the scores must be the mask.

Defaults are FIDO's own: learning rate 0.05, temperature 0.1, 1 sample, 300 iterations, a ramp over
the first 30, and reg_coef 1e-3 for FIDO, 5e-3 for BBMP, per pixel as in FIDO's code. Only the grid
depends on the image size: image_size / 4 cells per side (FIDO: 56 for 224). Scaling reg_coef by
the area ((224 / 28)^2 = 64 times at 28 pixels, so that a whole image weighs as at 224) made the
masks collapse on mnist-5k, and a sweep of reg_coef found FIDO's values within about one standard
error of the best for three of the four methods (docs/results/2026-11-24-fido-reg-coef.md).
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from networks.budget import TEMPERATURE, top_k_count_mask
from utils.explainers.base import Explainer, Explanation, check_images, per_image_uniform
from utils.explainers.infillers import Zero, infill

OBJECTIVES = ("ssr", "sdr", "topk")
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
    """FIDO (``stochastic=True``) or BBMP (``stochastic=False``) with SSR, SDR or, refining a start, the top-k
    objective; see the module docstring.

    Args:
        model: Keras classifier; ``outputs`` says whether it returns logits or probabilities.
        objective: ``"ssr"``, ``"sdr"`` or ``"topk"`` (BBMP from a start only).
        infiller: a `utils.explainers.infillers.Infiller` (default: zero).
        grid: cells per side of the mask (default image_size / 4); must divide the image size. A start
            has one logit per pixel and takes none.
        temperature, num_samples: of the concrete samples (FIDO only).
        reg_coef: lambda (default: FIDO's 1e-3, BBMP's 5e-3); reg_ramp: iterations of its linear ramp
            (none from a start).
        learning_rate, epochs: Adam's initial rate (decaying linearly to 0) and the iterations K
            (0 only from a start: the start itself).
        init: initial logit of every cell without a start (0: keep probability 1/2).
        chunk: iterations per compiled call; progress: show a progress bar over iterations.
    """

    def __init__(self, model, objective: str = "ssr", stochastic: bool = True, infiller=None, grid=None,
                 temperature: float = 0.1, num_samples: int = 1, reg_coef=None, reg_ramp: int = 30,
                 learning_rate: float = 0.05, epochs: int = 300, init: float = 0.0, chunk: int = 50,
                 outputs: str = "logits", seed: int = 0, progress: bool = False):
        super().__init__(model, outputs, seed, progress)
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
        if objective == "topk" and stochastic:
            raise ValueError("the top-k objective is deterministic: use stochastic=False (BBMP)")
        for name, value, low in (("temperature", temperature, 0.0), ("learning_rate", learning_rate, None),
                                 ("reg_coef", reg_coef, None)):
            if value is not None and (not np.isfinite(value) or value < 0 or (low is not None and value <= low)):
                raise ValueError(f"{name} must be a finite number {'> 0' if low is not None else '>= 0'}, "
                                 f"got {value!r}")
        for name, value, low in (("num_samples", num_samples, 1), ("epochs", epochs, 0), ("reg_ramp", reg_ramp, 0),
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

    def explain(self, x, targets=None, seeds=None, start=None, budget=None) -> Explanation:
        """As `Explainer.explain`; `start` (n, H, W) or (n, H, W, 1): logits of a keep probability per pixel to
        refine for ``epochs`` steps; `budget`: the pixels k_i the top-k objective keeps, one integer for every
        image or one per image (default: the start's logits > 0, at least 1)."""
        x = check_images(x)
        n, pixels = len(x), x.shape[1] * x.shape[2]
        if start is None:
            if self.objective == "topk" or budget is not None:
                raise ValueError("the top-k objective refines a start: pass start= (logits per pixel), or use "
                                 "objective 'ssr'/'sdr'")
            if self.epochs == 0:
                raise ValueError("epochs=0 runs no step: pass a start to get its own mask, or epochs >= 1")
            return self._explain_checked(x, targets, seeds)
        start = np.asarray(start, np.float32)
        start = start[..., 0] if start.ndim == 4 and start.shape[-1] == 1 else start
        if start.shape != x.shape[:3]:
            raise ValueError(f"start must hold one logit per pixel, shape {x.shape[:3]}, got {start.shape}")
        if not np.all(np.isfinite(start)):
            raise ValueError("start contains NaN or infinite logits")
        if self.grid is not None and (self.grid, self.grid) != x.shape[1:3]:
            raise ValueError(f"a start has one logit per pixel: drop grid={self.grid}")
        if self.objective != "topk":
            if budget is not None:
                raise ValueError(f"budget is the top-k objective's; {self.objective} penalises the area instead: "
                                 "drop budget, or use objective 'topk'")
            budget = np.zeros(n, np.int32)
        elif budget is None:
            budget = np.maximum(1, (start > 0).sum(axis=(1, 2)))
        budget = np.broadcast_to(np.asarray(budget), (n,))
        if not np.all(budget == np.round(budget)) or (self.objective == "topk" and (
                np.any(budget < 1) or np.any(budget > pixels))):
            raise ValueError(f"budget must be whole pixel counts in [1, {pixels}], got {budget.min()}..{budget.max()}")
        return self._explain_checked(x, targets, seeds, start=tf.constant(start[..., None]),
                                     budget=tf.constant(budget.astype(np.int32)))

    def _resolve(self, shape, started: bool):
        height, width = shape[0], shape[1]
        reg = self.reg_coef if self.reg_coef is not None else default_reg_coef(self.stochastic)
        if started:
            return (height, width), reg
        grid = self.grid or max(1, min(height, width) // 4)
        if height % grid or width % grid:
            raise ValueError(f"a grid of {grid} cells does not divide the image ({height} x {width}): "
                             f"use a divisor of the image size")
        return (grid, grid), reg

    def keep_probability(self, theta, shape):
        """pi = up(sigmoid(theta)): (n, g, g, 1) logits -> (n, H, W, 1) keep probabilities (no upsampling where
        theta has one logit per pixel)."""
        if tuple(theta.shape[1:3]) == tuple(shape[:2]):
            return tf.sigmoid(theta)
        return tf.image.resize(tf.sigmoid(theta), shape[:2], method="bilinear")

    def top_k(self, theta, budget):
        """(n, H, W, 1) top-k straight-through mask of one logit per pixel, k_i = budget[i] (`networks.budget`)."""
        y, _ = top_k_count_mask(tf.reshape(theta, (tf.shape(theta)[0], -1)), budget, TEMPERATURE)
        return tf.reshape(y, tf.shape(theta))

    def objective_terms(self, x, targets, theta, seeds, k, reg, budget=None, ramped: bool = True):
        """Per image: (loss, log p_t averaged over the samples, penalty, last mask, last filled input); the
        penalty's ramp only where `ramped` (no start), the top-k objective's mask at `budget` pixels."""
        shape = x.shape[1:]
        if self.objective == "topk":
            z = self.top_k(theta, budget)
            filled = infill(x, z, self.infiller, seeds, k)
            log_p = self.log_prob(filled, targets)
            return -log_p, log_p, tf.reduce_sum(z, axis=[1, 2, 3]), z, filled
        pi = self.keep_probability(theta, shape)
        log_p, z, filled = 0.0, pi, x
        for s in range(self.num_samples if self.stochastic else 1):
            if self.stochastic:
                u = per_image_uniform(seeds, k * self.num_samples + s, (*shape[:2], 1))
                z = concrete(pi, u, self.temperature)
            filled = infill(x, z, self.infiller, seeds, k * self.num_samples + s)
            log_p += self.log_prob(filled, targets)
        log_p /= float(self.num_samples if self.stochastic else 1)
        ramp = tf.minimum(1.0, tf.cast(k, tf.float32) / self.reg_ramp) if self.reg_ramp and ramped else 1.0
        area = tf.reduce_sum(pi if self.objective == "ssr" else 1.0 - pi, axis=[1, 2, 3])
        sign = -1.0 if self.objective == "ssr" else 1.0
        return sign * log_p + reg * ramp * area, log_p, area, z, filled

    def _step_fn(self, n, shape, cells, reg, started):
        """(theta, its Adam, the compiled iterations, the compiled final pass) for n images of `shape` and
        `cells` logits per side.

        The variables live as long as the explainer, so that each batch size is traced once; every
        batch starts them afresh (`_explain`)."""
        key = (n, tuple(shape), cells, reg, started)
        if key in self._compiled:
            return self._compiled[key]
        b1, b2, eps = ADAM
        epochs = self.epochs
        theta = tf.Variable(tf.zeros((n, *cells, 1)), name="theta")
        # max(1, .): K = 0 (a start kept as it is) runs no step but still builds the optimiser
        decay = keras.optimizers.schedules.PolynomialDecay(self.learning_rate, max(1, epochs), end_learning_rate=0.0)
        adam = keras.optimizers.Adam(decay, beta_1=b1, beta_2=b2, epsilon=eps)
        adam.build([theta])
        ramped = not started

        @tf.function(reduce_retracing=True)
        def run(x, targets, seeds, budget, first, count):
            for k in tf.range(first, first + count):
                with tf.GradientTape(watch_accessed_variables=False) as tape:
                    tape.watch(theta)
                    loss = tf.reduce_sum(self.objective_terms(x, targets, theta, seeds, k, reg, budget, ramped)[0])
                adam.apply_gradients([(tape.gradient(loss, theta), theta)])

        @tf.function(reduce_retracing=True)
        def final(x, targets, seeds, budget):
            loss, log_p, area, z, filled = self.objective_terms(x, targets, theta, seeds, epochs, reg, budget, ramped)
            return loss, log_p, area, z, filled, self.keep_probability(theta, x.shape[1:])

        self._compiled[key] = (theta, adam, run, final)
        return self._compiled[key]

    def _explain(self, x, targets, seeds, start=None, budget=None) -> Explanation:
        shape = x.shape[1:]
        cells, reg = self._resolve(shape, start is not None)
        theta, adam, run, final = self._step_fn(x.shape[0], shape, cells, reg, start is not None)
        theta.assign(tf.fill(theta.shape, self.init) if start is None else start)
        for variable in adam.variables:  # the step count and both moments start at 0 for every batch
            variable.assign(tf.zeros_like(variable))
        budget = tf.zeros(x.shape[:1], tf.int32) if budget is None else budget
        bar = _progress(self.epochs, self.name) if self.progress and self.epochs else None
        for first in range(0, self.epochs, self.chunk):
            count = min(self.chunk, self.epochs - first)
            run(x, targets, seeds, budget, tf.constant(first), tf.constant(count))
            if bar is not None:
                bar.update(first + count)
        loss, log_p, area, z, filled, pi = final(x, targets, seeds, budget)
        keep = pi.numpy()[..., 0]
        extras = {"keep_probability": keep, "mask": z.numpy()[..., 0], "filled": filled.numpy(), "loss": loss.numpy(),
                  "log_p": log_p.numpy(), "penalty_area": area.numpy(), "grid": cells[0], "reg_coef": reg,
                  "started": start is not None}
        if self.objective == "topk":
            scores = theta.numpy()[..., 0]
            return Explanation(self.name, scores, targets.numpy(), 0.0, kept=budget.numpy(),
                               extras={**extras, "budget": budget.numpy()})
        scores = keep if self.objective == "ssr" else 1.0 - keep
        return Explanation(self.name, scores, targets.numpy(), 0.0, kept=(scores > 0.5).sum(axis=(1, 2)),
                           extras=extras)


def _progress(total: int, name: str):
    print(f"{name}: {total} iterations")
    return keras.utils.Progbar(total, unit_name="iteration")
