"""The baseline: accuracy of the seeker trained alone, which Fidelity divides by.

``baseline.json`` holds the test accuracy (``accuracy``) and the validation accuracy
(``val_accuracy``, which lets the recommendation judge Fidelity on validation data alone); a
text file holding a bare accuracy is accepted too.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from utils.runs.records import read_record, value


@dataclass(frozen=True)
class Baseline:
    test: float
    val: float | None
    source: str


def load_baseline(path) -> Baseline:
    """The accuracies in `path` (baseline.json, or a text file holding a bare number), each in (0, 1]."""
    fix = "point --baseline at a baseline.json written by baseline.py, or run baseline.py again"
    record = read_record(path, fix)
    if not isinstance(record, dict):  # a bare accuracy
        record = {"accuracy": record}
    test = value(record, "accuracy", path, fix, low=0, high=1, low_open=True)
    val = value(record, "val_accuracy", path, fix, low=0, high=1, low_open=True, required=False)
    return Baseline(test, val, str(Path(path)))


def measure_baseline(seeker, data, batch_size: int = 256) -> dict:
    """Test and validation accuracy of `seeker` on every image of `data`'s splits, each once."""
    from utils.evaluation.prediction import predict_classes

    preds = predict_classes(seeker, data.test.x, batch_size)
    val_preds = predict_classes(seeker, data.val.x, batch_size)
    return {"accuracy": float(np.mean(preds == data.test.y)), "test_images": len(preds),
            "correct": int(np.sum(preds == data.test.y)),
            "val_accuracy": float(np.mean(val_preds == data.val.y)), "val_images": len(val_preds)}
