"""Explanation methods for any Keras classifier, batched, behind one call: ``explain(x, targets=None)``.

    cem.py         contrastive explanations: pertinent positives and negatives (CEM)
    masks.py       masks optimised per image: FIDO (SSR/SDR) and BBMP (meaningful perturbation)
    gradients.py   gradient, gradient x input, integrated gradients, SmoothGrad; occlusion
    infillers.py   what replaces dropped pixels (zero, mean, local mean, blur, noise, autoencoder)
    references.py  rankings that know nothing of the model (random, random foreground, brightest)
    edges.py       the Sobel edge filter (sobel): a model-free floor for benchmarks with known evidence
    topk.py        cut any score map to exactly k kept pixels per image
    factory.py     an explainer by method name, with explicit settings
    base.py        the shared interface and `Explanation`
"""
from utils.config.schema import METHODS
from utils.explainers.base import OUTPUTS, Explainer, Explanation
from utils.explainers.cem import ContrastiveExplainer
from utils.explainers.edges import EdgeExplainer
from utils.explainers.gradients import GradientExplainer, OcclusionExplainer
from utils.explainers.infillers import INFILLERS, build_infiller, infill
from utils.explainers.masks import MaskExplainer, default_reg_coef
from utils.explainers.topk import budget_pixels, top_k_mask

__all__ = ["ContrastiveExplainer", "EdgeExplainer", "Explainer", "Explanation", "GradientExplainer", "INFILLERS",
           "METHODS", "MaskExplainer", "OUTPUTS", "OcclusionExplainer", "budget_pixels", "build_infiller",
           "default_reg_coef", "infill", "top_k_mask"]
