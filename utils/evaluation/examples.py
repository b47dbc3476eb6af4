"""The masks of a few checkpoints of a Hide-and-Seek run on the first test images, for the evaluation report's
mask grids (`utils.reporting.evaluation_report.example_figures`)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf

from networks.weights import load_weights
from utils.evaluation.prediction import as_float_images, batched
from utils.runs.layout import checkpoint_stem


@dataclass
class ExampleView:
    """The masks of one checkpoint on the first test images, for a mask grid."""
    name: str          # the checkpoint's file stem
    recommended: bool
    row: dict          # the checkpoint's row of the report
    x: object          # (n, H, W, C) float images
    probabilities: object
    masks: object
    preds: object      # the checkpoint's seeker's classes on the kept pixels


def example_views(model, rows, recommended: int, data, n: int = 8) -> list[ExampleView]:
    """The masks of the recommended and a few other checkpoints on the first `n` test images."""

    @tf.function(reduce_retracing=True)
    def views(x):
        y, p, _ = model.mask(x, training=False)
        return y, p, tf.argmax(model.seeker(model.fill(x, y), training=False), -1)

    x = as_float_images(data.test.x[:n])
    out = []
    for i in sorted({recommended, 0, len(rows) // 2, len(rows) - 1}):
        load_weights(model, Path(rows[i]["path"]))
        y, p, preds = batched(views, x)
        out.append(ExampleView(checkpoint_stem(rows[i]["checkpoint"]), i == recommended, rows[i], x, p, y, preds))
    return out
