"""Cut any score map to a binary mask with exactly k kept pixels per image."""
from __future__ import annotations

import numpy as np


def budget_pixels(fraction: float, pixels: int) -> int:
    """The number of pixels a budget `fraction` in (0, 1] of `pixels` keeps (at least 1)."""
    if not 0 < fraction <= 1:
        raise ValueError(f"a budget is a fraction in (0, 1], got {fraction}")
    return max(1, int(round(fraction * pixels)))


def top_k_mask(scores, k) -> np.ndarray:
    """Boolean (n, H, W) mask keeping the k highest-scored pixels of each image.

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
    order = np.argsort(-scores.reshape(n, -1), axis=1, kind="stable")
    ranks = np.empty_like(order)
    ranks[np.arange(n)[:, None], order] = np.arange(pixels)[None, :]
    return (ranks < k[:, None]).reshape(scores.shape)
