"""ROAD's noisy linear imputation (Rong et al., ICML 2022): removed pixels from their neighbours.

Each removed pixel i takes the weighted mean of its in-image neighbours j, direct ones weighing
1/6 and diagonal ones 1/12 (as in the authors' code, tleemann/road_evaluation):

    (sum_{j in N(i)} w_j) v_i = sum_{j in N(i), kept} w_j x_j + sum_{j in N(i), removed} w_j v_j

one sparse linear system per image and channel over the removed pixels, solved exactly; then
N(0, noise^2) is added to the imputed values (0.01 as in the paper). A removed region is filled
smoothly from its border, so its outline does not stand out the way a constant fill does, and
the shape of what was removed carries little class information by itself.

All images of a batch are solved in one block-diagonal system. An image with no pixel kept has
nothing to impute from: it becomes zeros (plus the noise).
"""
from __future__ import annotations

import numpy as np
from scipy.sparse import csc_matrix
from scipy.sparse.linalg import spsolve

NEIGHBOURS = ((-1, -1, 1 / 12), (-1, 0, 1 / 6), (-1, 1, 1 / 12), (0, -1, 1 / 6),
              (0, 1, 1 / 6), (1, -1, 1 / 12), (1, 0, 1 / 6), (1, 1, 1 / 12))


def impute(images, keep, noise: float = 0.01, seed: int = 0) -> np.ndarray:
    """`images` (n, H, W, C) with the pixels where `keep` (n, H, W) is False imputed (see module doc)."""
    images = np.asarray(images, np.float64)
    keep = np.asarray(keep, bool)
    n, height, width, channels = images.shape
    # An image with no pixel kept has nothing to impute from (its system is singular): zeros.
    empty = np.repeat(~keep.reshape(n, -1).any(axis=1), height * width)
    removed = ~keep.reshape(-1)
    out = images.reshape(-1, channels).copy()
    out[empty] = noise * np.random.default_rng(seed + 1).standard_normal((empty.sum(), channels))
    removed &= ~empty
    unknown = np.flatnonzero(removed)
    if unknown.size == 0:
        return out.reshape(images.shape).astype(np.float32)
    index = np.full(removed.size, -1)
    index[unknown] = np.arange(unknown.size)
    img, rem = np.divmod(unknown, height * width)
    row, col = np.divmod(rem, width)
    rows, cols, values = [], [], []
    rhs = np.zeros((unknown.size, channels))
    diagonal = np.zeros(unknown.size)
    for dr, dc, weight in NEIGHBOURS:
        r, c = row + dr, col + dc
        inside = (r >= 0) & (r < height) & (c >= 0) & (c < width)
        neighbour = img * height * width + np.clip(r, 0, height - 1) * width + np.clip(c, 0, width - 1)
        diagonal += np.where(inside, weight, 0.0)
        known = inside & ~removed[neighbour]
        rhs[known] += weight * out[neighbour[known]]
        free = inside & removed[neighbour]
        rows.append(np.flatnonzero(free))
        cols.append(index[neighbour[free]])
        values.append(np.full(free.sum(), -weight))
    rows = np.concatenate([np.arange(unknown.size), *rows])
    cols = np.concatenate([np.arange(unknown.size), *cols])
    values = np.concatenate([diagonal, *values])
    system = csc_matrix((values, (rows, cols)), shape=(unknown.size, unknown.size))
    solution = spsolve(system, rhs).reshape(unknown.size, channels)
    solution += noise * np.random.default_rng(seed).standard_normal(solution.shape)
    out[unknown] = solution
    return out.reshape(images.shape).astype(np.float32)
