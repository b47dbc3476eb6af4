"""A one-pass explainer of a fixed classifier: a hider trained against the frozen classifier ("amortised").

Per-image methods (BBMP, FIDO) optimise a mask m_i for each image i. An amortised explainer learns one
network g (the hider: any hider of `networks.hider`) whose logits h = g(x) rank the pixels of any image, by
minimising the same objective over the training images, the classifier f never updated:

    min_g  E_x [ CE( f( fill(x, topk(g(x), k)) ), t(x) ) ]  (+ W H( f( fill(x, 1 - topk(g(x), k)) ) ) where asked)

with t(x) = argmax f(x) the class f predicts (what BBMP explains), topk the budget mode's exact k-pixel mask
with its straight-through gradient (`networks.budget.TopKNeuron`), fill the in-filler the judges use
(`networks.infill`), and H the entropy of the masked-out term (Phang et al. 2020). Training is a Hide-and-Seek
run with ``seeker_training="frozen"`` and the classifier as the seeker (`utils.stages.amortised`).

Dabkowski & Gal (2017, "Real time image saliency for black box classifiers", NeurIPS) trained such a masking
model for a frozen ImageNet classifier; REAL-X (Jethani et al. 2021, "Have we learned to explain?", AISTATS)
trains a selector against a frozen evaluator. Semi-amortised inference (Kim et al. 2018, ICML) refines the
amortised guess per image: pass this explainer's scores to BBMP or FIDO as their ``start``
(`utils.explainers.masks.MaskExplainer.explain`).

The mask does not depend on ``targets``: the hider learnt to keep what the classifier needs for the class it
predicts, so the explanation is always of the predicted class (``targets`` are checked and recorded, and an
explanation of another class is the same map). The amortisation gap: g is fitted on training images, so on
test images it can be less faithful than per-image optimisation from the same start (docs/explainers.md).

Scores: the hider's logits h, (n, H, W); ``kept`` is None (no threshold: cut the ranking at a budget with
`utils.explainers.topk.top_k_mask`); ``extras["probability"]`` is sigmoid(h).
"""
from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from utils.explainers.base import Explainer, Explanation


class AmortisedExplainer(Explainer):
    """The "amortised" method: one pass of `hider` (a Keras model from images to (n, H, W, 1) mask logits),
    trained against the frozen `model` (module docstring)."""

    name = "amortised"

    def __init__(self, model, hider, outputs: str = "logits", seed: int = 0, progress: bool = False,
                 batch_size: int = 500):
        super().__init__(model, outputs=outputs, seed=seed, progress=progress)
        if not isinstance(hider, keras.Model) or len(hider.output_shape) != 4 or hider.output_shape[-1] != 1:
            raise ValueError("hider must be a Keras model from images (n, H, W, C) to one channel of mask logits "
                             f"(n, H, W, 1), got {getattr(hider, 'output_shape', type(hider).__name__)}")
        self.hider, self.batch_size = hider, int(batch_size)
        self._pass = tf.function(lambda images: hider(images, training=False)[..., 0], reduce_retracing=True)

    def settings(self) -> dict:
        return {**super().settings(), "method": self.name, "hider": self.hider.name}

    def _explain(self, x, targets, seeds) -> Explanation:
        logits = np.concatenate([self._pass(x[i:i + self.batch_size]).numpy()
                                 for i in range(0, len(x), self.batch_size)])
        return Explanation(self.name, logits, targets.numpy(), 0.0,
                           extras={"probability": 1.0 / (1.0 + np.exp(-logits))})

    def save(self, path) -> Path:
        """The hider as a whole Keras file (`path` ends in .keras): its architecture and weights."""
        path = Path(path)
        self.hider.save(path)
        return path

    @classmethod
    def load(cls, model, path, **kwargs) -> "AmortisedExplainer":
        """The explainer of `model` with the hider saved at `path` (a .keras file of `save`)."""
        return cls(model, keras.saving.load_model(path, compile=False), **kwargs)
