"""The baseline: accuracy of the seeker trained alone, which Fidelity divides by.

``baseline.json`` holds the test accuracy (``accuracy``) and the validation accuracy
(``val_accuracy``, which lets the recommendation judge Fidelity on validation data alone); a
text file holding a bare accuracy is accepted too (`utils.runs.records.load_baseline` reads it).
"""
from __future__ import annotations

import numpy as np

from utils.evaluation.prediction import predict_classes
# The file's record, which utils.config checks too: utils.runs.records reads it.
from utils.runs.records import Baseline, load_baseline  # noqa: F401


def measure_baseline(seeker, data, batch_size: int = 256) -> dict:
    """Test and validation accuracy of `seeker` on every image of `data`'s splits, each once."""
    preds = predict_classes(seeker, data.test.x, batch_size)
    val_preds = predict_classes(seeker, data.val.x, batch_size)
    return {"accuracy": float(np.mean(preds == data.test.y)), "test_images": len(preds),
            "correct": int(np.sum(preds == data.test.y)),
            "val_accuracy": float(np.mean(val_preds == data.val.y)), "val_images": len(val_preds)}
