"""A model-free edge filter: the floor that benchmarks with known evidence hold attribution methods to.

The score of pixel (i, j) is the Sobel gradient magnitude of the image, the Euclidean norm over
its C channels of both directional responses (`tf.image.sobel_edges`):

    Gy_c = Ky * x_c,   Gx_c = Kx * x_c      (* cross-correlation, each channel c on its own)

         | -1  -2  -1 |          | -1   0   1 |
    Ky = |  0   0   0 |     Kx = | -2   0   2 |
         |  1   2   1 |          | -1   0   1 |

    score(i, j) = sqrt( sum_c Gx_c(i, j)^2 + Gy_c(i, j)^2 )

so Gx_c(i, j) = [x(i-1, j+1) + 2 x(i, j+1) + x(i+1, j+1)] - [x(i-1, j-1) + 2 x(i, j-1) + x(i+1, j-1)],
and Gy_c the same down the rows. The image is padded by reflection (x(-1, j) = x(1, j)), so a pixel on
the border sees no edge across it. The norm over channels, rather than a sum of per-channel
magnitudes, is the size (Frobenius norm) of the whole estimated Jacobian of the image: it does not
change when the colour axes are rotated, and for one channel it is the usual sqrt(Gx^2 + Gy^2).

Why it is here: it never looks at the model, so it says how far a score map can go by following
contrast alone. XAI-TRIS (Clark, Wilming & Haufe, Machine Learning 2024, arXiv 2306.12816) found
that popular attribution methods often could not significantly beat random baselines and edge
detection (a Sobel and a Laplace filter) at finding the known class evidence; a method that does not beat this row
on `patches` has shown nothing beyond where the image has edges. Like every method it has one call,
`explain(x, targets=None)`; the model is called only to check the batch and name the default
targets (its predicted class), which the scores never depend on. Pixels of equal score (flat regions score 0, the least)
are ordered by position by `top_k_mask`. No threshold of its own (``kept`` is None).
"""
from __future__ import annotations

import tensorflow as tf

from utils.explainers.base import Explainer, Explanation


class EdgeExplainer(Explainer):
    """The "sobel" method: per pixel the Sobel gradient magnitude of the image (module docstring)."""

    name = "sobel"

    def settings(self) -> dict:
        return {"method": self.name, "channels": "norm", "padding": "reflect"}

    def _explain(self, x, targets, seeds) -> Explanation:
        return Explanation(self.name, sobel_magnitude(x).numpy(), targets.numpy(), 0.0)


@tf.function(reduce_retracing=True)
def sobel_magnitude(x):
    """(n, H, W, C) -> (n, H, W): sqrt(sum_c Gx_c^2 + Gy_c^2) (module docstring)."""
    edges = tf.image.sobel_edges(tf.cast(x, tf.float32))
    return tf.sqrt(tf.reduce_sum(tf.square(edges), axis=[-2, -1]))
