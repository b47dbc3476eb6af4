"""Fidelity and Interpretability, and reading a seeker's baseline.

With acc the accuracy of the Hide-and-Seek model and base the accuracy of the seeker trained
alone on the same test split:

    F   = acc / base                      (Fidelity)
    I   = share of input elements hidden  (Interpretability; the mask is 1 where kept)
    FIR = F / (F + I)
    FII = F * I
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from utils.errors import UsageError


def fidelity(accuracy: float, baseline: float) -> float:
    return accuracy / baseline


def fir(f: float, i: float) -> float:
    return f / (f + i) if f + i > 0 else 0.0


def fii(f: float, i: float) -> float:
    return f * i


def read_baseline(path) -> float:
    """Accuracy from baseline.json ({"accuracy": ...}) or a text file holding a bare number."""
    path = Path(path)
    try:
        text = path.read_text().strip()
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"baseline {path} cannot be read ({type(e).__name__}): run baseline.py again")
    try:
        value = json.loads(text)
        if isinstance(value, dict):
            value = value.get("accuracy")
        value = float(value)
    except (ValueError, TypeError):
        raise UsageError(f"baseline {path} holds no accuracy (found {text[:30]!r}): "
                         "point --baseline at baseline.json written by baseline.py")
    if not 0 < value <= 1:
        raise UsageError(f"baseline {path} holds {value}, not an accuracy in (0, 1]: run baseline.py again")
    return value


def predict_classes(model, split, batch_size: int) -> np.ndarray:
    """Predicted class of every image of `split`, each image exactly once, in order."""
    from utils.data import pipeline

    preds = [np.argmax(model(x, training=False), axis=-1) for x, _ in pipeline(split, batch_size)]
    preds = np.concatenate(preds) if preds else np.zeros((0,), np.int64)
    if len(preds) != len(split):
        raise AssertionError(f"evaluated {len(preds)} images instead of {len(split)}")
    return preds
