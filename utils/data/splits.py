"""Images and labels as splits: stratified, seeded, disjoint train / validation / test.

Images are held as uint8 arrays (N, H, W, C); `utils.data.pipelines` turns them into float32
batches in [0, 1].
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Split:
    x: np.ndarray  # uint8, (N, H, W, C)
    y: np.ndarray  # int32, (N,)
    evidence: np.ndarray | None = None  # bool (N, H, W): the pixels that decide the class, where known

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, idx) -> "Split":
        return Split(self.x[idx], self.y[idx], None if self.evidence is None else self.evidence[idx])


@dataclass
class Data:
    train: Split
    val: Split
    test: Split
    num_classes: int

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train.x.shape[1:])


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (kept, held out): `fraction` of each class held out, both shuffled by `seed`.

    Every class with at least two members keeps at least one and holds out at least one.
    """
    rng = np.random.default_rng(seed)
    kept, held = [], []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        n_held = int(round(len(idx) * fraction))
        if len(idx) >= 2:
            n_held = min(max(n_held, 1), len(idx) - 1)
        held.append(idx[:n_held])
        kept.append(idx[n_held:])
    kept, held = np.concatenate(kept), np.concatenate(held)
    rng.shuffle(kept)
    rng.shuffle(held)
    return kept, held


def stratified_subset(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Indices of about `n` items with the class proportions of `labels` (all if n >= len)."""
    if n >= len(labels):
        return np.random.default_rng(seed).permutation(len(labels))
    _, held = stratified_split(labels, n / len(labels), seed)
    return held
