"""Evaluating the checkpoints of a Hide-and-Seek run on whole splits, and choosing one.

For every checkpoint (``alpha_<a>.weights.h5`` or ``budget_<b>.weights.h5``, and ``final.weights.h5``)
the whole test split is classified once per image with the deterministic evaluation mask, and the same is done on
the validation split, which alone decides the recommended checkpoint. The figures are those of
`utils.evaluation.metrics`; label leakage is `utils.evaluation.leakage`.

Recommended checkpoint: the highest validation FII_fg among checkpoints whose validation
Fidelity (validation accuracy / the seeker's validation accuracy) reaches ``min_fidelity``
within ``tolerance_se`` standard errors of its binomial sampling error (see `recommend`); if
none qualifies, the highest validation FII_fg. Without a baseline the ranking
is by validation accuracy * I_fg (the same ranking, as the baseline is a constant) and no
floor applies. The checkpoints of a budget run (``--mask_mode topk``, each row with its ``budget``)
all keep what their budget says, so among those that reach the floor the smallest budget wins
(ties: the higher validation accuracy). Test figures never enter the choice.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from networks.metrics import foreground_pixels
from networks.weights import load_weights
from utils.evaluation.leakage import LeakageProbe
from utils.evaluation.metrics import fidelity_standard_error, figures_of_merit
from utils.evaluation.prediction import batched, predict_classes
from utils.runs.layout import checkpoint_alpha


@dataclass
class MaskedPredictions:
    preds: np.ndarray   # (N,) predicted classes
    masks: np.ndarray   # (N, H, W) bool, True = kept
    foreground: np.ndarray  # (N, H, W) bool
    scores: np.ndarray  # (N, H, W) float32: the hider's keep probability, its ranking of the pixels


def mask_predictor(model, threshold: float):
    """Compiled (images -> predicted class, kept pixels, foreground, keep probability) of an HnS `model`."""
    @tf.function(reduce_retracing=True)
    def infer(x):
        y, probability, _ = model.mask(x, training=False)
        preds = tf.argmax(model.seeker(model.fill(x, y), training=False), axis=-1)  # the fill it was trained with
        return preds, y[..., 0] > 0.5, foreground_pixels(x, threshold), probability[..., 0]

    return infer


def masked_predictions(predictor, images, batch_size: int = 256) -> MaskedPredictions:
    """`mask_predictor` output for every image, each exactly once, in order."""
    return MaskedPredictions(*batched(predictor, images, batch_size=batch_size))


def recommend(rows: list[dict], min_fidelity: float, have_baseline: bool,
              tolerance_se: float = 1.0) -> tuple[int, str]:
    """Index of the recommended checkpoint from validation figures only, and the rule used.

    With a baseline, a checkpoint qualifies when its validation F is at least `min_fidelity`
    within `tolerance_se` standard errors: F + tolerance_se * SE(F) >= min_fidelity, with SE(F)
    from `fidelity_standard_error`. On a small validation split one image moves F by more
    than the gaps between checkpoints (400 images: 0.0025 per image, SE about 0.011 at 95 %
    accuracy), so a hard floor (tolerance_se = 0) would reject checkpoints on sampling noise;
    the one-standard-error allowance is the usual guard (as in the 1-SE rule of CART).
    Among qualifying checkpoints the highest validation FII_fg wins, or, when every row has a
    ``budget`` (a top-k run), the smallest budget (ties: the higher validation accuracy).
    """
    key = "FII_fg" if have_baseline else "acc_x_I_fg"
    candidates = list(range(len(rows)))
    rule = f"highest validation {key}"
    if have_baseline:
        within = f"F >= {min_fidelity}" if tolerance_se == 0 else \
            f"F + {tolerance_se:g} SE >= {min_fidelity}"
        floor = [i for i in candidates
                 if rows[i]["val"]["F"] + tolerance_se * fidelity_standard_error(rows[i]["val"]) >= min_fidelity]
        if floor and all(r.get("budget") is not None for r in rows):
            best = min(floor, key=lambda i: (rows[i]["budget"], -rows[i]["val"]["accuracy"]))
            return best, f"smallest budget among checkpoints with validation {within}"
        if floor:
            candidates = floor
            rule += f" among checkpoints with validation {within}"
        else:
            rule += f" (no checkpoint reached validation {within})"
    best = max(candidates, key=lambda i: rows[i]["val"][key])
    return best, rule


def aggregate_runs(runs: list[list[dict]]) -> list[dict]:
    """Mean and standard deviation over runs of the test figures, per checkpoint name."""
    names = []
    for rows in runs:
        names += [r["checkpoint"] for r in rows if r["checkpoint"] not in names]
    out = []
    for name in names:
        rows = [r for run in runs for r in run if r["checkpoint"] == name]
        keys = [k for k, v in rows[0]["test"].items() if isinstance(v, float)]
        out.append({"checkpoint": name, "alpha": rows[0]["alpha"], "runs": len(rows),
                    **{f"{k}_mean": float(np.mean([r["test"][k] for r in rows])) for k in keys},
                    **{f"{k}_std": float(np.std([r["test"][k] for r in rows])) for k in keys}})
    return out


FIGURE_KEYS = ("accuracy", "F", "I", "I_fg", "FIR", "FII", "FII_fg", "kept_pixels", "all_fg_hidden",
               "tpr", "pointing", "mask_tpr", "mask_fdr")   # the last four where the evidence is known


def evaluate_run(model, checkpoints: list[Path], data, seed: int = 0, threshold: float = 0.1, baseline=None,
                 val_baseline=None, frozen_seeker=None, leakage_epochs: int = 3, log=print) -> list[dict]:
    """One row per checkpoint: test and validation figures, leakage, frozen-seeker accuracy."""
    predictor = mask_predictor(model, threshold)
    probe = LeakageProbe(data.image_shape[:2], data.num_classes, leakage_epochs, seed) if leakage_epochs else None
    rows = []
    for path in checkpoints:
        load_weights(model, path)
        test = masked_predictions(predictor, data.test.x)
        val = masked_predictions(predictor, data.val.x)
        row = {
            "checkpoint": path.name, "alpha": checkpoint_alpha(path), "path": str(path),
            # a top-k run's weights carry their budget (networks.budget), the final ones too
            "budget": float(model.neuron.budget.numpy()) if model.neuron.estimator == "topk" else None,
            "test": figures_of_merit(test.preds, data.test.y, test.masks, test.foreground, baseline,
                                     data.test.evidence, test.scores),
            "val": figures_of_merit(val.preds, data.val.y, val.masks, val.foreground, val_baseline,
                                    data.val.evidence, val.scores),
        }
        if probe is not None:
            train = masked_predictions(predictor, data.train.x)
            row["leakage"] = probe.score(train.masks, data.train.y, test.masks, data.test.y)
        if frozen_seeker is not None:
            frozen = predict_classes(frozen_seeker, data.test.x, masks=test.masks)
            row["masked_by_seeker"] = float(np.mean(frozen == data.test.y))
        rows.append(row)
        t = row["test"]
        log(f"  {path.name:24s} acc {t['accuracy']:.3f}  I {t['I']:.3f}  I_fg {t['I_fg']:.3f}")
    return rows
