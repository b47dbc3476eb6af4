"""What a mask puts in place of the pixels it drops: the blend every masked model and explainer uses.

With a keep mask z in [0, 1] (1 = observed) of shape (n, H, W, 1) and an in-filler G,

    x~ = x * z + (1 - z) * G(x, round(z))

As in FIDO's code, G sees the rounded mask and carries no gradient: the gradient reaches z
through the blend only. An in-filler is a callable ``G(x, z, seeds, iteration)`` on batches;
`seeds` and `iteration` draw per-image noise where it has any. The in-fillers beyond zero live
in `utils.explainers.infillers`.
"""
from __future__ import annotations

import tensorflow as tf


def infill(x, z, infiller, seeds=None, iteration=0):
    """x~ = x * z + (1 - z) * G(x, round(z)), with no gradient through G."""
    hard = tf.stop_gradient(tf.round(z))
    fill = tf.stop_gradient(infiller(x, hard, seeds, iteration))
    return x * z + (1.0 - z) * fill


class Infiller:
    name = "infiller"

    def __call__(self, x, z, seeds=None, iteration=0):
        raise NotImplementedError

    def settings(self) -> dict:
        return {"infiller": self.name}


class Zero(Infiller):
    name = "zero"

    def __call__(self, x, z, seeds=None, iteration=0):
        return tf.zeros_like(x)
