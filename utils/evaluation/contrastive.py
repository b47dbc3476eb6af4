"""Contrastive explanations of trained seekers, checked and compared with the hider's masks.

Builds on :class:`utils.explainers.cem.ContrastiveExplainer` (CEM): one batched ``explain`` call per
(seeker, mode) yields pertinent positives (PP, a minimal part of x that keeps the prediction) and
pertinent negatives (PN, a minimal addition to x that changes it). This module

* re-runs the seeker on the returned arrays (:func:`summarize`): every found PN must change the
  prediction, every found PP must keep it; the counts are reported, never assumed;
* measures sparsity: mean L0 (non-zero entries of ``delta = x - adv``; for a PP that is the PP
  itself), the share of the instance's entries that are non-zero, mean L1 and L2;
* compares a PP with the pixels a Hide-and-Seek hider keeps (:func:`compare_pp_pn`), by the
  intersection over union of two pixel sets per image::

      S = {pixels where some channel of PP > support_threshold}     (PP support)
      K = {pixels where the HnS mask == 1}                           (kept by the hider)
      IoU = |S & K| / |S | K|       (1 when both are empty; None when no PP was found)

  The threshold (default half a grey level, 0.5 / 255 on the [0, 1] input scale) only drops
  values that would round to 0 in the uint8 image, i.e. float residue. It is deliberately not a
  "visible" level: CEM keeps a PP as faint as it can (its L1 term shrinks every entry towards the
  no-information value), so a threshold at a visible grey level would empty most PPs.
  ``pp_in_kept = |S & K| / |S|`` says how much of the PP the hider keeps.

The seekers output logits, so the CEM margin ``kappa`` is on the logit scale (no softmax is
applied); with ``kappa = 0`` that does not change which solutions are valid.
"""
from __future__ import annotations

from typing import Mapping, Optional

import numpy as np
import tensorflow as tf

from utils.evaluation.prediction import predict_classes
from utils.explainers.factory import build_explainer

MODES = ("PP", "PN")
SUPPORT_THRESHOLD = 0.5 / 255


def explain(model, x, mode: str, settings: Mapping, autoencoder=None):
    """One batched CEM call (`utils.explainers.factory.build_explainer`, which uses ``autoencoder`` only
    when ``settings['gamma'] > 0``)."""
    return build_explainer(f"cem-{mode.lower()}", model, autoencoder=autoencoder, **settings).explain(x)


def _mean(values) -> Optional[float]:
    values = np.asarray(values, np.float64)
    return float(values.mean()) if values.size else None


def summarize(model, exp) -> dict:
    """Found rate, sparsity and verification of one CEM `Explanation` (its extras) by re-running ``model``.

    ``verified`` counts the found rows whose re-run prediction satisfies the mode (PN: differs from
    ``X_pred``, PP: equals it); ``failures`` lists the indices of found rows that do not. ``empty``
    counts found PPs with no non-zero entry: the empty instance already gets class t, so the PP is
    vacuous (it says the class is the model's default, not what in x supports it). ``mean_l0``,
    ``nonzero_share`` (L0 over the entries of an instance), ``mean_l1`` and ``mean_l2`` average over
    the found rows (None if there is none).
    """
    e = exp.extras
    mode, l0 = e["mode"], e["l0"]
    result = e[mode]
    found = np.asarray(e["found"], bool)
    preds = predict_classes(model, result)
    ok = preds != e["X_pred"] if mode == "PN" else preds == e["X_pred"]
    features = int(np.prod(result.shape[1:]))
    out = {
        "images": int(len(found)), "found": int(found.sum()), "found_rate": float(found.mean()),
        "verified": int((found & ok).sum()),
        "verification": "prediction changed" if mode == "PN" else "prediction kept",
        "failures": np.flatnonzero(found & ~ok).tolist(),
        "mean_l0": _mean(l0[found]), "nonzero_share": _mean(l0[found] / features),
        "mean_l1": _mean(e["l1"][found]), "mean_l2": _mean(e["l2"][found]),
    }
    if mode == "PP":
        out["empty"] = int((found & (l0 == 0)).sum())
    return out


def support_iou(pp, found, mask, threshold: float = SUPPORT_THRESHOLD) -> list[Optional[float]]:
    """Per image IoU of the PP support and the kept pixels (see the module doc); None where not found."""
    support = np.max(np.asarray(pp), axis=-1) > threshold
    kept = np.max(np.asarray(mask), axis=-1) > 0.5
    inter = np.sum(support & kept, axis=(1, 2))
    union = np.sum(support | kept, axis=(1, 2))
    return [None if not f else (1.0 if u == 0 else float(i / u)) for f, i, u in zip(found, inter, union)]


def _pp_in_kept(pp, found, mask, threshold):
    support = np.max(np.asarray(pp), axis=-1) > threshold
    kept = np.max(np.asarray(mask), axis=-1) > 0.5
    size = support.sum(axis=(1, 2))
    inter = np.sum(support & kept, axis=(1, 2))
    return [None if not f or s == 0 else float(i / s) for f, i, s in zip(found, inter, size)]


def compare_pp_pn(seekers: Mapping, autoencoder, hns_model, x, labels, settings: Mapping,
                  support_threshold: float = SUPPORT_THRESHOLD) -> tuple[dict, dict]:
    """PP and PN of each seeker on a batch, checked, and the PP compared with the HnS mask.

    Args:
        seekers: {name: seeker} Keras classifiers on the raw input x (e.g. ``{"pretrained": frozen,
            "hns": hns_model.seeker}``); each is explained on x itself, not on the masked x.
        autoencoder: the pretrained hider autoencoder for the CEM term, or None when ``gamma == 0``.
        hns_model: a :class:`networks.hns.HideAndSeek` with the checkpoint to compare loaded;
            ``hns_model.mask(x)`` gives the kept pixels, ``hns_model(x)`` its prediction.
        x: float images (n, H, W, C) in [0, 1]. labels: their n true classes.
        settings: ContrastiveExplainer keyword arguments (`utils.config.arguments.cem_arguments`).
        support_threshold: PP entries above it form the PP support S of the IoU.

    Returns (report, views): the JSON-able report (settings, support_threshold, labels, the HnS
    predictions and kept share, and per seeker its predictions, ``PP`` and ``PN``
    (:func:`summarize`), ``iou`` (per image, mean over found PPs) and ``pp_in_kept`` (per image,
    mean)), and what the figures show: the HnS mask and predictions, and the explanations per seeker.
    """
    x = np.asarray(x, np.float32)
    labels = np.asarray(labels)
    mask = np.asarray(hns_model.mask(tf.constant(x), training=False)[0], np.float32)
    hns_pred = predict_classes(hns_model, x)
    report = {
        "settings": dict(settings), "support_threshold": support_threshold, "images": len(x),
        "labels": labels.tolist(),
        "hns": {"pred": hns_pred.tolist(), "kept_share": float(mask.mean()),
                "accuracy": float(np.mean(hns_pred == labels))},
        "seekers": {},
    }
    views = {"mask": mask, "hns_pred": hns_pred, "explanations": {}}
    for name, seeker in seekers.items():
        explanations = {mode: explain(seeker, x, mode, settings, autoencoder) for mode in MODES}
        pp = explanations["PP"].extras
        iou = support_iou(pp["PP"], pp["found"], mask, support_threshold)
        in_kept = _pp_in_kept(pp["PP"], pp["found"], mask, support_threshold)
        report["seekers"][name] = {
            "pred": pp["X_pred"].tolist(),
            **{mode: summarize(seeker, exp) for mode, exp in explanations.items()},
            "iou": {"per_image": iou, "mean": _mean([v for v in iou if v is not None])},
            "pp_in_kept": {"per_image": in_kept, "mean": _mean([v for v in in_kept if v is not None])},
        }
        views["explanations"][name] = explanations
    return report, views
