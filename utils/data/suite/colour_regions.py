"""`colour_regions`: colour 40 x 40, the hue (red, green or blue) of one large filled polygon among grey polygons
of the same kind.

* **What decides the class:** the colour of the one coloured region: its hue is 0, 120 or 240 degrees
  (``red``, ``green``, ``blue``) plus a jitter ~ U[-20, 20] degrees, saturation and value ~ U[0.6, 1]. Its
  shape, size and place are drawn independently of the class.
* **Evidence:** the whole region, a convex polygon of 5 to 8 vertices (at jittered, evenly spread angles on an
  ellipse of axis ratio ~ U[0.6, 1], turned at random) scaled to an area ~ U[0.105, 0.14] of the image; drawn last,
  so all of it shows; the rasterised range in `DATA_SET.evidence_share`
  (docs/results/2026-12-07-suite-evidence-shares.md).
* **Background:** a flat grey level ~ U[0.3, 0.7] with 2 distractors: polygons drawn the same way but grey
  (saturation 0, value ~ U[0.15, 0.9]), which the region may cover in part; grey pixel noise of standard
  deviation 0.02 clipped to +-3 standard deviations over everything. Only the region has colour: its
  channels differ by value x saturation >= 0.36 (at least 0.3 once the noise is clipped at 1), a grey
  pixel's by none.
"""
from __future__ import annotations

import numpy as np

from utils.data.suite.base import DataSet
from utils.data.suite.drawing import convex_polygon_mask, hsv_to_rgb

SIZE, DISTRACTORS = 40, 2
CLASSES = ("red", "green", "blue")
HUES = {"red": 0.0, "green": 120.0, "blue": 240.0}


def polygon_vertices(rng, area: float) -> np.ndarray:
    """(k, 2) vertices (row, column) of a random convex polygon of `area` px^2, centred on (0, 0).

    Points at increasing angles on an ellipse form a convex polygon; angle j is 2 pi (j + u_j) / k + a turn,
    u_j ~ U[-0.3, 0.3], so no side spans much more than its share of the turn and the polygon is never a
    sliver. The shoelace formula
    A = 1/2 |sum_i (r_i c_{i+1} - r_{i+1} c_i)| gives its area, and scaling by sqrt(area / A) sets it.
    """
    k = int(rng.integers(5, 9))
    angles = 2 * np.pi * (np.arange(k) + rng.uniform(-0.3, 0.3, k)) / k
    ratio, turn = rng.uniform(0.6, 1.0), rng.uniform(0.0, np.pi)
    points = np.stack([ratio * np.sin(angles), np.cos(angles)], axis=1)
    rotation = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    points = points @ rotation.T
    rolled = np.roll(points, -1, axis=0)
    shoelace = 0.5 * abs(np.sum(points[:, 0] * rolled[:, 1] - rolled[:, 0] * points[:, 1]))
    points *= np.sqrt(area / shoelace)
    return points - points.mean(axis=0)


def placed_polygon(rng, area: float) -> np.ndarray:
    """bool (SIZE, SIZE): a random polygon of `area` px^2 at a random place where it lies wholly in the image."""
    vertices = polygon_vertices(rng, area)
    low, high = -vertices.min(axis=0), SIZE - 1 - vertices.max(axis=0)
    return convex_polygon_mask(vertices + rng.uniform(low, high), SIZE)


def render(label: int, rng, with_object: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(image float (40, 40, 3) in [0, 1], evidence bool (40, 40)) of one image of class `label`."""
    image = np.full((SIZE, SIZE, 3), rng.uniform(0.3, 0.7))
    for _ in range(DISTRACTORS):
        image[placed_polygon(rng, rng.uniform(0.105, 0.14) * SIZE ** 2)] = rng.uniform(0.15, 0.9)
    evidence = placed_polygon(rng, rng.uniform(0.105, 0.14) * SIZE ** 2)
    colour = hsv_to_rgb(HUES[CLASSES[label]] + rng.uniform(-20.0, 20.0), rng.uniform(0.6, 1.0),
                        rng.uniform(0.6, 1.0))
    if with_object:
        image[evidence] = colour
    else:
        evidence = np.zeros_like(evidence)
    return np.clip(image + 0.02 * np.clip(rng.normal(size=(SIZE, SIZE, 1)), -3.0, 3.0), 0.0, 1.0), evidence


DATA_SET = DataSet("colour_regions", "colour 40 px: the hue (red, green, blue) of one large filled polygon among "
                   "grey polygons", SIZE, 3, CLASSES, (0.10, 0.15), render)
