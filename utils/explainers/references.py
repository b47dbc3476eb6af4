"""Reference rankings that know nothing of the model, for benchmarks: what any method must beat.

    random              scores ~ U(0, 1) per pixel
    random-foreground   foreground pixels (`networks.metrics.foreground_pixels` at ``threshold``)
                        first, in random order, then the background in random order: u + [foreground]
    brightest           the largest channel value of the pixel, ties (saturated strokes) in random order

The random scores of an image depend only on its seed, as for the other methods.
"""
from __future__ import annotations

import numpy as np

from networks.metrics import foreground_pixels
from utils.explainers.base import Explainer, Explanation
from utils.explainers.choices import REFERENCES


class ReferenceExplainer(Explainer):
    """One of `REFERENCES` (see the module docstring); the model only picks the default targets."""

    def __init__(self, model, kind: str = "random", threshold: float = 0.1, seed: int = 0):
        super().__init__(model, "logits", seed)
        if kind not in REFERENCES:
            raise ValueError(f"kind must be one of {REFERENCES}, got {kind!r}")
        self.name, self.kind, self.threshold = kind, kind, float(threshold)

    def settings(self) -> dict:
        return {**super().settings(), "method": self.kind, "threshold": self.threshold}

    def _explain(self, x, targets, seeds) -> Explanation:
        x = x.numpy()
        brightness = x.max(axis=-1)
        u = np.stack([np.random.default_rng([int(s), 7]).random(x.shape[1:3]) for s in seeds.numpy()])
        if self.kind == "brightest":
            scores = brightness + 1e-6 * u   # below one grey level (1/255): only breaks ties
        else:
            scores = u + np.asarray(foreground_pixels(x, self.threshold)) if self.kind == "random-foreground" else u
        return Explanation(self.name, scores.astype(np.float64), targets.numpy(), 0.0)

