"""The baseline: accuracy of the seeker trained alone, which Fidelity divides by.

``baseline.json`` holds the test accuracy (``accuracy``) and the validation accuracy
(``val_accuracy``, which lets the recommendation judge Fidelity on validation data alone); a
text file holding a bare accuracy is accepted too.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from utils.errors import UsageError


@dataclass(frozen=True)
class Baseline:
    test: float
    val: float | None
    source: str


def load_baseline(path) -> Baseline:
    """The accuracies in `path` (baseline.json, or a text file holding a bare number)."""
    path = Path(path)
    try:
        text = path.read_text().strip()
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"baseline {path} cannot be read ({type(e).__name__}): run baseline.py again")
    val = None
    try:
        value = json.loads(text)
        if isinstance(value, dict):
            val = value.get("val_accuracy")
            value = value.get("accuracy")
        value = float(value)
    except (ValueError, TypeError):
        raise UsageError(f"baseline {path} holds no accuracy (found {text[:30]!r}): "
                         "point --baseline at baseline.json written by baseline.py")
    if not 0 < value <= 1:
        raise UsageError(f"baseline {path} holds {value}, not an accuracy in (0, 1]: run baseline.py again")
    return Baseline(value, None if val is None else float(val), str(path))


def measure_baseline(seeker, data, batch_size: int = 256) -> dict:
    """Test and validation accuracy of `seeker` on every image of `data`'s splits, each once."""
    from utils.evaluation.prediction import predict_classes

    preds = predict_classes(seeker, data.test.x, batch_size)
    val_preds = predict_classes(seeker, data.val.x, batch_size)
    return {"accuracy": float(np.mean(preds == data.test.y)), "test_images": len(preds),
            "correct": int(np.sum(preds == data.test.y)),
            "val_accuracy": float(np.mean(val_preds == data.val.y)), "val_images": len(val_preds)}
