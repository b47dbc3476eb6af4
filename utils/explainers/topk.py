"""Cut any score map to a binary mask with exactly k kept pixels per image, by the budget mode's rule.

The rule is written once, in `networks.budget` (``keep_count``, ``ranking``): the same k of a budget and the same
order (descending score, equal scores by position, the earlier first) as the hider's top-k masks.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from networks.budget import keep_count, ranking


def budget_pixels(fraction: float, pixels: int) -> int:
    """The number of pixels a budget `fraction` in (0, 1] of `pixels` keeps: round(fraction x pixels), at least 1
    (`networks.budget.keep_count`)."""
    if not 0 < fraction <= 1:
        raise ValueError(f"a budget is a fraction in (0, 1], got {fraction}")
    return int(keep_count(fraction, pixels))


def top_k_mask(scores, k) -> np.ndarray:
    """Boolean (n, H, W) mask keeping the k highest-scored pixels of each image (`networks.budget.ranking`).

    `k` is one integer for every image or one per image (0 <= k <= H * W). Ties are broken by
    the pixel's position, row-major, the earlier pixel first, so the cut is deterministic.
    """
    scores = np.asarray(scores, np.float64)
    if scores.ndim != 3:
        raise ValueError(f"scores must be (n, H, W), got shape {scores.shape}")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores contain NaN or infinite values")
    n, pixels = len(scores), scores.shape[1] * scores.shape[2]
    k = np.broadcast_to(np.asarray(k), (n,)).astype(np.int64)
    if np.any(k < 0) or np.any(k > pixels):
        raise ValueError(f"k must be in [0, {pixels}] pixels, got {k.min()}..{k.max()}")
    _, ranks = ranking(tf.constant(scores.reshape(n, pixels)))
    return (ranks.numpy() < k[:, None]).reshape(scores.shape)
