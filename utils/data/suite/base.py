"""What every data set of the suite is (`DataSet`) and how its splits are drawn (`generate_split`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class DataSet:
    """One generator of the suite.

    `render(label, rng, with_object=True)` draws one image of class `label` from the random generator
    `rng`: (image float (size, size, channels) in [0, 1], evidence bool (size, size)). With
    ``with_object=False`` it draws the same image without the class object (the same random draws), so the
    pixels that differ between the two are exactly what the object changed: the tests compare them with the
    evidence. `evidence_share` is the range of the evidence's share of the image's pixels, as measured on
    generated images (docs/results/2026-12-07-suite-evidence-shares.md).
    """

    name: str
    description: str
    size: int
    channels: int
    classes: tuple[str, ...]
    evidence_share: tuple[float, float]
    render: Callable


class Generated(NamedTuple):
    """A split: images uint8 (n, size, size, channels), labels int32 (n,), evidence bool (n, size, size),
    and the class names (label k is ``classes[k]``)."""

    images: np.ndarray
    labels: np.ndarray
    evidence: np.ndarray
    classes: tuple[str, ...]


def generate_split(data_set: DataSet, split: str, n: int, seed: int) -> Generated:
    """`n` images of `split` ('train', 'val' or 'test') of `data_set`, a deterministic function of (seed, split).

    Classes are balanced: image i has class i mod K before a seeded shuffle, so every class has
    floor(n / K) or ceil(n / K) images. Image i is drawn from its own generator, seeded with
    (seed, split's index, i), so the splits of one seed are independent draws.
    """
    split_index = SPLITS.index(split)
    labels = np.arange(n) % len(data_set.classes)
    np.random.default_rng([seed, split_index]).shuffle(labels)
    size, channels = data_set.size, data_set.channels
    images = np.empty((n, size, size, channels), np.uint8)
    evidence = np.empty((n, size, size), bool)
    for i, label in enumerate(labels):
        image, evidence[i] = data_set.render(int(label), np.random.default_rng([seed, split_index, i]))
        images[i] = np.rint(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)
    return Generated(images, labels.astype(np.int32), evidence, data_set.classes)
