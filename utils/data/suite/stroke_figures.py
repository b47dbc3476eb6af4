"""`stroke_figures`: grey 48 x 48, a figure of thin strokes (a triangle, a zigzag or a plus) among loose strokes
of the same kind.

* **What decides the class:** how the figure's 1-px strokes are joined: a closed ``triangle`` (three sides), an
  open ``zigzag`` (three strokes, a Z) or a ``plus`` (two crossing strokes of length 1.2 d). Its span
  d ~ U[14, 18] px, place and rotation (any angle) are drawn independently of the class.
* **Evidence:** the figure's stroke pixels (`segment_mask`: the pixels within 1/2 px of a stroke): about
  2.4 d, 2.6 d and 3.4 d pixels for plus, triangle and zigzag (the count changes with the angle: a stroke at
  45 degrees covers length / sqrt(2) pixels); the range in `DATA_SET.evidence_share`
  (docs/results/2026-12-07-suite-evidence-shares.md).
* **Background:** same-kind clutter on a flat field: 4 to 6 loose strokes, each one straight segment of length
  ~ U[8, 16] px at any angle, drawn like the figure's (same width, same grey) but never within 2 px of the
  disc the figure is drawn in (radius d / sqrt(2), whatever the class) or of each other, so they never join
  it or each other into a figure, and where they lie says nothing of the class; a flat level ~ U[0.05, 0.3]
  plus pixel noise of standard deviation 0.03 clipped to +-3 standard deviations. Strokes take one level
  ~ U[0.75, 1.0] per image.
"""
from __future__ import annotations

import numpy as np

from utils.data.suite.base import DataSet
from utils.data.suite.drawing import dilate, disc_mask, segment_mask

SIZE, GAP = 48, 2
CLASSES = ("triangle", "zigzag", "plus")
_R3 = np.sqrt(3) / 2
# The strokes of each figure, (start, end) in units of its span d, centred on (0, 0), (row, column).
STROKES = {
    # an equilateral triangle inscribed in a circle of diameter d
    "triangle": (((-0.5, 0.0), (0.25, _R3 / 2)), ((0.25, _R3 / 2), (0.25, -_R3 / 2)),
                 ((0.25, -_R3 / 2), (-0.5, 0.0))),
    "zigzag": (((-0.5, -0.5), (-0.5, 0.5)), ((-0.5, 0.5), (0.5, -0.5)), ((0.5, -0.5), (0.5, 0.5))),
    # longer arms (1.2 d), so that a plus turned by 45 degrees (fewer pixels per length) still covers 1%
    "plus": (((-0.6, 0.0), (0.6, 0.0)), ((0.0, -0.6), (0.0, 0.6))),
}


def figure_mask(kind: str, centre, span: float, angle: float, size: int) -> np.ndarray:
    """bool (size, size): the strokes of figure `kind` scaled to `span` px, turned by `angle` radians
    (counter-clockwise on screen) and centred on `centre` (row, column)."""
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    mask = np.zeros((size, size), bool)
    for start, end in STROKES[kind]:
        a, b = (np.asarray(p) * span @ rotation.T + centre for p in (start, end))
        mask |= segment_mask(a, b, size)
    return mask


def loose_strokes(rng, occupied: np.ndarray, count: int, tries: int = 200) -> np.ndarray:
    """bool (size, size): up to `count` straight strokes of length ~ U[8, 16] px placed at random, each more
    than GAP px from `occupied` and from the others (a stroke that does not fit after `tries` draws is left out,
    which happens when the image is full)."""
    size = occupied.shape[0]
    strokes = np.zeros_like(occupied)
    for _ in range(count):
        for _ in range(tries):
            length, angle = rng.uniform(8.0, 16.0), rng.uniform(0.0, np.pi)
            half = 0.5 * length * np.array([np.sin(angle), np.cos(angle)])
            centre = rng.uniform(1 + np.abs(half), size - 2 - np.abs(half))
            stroke = segment_mask(centre - half, centre + half, size)
            if not (stroke & dilate(occupied | strokes, GAP)).any():
                strokes |= stroke
                break
    return strokes


def render(label: int, rng, with_object: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(image float (48, 48, 1) in [0, 1], evidence bool (48, 48)) of one image of class `label`."""
    noise = 0.03 * np.clip(rng.normal(size=(SIZE, SIZE, 1)), -3.0, 3.0)
    background, ink = rng.uniform(0.05, 0.3), rng.uniform(0.75, 1.0)
    span, angle = rng.uniform(14.0, 18.0), rng.uniform(0.0, 2 * np.pi)
    # Every figure fits in a disc of radius span / sqrt(2) (the zigzag's corners are farthest); the clutter
    # avoids that disc rather than the figure's pixels, so that it carries nothing of the figure's shape.
    radius = span / np.sqrt(2)
    centre = rng.uniform(radius + 1, SIZE - 2 - radius, 2)
    evidence = figure_mask(CLASSES[label], centre, span, angle, SIZE)
    clutter = loose_strokes(rng, disc_mask(centre, radius, SIZE), int(rng.integers(4, 7)))
    if not with_object:
        evidence = np.zeros_like(evidence)
    return np.clip(np.where((evidence | clutter)[..., None], ink, background) + noise, 0.0, 1.0), evidence


DATA_SET = DataSet("stroke_figures", "grey 48 px: a figure of thin strokes (triangle, zigzag, plus) among loose "
                   "strokes of the same kind", SIZE, 1, CLASSES, (0.010, 0.035), render)
