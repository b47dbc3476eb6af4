"""The order in which an HnS hider ranks the pixels: its keep probability, or the mode of its kept set.

The budget mode trains the top k of the hider's logits as a set (`networks.budget`: the straight-through
gradient reaches the logits near the k-th, and a logit far above the cut gets no push), so the order inside
the kept set is trained only by the nested prefix. Where the kept set lies on the evidence and its highest
logit does not (a pixel on the evidence's border, which the in-fill makes informative), the place where the
kept pixels are densest is a better first pixel. Smoothing the keep probability s (n, H, W) with a
Gaussian kernel G_sigma of sigma pixels is a kernel density estimate of the kept pixels (Parzen 1962,
"On estimation of a probability density function and mode", Ann. Math. Statist.); its maximum is the
kept set's mode, the point mean shift converges to (Comaniciu & Meer 2002, "Mean shift: a robust approach
toward feature space analysis", IEEE TPAMI):

    r = G_sigma * s + eps * s        (eps = 1e-6: equal densities keep the hider's own order)

Smoothing can also move the mode off the kept set (between two parallel strokes, where no pixel is kept). Given
the binary mask y, the kept set's densest *kept* pixel comes first:

    r = y * (2 + G_sigma * s) + (1 - y) * s

every kept pixel above every other (s and G_sigma * s lie in [0, 1]), the kept ones by density, the others by s.

with G_sigma * s computed per image by `scipy.ndimage.gaussian_filter` (reflecting borders, truncated at 4
sigma). sigma = 0 is the hider's own ranking, r = s. Which sigma: docs/results/ (chosen by leaving one data
set of the suite out).
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

TIE_BREAK = 1e-6


def mode_ranking(probability, sigma: float, mask=None) -> np.ndarray:
    """r (n, H, W) of the module docstring from the keep probability `probability` (n, H, W); sigma >= 0 pixels;
    with the binary `mask` y (n, H, W), its kept pixels first."""
    s = np.asarray(probability, np.float64)
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0 pixels, got {sigma}")
    if sigma == 0:
        return s
    density = gaussian_filter(s, sigma=(0, sigma, sigma), mode="reflect")
    if mask is None:
        return density + TIE_BREAK * s
    y = np.asarray(mask, bool)
    return np.where(y, 2.0 + density + TIE_BREAK * s, s)
