"""Fidelity and its combinations with Interpretability, and the foreground rule, which the HnS model logs
during training.

With acc the accuracy of the Hide-and-Seek model, base that of the seeker trained alone and I
the share of input elements hidden:

    F     acc / base     (Fidelity)
    FIR   F / (F + I)
    FII   F * I

They take floats or tensors; `utils.evaluation.metrics` scores checkpoints with the same functions.
"""
from __future__ import annotations

from keras import ops


def fidelity(accuracy, baseline):
    return accuracy / baseline


def fir(f, i):
    """F / (F + I); 0 when both are 0."""
    if isinstance(f, (int, float)) and isinstance(i, (int, float)):
        return f / (f + i) if f + i > 0 else 0.0

    return ops.divide_no_nan(f, f + i)


def fii(f, i):
    return f * i


def foreground_pixels(x, threshold: float):
    """The foreground of images `x` (N, H, W, C) in [0, 1], as (N, H, W) booleans (numpy or tensors).

    A pixel is foreground when some channel differs from the image's background colour b by more
    than `threshold`, b being the per-channel median of the image's border pixels (its outermost
    rows and columns)::

        fg[n, i, j] = max_c |x[n, i, j, c] - b[n, c]| > threshold

    On data with a black background this is the former rule max_c x > threshold exactly (the
    border median is 0 on all 5,000 mnist-5k digits), so MNIST figures do not change. On colour
    images that rule made every pixel foreground (I_fg = I); this one keeps the pixels that stand
    out from the surrounding background: exact on a uniform background, an estimate on cluttered
    or textured ones, where texture far from the median colour counts as foreground (``fg_share``
    of `figures_of_merit` says how much of the image that is).
    """

    x = ops.convert_to_tensor(x)
    border = ops.concatenate([x[:, 0], x[:, -1], x[:, 1:-1, 0], x[:, 1:-1, -1]], axis=1)  # (N, 4H - 4, C)
    background = ops.median(border, axis=1)[:, None, None, :]
    return ops.max(ops.abs(x - background), axis=-1) > threshold
