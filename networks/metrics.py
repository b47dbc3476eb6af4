"""Fidelity and its combinations with Interpretability, which the HnS model logs during training.

With acc the accuracy of the Hide-and-Seek model, base that of the seeker trained alone and I
the share of input elements hidden:

    F     acc / base     (Fidelity)
    FIR   F / (F + I)
    FII   F * I

They take floats or tensors; `utils.evaluation.metrics` scores checkpoints with the same functions.
"""
from __future__ import annotations


def fidelity(accuracy, baseline):
    return accuracy / baseline


def fir(f, i):
    """F / (F + I); 0 when both are 0."""
    if isinstance(f, (int, float)) and isinstance(i, (int, float)):
        return f / (f + i) if f + i > 0 else 0.0
    from keras import ops

    return ops.divide_no_nan(f, f + i)


def fii(f, i):
    return f * i
