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

The package exports only the names, so that the configuration (`utils.config.schema`) offers them before
TensorFlow starts; the explainers are imported from their modules.
"""
from utils.explainers.choices import INFILLERS, LEARNING_RATES, METHODS, REFERENCES, default_occlusion_patch

__all__ = ["INFILLERS", "LEARNING_RATES", "METHODS", "REFERENCES", "default_occlusion_patch"]
