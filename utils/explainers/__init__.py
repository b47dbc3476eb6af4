"""Explanation methods for any Keras classifier, batched, behind one call: ``explain(x, targets=None)``.

    choices.py     the names of the methods, in-fillers and references (free of TensorFlow)
    cem.py         contrastive explanations: pertinent positives and negatives (CEM)
    masks.py       masks optimised per image: FIDO (SSR/SDR) and BBMP (meaningful perturbation)
    gradients.py   gradient, gradient x input, integrated gradients, SmoothGrad; occlusion
    infillers.py   what replaces dropped pixels (zero, mean, local mean, blur, noise, autoencoder)
    references.py  rankings that know nothing of the model (random, random foreground, brightest)
    edges.py       the Sobel edge filter (sobel): a model-free floor for benchmarks with known evidence
    topk.py        cut any score map to exactly k kept pixels per image
    factory.py     an explainer by method name, with explicit settings
    base.py        the shared interface and `Explanation`

The names come at once, so that the configuration (`utils.config.schema`) offers them before TensorFlow
starts; the explainers (`from utils.explainers import GradientExplainer`) are imported on first use.
"""
from importlib import import_module

from utils.explainers.choices import INFILLERS, LEARNING_RATES, METHODS, REFERENCES, default_occlusion_patch

_LAZY = {"OUTPUTS": "base", "Explainer": "base", "Explanation": "base", "ContrastiveExplainer": "cem",
         "EdgeExplainer": "edges", "GradientExplainer": "gradients", "OcclusionExplainer": "gradients",
         "build_infiller": "infillers", "infill": "infillers", "MaskExplainer": "masks",
         "default_reg_coef": "masks", "budget_pixels": "topk", "top_k_mask": "topk"}

__all__ = ["INFILLERS", "LEARNING_RATES", "METHODS", "REFERENCES", "default_occlusion_patch", *_LAZY]


def __getattr__(name: str):
    """The explainers on first use (PEP 562): importing them starts TensorFlow."""
    if name not in _LAZY:
        raise AttributeError(f"module 'utils.explainers' has no attribute {name!r}")
    return getattr(import_module(f"utils.explainers.{_LAZY[name]}"), name)
