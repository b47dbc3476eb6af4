"""`blob_count`: grey 32 x 32, the number of small identical blobs (one, two or three) on a flat, mildly noisy
background.

* **What decides the class:** how many blobs there are: 1, 2 or 3 (classes ``one``, ``two``, ``three``).
  Every blob is the same disc of radius 2.3 px (21 pixels: offsets (dr, dc) with dr^2 + dc^2 <= 5.29) at an
  integer place, at least 7 px from the others (so blobs never touch: 2 px of background between them);
  places and grey levels are drawn independently of the class.
* **Evidence:** all the blobs' pixels, 21 k of the 1,024 pixels for k blobs: 2.1%, 4.1% or 6.2% of the image
  (generated images give the same, docs/results/2026-12-07-suite-evidence-shares.md; the share *is* the
  class, as it must be when the count decides).
* **Background:** flat, a level ~ U[0.1, 0.35] plus pixel noise of standard deviation 0.03 clipped to +-3
  standard deviations; blobs take a level ~ U[0.7, 0.95] plus the same noise, so every blob pixel is brighter
  than any background pixel.
"""
from __future__ import annotations

import numpy as np

from utils.data.suite.base import DataSet
from utils.data.suite.drawing import disc_mask

SIZE, RADIUS, MIN_DISTANCE = 32, 2.3, 7.0
CLASSES = ("one", "two", "three")


def blob_centres(rng, count: int) -> list[np.ndarray]:
    """`count` integer centres, at least 3 px from the border and MIN_DISTANCE from each other."""
    centres: list[np.ndarray] = []
    while len(centres) < count:
        c = rng.integers(3, SIZE - 3, 2)
        if all(np.hypot(*(c - other)) >= MIN_DISTANCE for other in centres):
            centres.append(c)
    return centres


def render(label: int, rng, with_object: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(image float (32, 32, 1) in [0, 1], evidence bool (32, 32)) of one image of class `label`
    (``with_object=False``: no blob at all)."""
    noise = 0.03 * np.clip(rng.normal(size=(SIZE, SIZE, 1)), -3.0, 3.0)
    background, blob = rng.uniform(0.1, 0.35), rng.uniform(0.7, 0.95)
    evidence = np.zeros((SIZE, SIZE), bool)
    for centre in blob_centres(rng, label + 1):
        evidence |= disc_mask(centre, RADIUS, SIZE)
    if not with_object:
        evidence[:] = False
    return np.clip(np.where(evidence[..., None], blob, background) + noise, 0.0, 1.0), evidence


DATA_SET = DataSet("blob_count", "grey 32 px: the number (1, 2, 3) of small identical blobs on a flat, "
                   "mildly noisy background", SIZE, 1, CLASSES, (0.020, 0.062), render)
