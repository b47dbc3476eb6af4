"""The interface every explanation method shares: built once with its parameters, called on a batch.

    explainer = SomeExplainer(model, ...)
    explanation = explainer.explain(x, targets=None, seeds=None)

`x` is a batch of images (n, H, W, C), any size and channel count; `targets` the class to
explain per image (default: the model's predicted class); `seeds` one integer per image for the
methods that draw random numbers, so that an image gets the same explanation whether it is
explained alone or in a batch (default: 0, 1, ..., n-1 added to the explainer's seed).

The model is any Keras 3 classifier mapping (n, H, W, C) to (n, classes). ``outputs`` says
what it returns: ``"logits"`` (the default: softmax is applied here where probabilities are
needed) or ``"probabilities"`` (a softmax output: logs are taken directly). The model must treat
the rows of a batch independently (inference mode, no batch statistics).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

# The per-image noise lives with the noise in-filler, in networks.infill.
from networks.infill import per_image_normal, per_image_uniform  # noqa: F401

OUTPUTS = ("logits", "probabilities")


@dataclass
class Explanation:
    """What `Explainer.explain` returns for a batch of n images of H x W pixels.

    ``scores`` (n, H, W): one score per pixel, higher = more important (kept first by
    `top_k_mask`); for mask methods the keep probability (sufficient regions), the drop
    probability (destroying regions) or the logits (a top-k refinement). ``targets`` (n,): the
    class explained. ``kept`` (n,): pixels kept at the method's own threshold (mask methods:
    probability > 0.5; a top-k refinement: its budget), or None where the method has none.
    ``seconds``: wall time of the whole batch. ``extras``: what the method naturally has, e.g.
    ``mask`` (a sampled or final mask, (n, H, W)), ``filled`` (the in-filled input, (n, H, W, C)),
    ``loss`` (final objective per image, (n,)), ``attributions`` (per element, (n, H, W, C)).
    """

    method: str
    scores: np.ndarray
    targets: np.ndarray
    seconds: float
    kept: np.ndarray | None = None
    extras: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)


def check_images(x, images: bool = True) -> np.ndarray:
    """`x` as float32; a ValueError unless it is a non-empty, finite batch of images (n, H, W, C), or
    with ``images=False`` of instances of any shape (n, ...)."""
    x = np.asarray(x, np.float32)
    if (x.ndim != 4 if images else x.ndim < 2) or len(x) == 0:
        shape, one = ("of images (n, H, W, C)", "image") if images else ("(n, *instance_shape)", "instance")
        raise ValueError(f"x must be a non-empty batch {shape}, got shape {x.shape}; for one {one} pass x[None]")
    if not np.all(np.isfinite(x)):
        raise ValueError("x contains NaN or infinite values")
    return x


def call_model(model, x, name: str = "model") -> np.ndarray:
    """`model` on the batch `x`, as a float32 array; a ValueError naming `name` if it cannot take the batch."""
    try:
        out = model(tf.constant(x), training=False)
    except (ValueError, TypeError, tf.errors.InvalidArgumentError) as e:
        raise ValueError(f"{name} cannot take a batch of shape {x.shape}: {e}") from e
    if not tf.is_tensor(out):
        raise ValueError(f"{name} must return a single tensor, got {type(out).__name__}")
    return np.asarray(out, np.float32)


def log_probabilities(out, outputs: str):
    """log p(class | x) for every class, from logits or from probabilities."""
    out = tf.cast(out, tf.float32)
    if outputs == "logits":
        return tf.nn.log_softmax(out, axis=-1)
    return tf.math.log(tf.clip_by_value(out, 1e-12, 1.0))


def pick(values, targets):
    """values[i, targets[i]] for every row i."""
    return tf.gather(values, targets, axis=1, batch_dims=1)


class Explainer:
    """Base of every method: checks inputs, picks targets, times the batch (see the module docstring)."""

    name = "explainer"
    images = True  # the batches it takes: images (n, H, W, C), or instances of any shape

    def __init__(self, model, outputs: str = "logits", seed: int = 0, progress: bool = False):
        if not callable(model):
            raise ValueError("model must be a Keras model (a callable on a batch of images)")
        if outputs not in OUTPUTS:
            raise ValueError(f"outputs must be one of {OUTPUTS}, got {outputs!r}")
        self.model, self.outputs, self.seed, self.progress = model, outputs, int(seed), progress

    def settings(self) -> dict:
        return {"outputs": self.outputs, "seed": self.seed}

    def explain(self, x, targets=None, seeds=None) -> Explanation:
        return self._explain_checked(x, targets, seeds)

    def _explain_checked(self, x, targets, seeds, **inputs) -> Explanation:
        """`explain` after a subclass checked its own per-image `inputs` (a start to refine), which reach
        `_explain` as tensors; the time of the batch includes them."""
        x = check_images(x, self.images)
        n = len(x)
        scores = call_model(self.model, x)
        if scores.ndim != 2 or scores.shape[0] != n or scores.shape[1] < 2:
            raise ValueError(f"model must return (n, classes >= 2) scores, got shape {scores.shape}")
        classes = scores.shape[1]
        targets = scores.argmax(axis=1) if targets is None else np.asarray(targets).reshape(-1)
        if targets.shape != (n,) or np.any(targets < 0) or np.any(targets >= classes):
            raise ValueError(f"targets must be {n} class indices in [0, {classes - 1}]")
        seeds = self.seed + np.arange(n) if seeds is None else np.asarray(seeds).reshape(-1)
        if seeds.shape != (n,):
            raise ValueError(f"seeds must hold one integer per image ({n}), got shape {seeds.shape}")
        start = time.perf_counter()
        explanation = self._explain(tf.constant(x), tf.constant(targets.astype(np.int32)),
                                    tf.constant(seeds.astype(np.int32)), **inputs)
        explanation.seconds = time.perf_counter() - start
        explanation.settings = self.settings()
        return explanation

    def _explain(self, x, targets, seeds, **inputs) -> Explanation:
        raise NotImplementedError

    # --- what the methods differentiate ---------------------------------------------------------
    def log_prob(self, x, targets):
        """log p_t(x) per image."""
        return pick(log_probabilities(self.model(x, training=False), self.outputs), targets)

    def target_output(self, x, targets):
        """The model's output for the target class: its logit, or its probability for a softmax model."""
        return pick(tf.cast(self.model(x, training=False), tf.float32), targets)


def channel_sum(a):
    """(n, H, W, C) -> (n, H, W): the per-pixel total of per-element attributions."""
    return tf.reduce_sum(a, axis=-1)
