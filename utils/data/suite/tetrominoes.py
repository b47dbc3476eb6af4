"""`tetrominoes`: grey 64 x 64, a small T or L tetromino at a random place and rotation on smooth noise.

The design follows the "rigid" scenario of XAI-TRIS (Clark, Wilming & Haufe 2024, Machine Learning,
doi:10.1007/s10994-024-06574-3): a T- or L-shaped tetromino, translated and rotated at random, added to a
background of spatially correlated (smoothed Gaussian) noise; the sizes, contrast and smoothing here are ours.

* **What decides the class:** the shape, T or L (two classes). Its place, rotation (any angle), cell size
  and contrast are drawn independently of the class.
* **Evidence:** the tetromino's pixels: four square cells of side s ~ U[4, 6] px, area 4 s^2, so
  1.6-3.5% of the image before rasterisation; rasterised, the range in `DATA_SET.evidence_share`
  (docs/results/2026-12-07-suite-evidence-shares.md).
* **Background:** 0.5 + 0.1 z, with z smooth noise (`smooth_noise`, sigma 2 px) clipped to +-3, so the
  background lies in [0.2, 0.8]. The shape *adds* a contrast c ~ U[0.25, 0.35] to the background under
  it (a signal added to the noise), so every one of its pixels changes and keeps the noise.
"""
from __future__ import annotations

import numpy as np

from utils.data.suite.base import DataSet
from utils.data.suite.drawing import convex_polygon_mask, smooth_noise

SIZE = 64
# The cells (row, column) of each shape, in units of one cell, in its upright pose.
CELLS = {
    "T": ((0, 0), (0, 1), (0, 2), (1, 1)),
    "L": ((0, 0), (1, 0), (2, 0), (2, 1)),
}
CLASSES = tuple(CELLS)


def tetromino_mask(shape: str, centre, angle: float, cell: float, size: int) -> np.ndarray:
    """bool (size, size): the pixels of tetromino `shape` with cells of side `cell` px, rotated by `angle`
    radians (counter-clockwise on screen) about its cells' centroid, which lands on `centre` (row, column)."""
    cells = np.array(CELLS[shape], float)
    cells -= cells.mean(axis=0)
    corners = np.array([(-0.5, -0.5), (-0.5, 0.5), (0.5, 0.5), (0.5, -0.5)])
    # Rows grow downwards, so turning counter-clockwise on screen maps (row, col) by [[cos, -sin], [sin, cos]].
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    mask = np.zeros((size, size), bool)
    for c in cells:
        square = (c + corners) * cell @ rotation.T
        mask |= convex_polygon_mask(square + np.asarray(centre, float), size)
    return mask


def render(label: int, rng, with_object: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(image float (64, 64, 1) in [0, 1], evidence bool (64, 64)) of one image of class `label`."""
    background = 0.5 + 0.1 * np.clip(smooth_noise(rng, SIZE, sigma=2.0), -3.0, 3.0)
    cell = rng.uniform(4.0, 6.0)
    # No corner lies farther than 1.9 cells from the centroid (the L's: (1.75, 0.75) cells away), so the
    # shape stays whole inside the image at any angle.
    margin = int(np.ceil(1.9 * cell)) + 1
    centre = rng.uniform(margin, SIZE - 1 - margin, 2)
    angle, contrast = rng.uniform(0.0, 2 * np.pi), rng.uniform(0.25, 0.35)
    evidence = tetromino_mask(CLASSES[label], centre, angle, cell, SIZE)
    if not with_object:
        return background, np.zeros_like(evidence)
    return np.clip(background + contrast * evidence[..., None], 0.0, 1.0), evidence


DATA_SET = DataSet("tetrominoes", "grey 64 px: the shape (T or L) of a small tetromino, any place and rotation, "
                   "on smooth noise", SIZE, 1, CLASSES, (0.014, 0.037), render)
