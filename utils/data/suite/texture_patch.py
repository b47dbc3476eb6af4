"""`texture_patch`: colour 48 x 48, the texture of a small square patch (horizontal stripes, vertical stripes or
a checkerboard) on a background of irregular colour texture.

* **What decides the class:** the texture inside the patch: stripes across (``horizontal``), stripes down
  (``vertical``) or a ``checker`` board, all of period 4 px (2 px of one colour, 2 of the other), three
  classes. The patch's side, place, phase and its two colours are drawn independently of the class.
* **Evidence:** the whole patch, a square of side a ~ U{8, ..., 12} px: a^2 / 48^2, 2.8% to 6.3% of the image
  (the patch is a whole-pixel square, so generated images give the same:
  docs/results/2026-12-07-suite-evidence-shares.md).
* **Background:** irregular texture of the same scale: per channel, a base level ~ U[0.25, 0.6] plus
  0.12 z, with z smooth noise of sigma 1 px clipped to +-3, so its grain (a few pixels) matches the
  stripes' but has no orientation or period.
* **Colours:** the patch's first colour is bright and saturated (one channel in [0.85, 1], the others in
  [0, 0.6]); the second is it darkened by a factor ~ U[0.2, 0.4], so the stripes always show.
"""
from __future__ import annotations

import numpy as np

from utils.data.suite.base import DataSet
from utils.data.suite.drawing import smooth_noise

SIZE, PERIOD = 48, 4
CLASSES = ("horizontal", "vertical", "checker")


def texture(kind: str, side: int, phase: tuple[int, int]) -> np.ndarray:
    """bool (side, side): which pixels of the patch take the first colour. With half-period h = PERIOD / 2 and
    (i, j) a pixel's offset in the patch shifted by `phase`: horizontal (i // h) mod 2 = 0, vertical
    (j // h) mod 2 = 0, checker (i // h + j // h) mod 2 = 0."""
    half = PERIOD // 2
    i, j = np.mgrid[0:side, 0:side]
    bands_across, bands_down = (i + phase[0]) // half, (j + phase[1]) // half
    pattern = {"horizontal": bands_across, "vertical": bands_down, "checker": bands_across + bands_down}[kind]
    return pattern % 2 == 0


def _bright_colour(rng) -> np.ndarray:
    """A bright, saturated colour: one channel in [0.85, 1], the others in [0, 0.6]."""
    colour = rng.uniform(0.0, 0.6, 3)
    colour[rng.integers(3)] = rng.uniform(0.85, 1.0)
    return colour


def render(label: int, rng, with_object: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(image float (48, 48, 3) in [0, 1], evidence bool (48, 48)) of one image of class `label`."""
    image = rng.uniform(0.25, 0.6, 3) + 0.12 * np.clip(smooth_noise(rng, SIZE, sigma=1.0, channels=3), -3.0, 3.0)
    side = int(rng.integers(8, 13))
    top, left = rng.integers(0, SIZE - side + 1, 2)
    phase = tuple(int(p) for p in rng.integers(0, PERIOD, 2))
    first = _bright_colour(rng)
    second = first * rng.uniform(0.2, 0.4)
    evidence = np.zeros((SIZE, SIZE), bool)
    if with_object:
        first_colour = texture(CLASSES[label], side, phase)
        image[top:top + side, left:left + side] = np.where(first_colour[..., None], first, second)
        evidence[top:top + side, left:left + side] = True
    return np.clip(image, 0.0, 1.0), evidence


DATA_SET = DataSet("texture_patch", "colour 48 px: the texture (horizontal or vertical stripes, checker) of a "
                   "small patch on an irregular colour texture", SIZE, 3, CLASSES, (0.027, 0.063), render)
