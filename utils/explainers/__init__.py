"""Explanation methods for any Keras classifier, batched: contrastive explanations (CEM)."""
from utils.explainers.cem import CEMExplanation, ContrastiveExplainer

__all__ = ["CEMExplanation", "ContrastiveExplainer"]
