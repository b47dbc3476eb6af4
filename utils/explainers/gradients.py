"""Gradient attributions and occlusion, batched.

With s_t(x) the model's output for the target class t (its logit, or its probability for a
softmax model) and a(x) the attribution of every input element (n, H, W, C):

    gradient               a = d s_t / d x                                  (Simonyan et al. 2014)
    gradient-input         a = x * d s_t / d x                              (Shrikumar et al. 2016)
    integrated-gradients   a = (x - b) * (1/m) sum_{j=1..m} d s_t / d x |_{b + (j - 1/2)/m (x - b)}
                           (Sundararajan et al. 2017, midpoint rule with m = ``steps``, baseline b:
                           a number, or an array that broadcasts to the inputs, e.g. a mean image)
    smoothgrad             a = (1/S) sum_{j=1..S} d s_t / d x |_{x + e_j},  e_j ~ N(0, (sigma R)^2)
                           (Smilkov et al. 2017; R the input range, sigma = ``noise``)
    occlusion              a patch of p x p pixels at stride r is set to ``value``; every pixel gets the
                           mean drop s_t(x) - s_t(x with the patch occluded) over the patches that
                           cover it (Zeiler & Fergus 2014). Patches start at 0, r, 2r, ... and, where
                           r does not reach the edge, at H - p (W - p); with r <= p (required) every
                           pixel is covered

Integrated gradients is complete: sum(a) = s_t(x) - s_t(b) exactly for a model linear in x and
up to the quadrature error otherwise. Scores per pixel: |a| largest over channels for the
gradient and SmoothGrad (their sign is not evidence), sum over channels of a for
gradient x input and integrated gradients (positive = evidence for t), the mean drop for
occlusion. None of them has a threshold of its own (``kept`` is None).
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from utils.explainers.base import Explainer, Explanation, channel_sum, per_image_normal
from utils.explainers.choices import default_occlusion_patch


class GradientExplainer(Explainer):
    """``kind``: "gradient", "gradient-input", "integrated-gradients" or "smoothgrad" (module docstring).

    ``baseline`` b of integrated gradients: a number or an array broadcastable to the batch (n, H, W, C),
    such as (H, W, C) or (C,).
    """

    KINDS = ("gradient", "gradient-input", "integrated-gradients", "smoothgrad")

    def __init__(self, model, kind: str = "gradient", steps: int = 50, baseline=0.0, samples: int = 50,
                 noise: float = 0.15, outputs: str = "logits", seed: int = 0, progress: bool = False):
        super().__init__(model, outputs, seed, progress)
        if kind not in self.KINDS:
            raise ValueError(f"kind must be one of {self.KINDS}, got {kind!r}")
        for name, value in (("steps", steps), ("samples", samples)):
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if not np.isfinite(noise) or noise < 0:
            raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
        baseline = np.asarray(baseline, np.float32)
        if not np.all(np.isfinite(baseline)):
            raise ValueError("baseline contains NaN or infinite values")
        self.name, self.kind = kind, kind
        self.steps, self.baseline, self.samples, self.noise = int(steps), baseline, int(samples), float(noise)
        self._compiled = None

    def settings(self) -> dict:
        extra = {"integrated-gradients": {"steps": self.steps, "baseline": self.baseline.tolist()},
                 "smoothgrad": {"samples": self.samples, "noise": self.noise}}.get(self.kind, {})
        return {**super().settings(), "method": self.kind, **extra}

    def gradient(self, x, targets):
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(x)
            out = tf.reduce_sum(self.target_output(x, targets))
        return tape.gradient(out, x)

    def _attributions(self, x, targets, seeds):
        if self.kind == "gradient":
            return self.gradient(x, targets)
        if self.kind == "gradient-input":
            return x * self.gradient(x, targets)
        total = tf.zeros_like(x)
        if self.kind == "integrated-gradients":
            b = tf.broadcast_to(tf.constant(self.baseline), tf.shape(x))
            for j in tf.range(self.steps):
                alpha = (tf.cast(j, tf.float32) + 0.5) / self.steps
                total += self.gradient(b + alpha * (x - b), targets)
            return (x - b) * total / self.steps
        spread = self.noise * (tf.reduce_max(x, axis=[1, 2, 3], keepdims=True)
                               - tf.reduce_min(x, axis=[1, 2, 3], keepdims=True))
        for j in tf.range(self.samples):
            total += self.gradient(x + spread * per_image_normal(seeds, j, x.shape[1:]), targets)
        return total / self.samples

    def _explain(self, x, targets, seeds) -> Explanation:
        if self.kind == "integrated-gradients":
            _check_broadcasts(self.baseline.shape, tuple(x.shape))
        if self._compiled is None:
            self._compiled = tf.function(self._attributions, reduce_retracing=True)
        a = self._compiled(x, targets, seeds)
        magnitude = self.kind in ("gradient", "smoothgrad")
        scores = tf.reduce_max(tf.abs(a), axis=-1) if magnitude else channel_sum(a)
        return Explanation(self.name, scores.numpy(), targets.numpy(), 0.0, extras={"attributions": a.numpy()})


def _check_broadcasts(baseline, inputs) -> None:
    try:
        fits = np.broadcast_shapes(baseline, inputs) == inputs
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"baseline of shape {baseline} does not broadcast to the inputs {inputs}: "
                         "give a number or an array of the image's shape")


def _check_stride(patch: int, stride: int) -> None:
    if stride > patch:
        raise ValueError(f"stride ({stride}) must be at most patch ({patch}): pixels between patches would "
                         "never be occluded")


class OcclusionExplainer(Explainer):
    """Occlusion with a `patch` x `patch` square at `stride` set to `value` (module docstring).

    Defaults: patch = image_size / 7 (4 at 28 pixels), stride = patch / 2.
    """

    name = "occlusion"

    def __init__(self, model, patch=None, stride=None, value: float = 0.0, outputs: str = "logits", seed: int = 0,
                 progress: bool = False):
        super().__init__(model, outputs, seed, progress)
        for name, v in (("patch", patch), ("stride", stride)):
            if v is not None and (int(v) != v or v < 1):
                raise ValueError(f"{name} must be a whole number of pixels >= 1, got {v!r}")
        if patch is not None and stride is not None:
            _check_stride(patch, stride)
        self.patch, self.stride, self.value = patch, stride, float(value)
        self._compiled = {}

    def settings(self) -> dict:
        return {**super().settings(), "patch": self.patch, "stride": self.stride, "value": self.value}

    def _resolve(self, shape):
        patch = self.patch or default_occlusion_patch(min(shape[0], shape[1]))
        stride = self.stride or max(1, patch // 2)
        _check_stride(patch, stride)
        if patch > min(shape[0], shape[1]):
            raise ValueError(f"the occlusion patch ({patch}) is larger than the image ({shape[0]} x {shape[1]})")
        return patch, stride

    def _explain(self, x, targets, seeds) -> Explanation:
        shape = tuple(x.shape[1:])
        patch, stride = self._resolve(shape)
        rows, cols = (sorted({*range(0, size - patch + 1, stride), size - patch}) for size in shape[:2])
        windows = np.zeros((len(rows) * len(cols), shape[0], shape[1], 1), np.float32)
        for i, (r, c) in enumerate((r, c) for r in rows for c in cols):
            windows[i, r:r + patch, c:c + patch] = 1.0
        key = (shape, patch, stride)
        if key not in self._compiled:
            self._compiled[key] = tf.function(self._drops, reduce_retracing=True)
        drops = self._compiled[key](x, targets, tf.constant(windows))
        coverage = windows.sum(axis=0)[..., 0]
        scores = drops.numpy() / np.maximum(coverage, 1.0)
        return Explanation(self.name, scores, targets.numpy(), 0.0, extras={"patch": patch, "stride": stride})

    def _drops(self, x, targets, windows):
        whole = self.target_output(x, targets)
        total = tf.zeros(tf.shape(x)[:3])
        for i in tf.range(tf.shape(windows)[0]):
            w = windows[i]
            occluded = x * (1.0 - w) + self.value * w
            drop = whole - self.target_output(occluded, targets)
            total += drop[:, None, None] * w[None, :, :, 0]
        return total
