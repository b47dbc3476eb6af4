"""Contrastive explanations of trained seekers, checked and compared with the hider's masks.

Builds on :class:`utils.contrastive.ContrastiveExplainer` (CEM): one batched ``explain`` call per
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
  "visible" level: CEM keeps a PP as faint as it can (pretrained seeker_small on mnist-5k at
  the MNIST settings: PP maxima 0.04 to 0.15 for 80% of the images, median entry 0.03), so a
  threshold like 0.05 would empty most PPs. ``pp_in_kept = |S & K| / |S|`` says how much of the
  PP the hider keeps.

The seekers output logits, so the CEM margin ``kappa`` is on the logit scale (no softmax is
applied); with ``kappa = 0`` that does not change which solutions are valid.
"""
from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Mapping, Optional

import numpy as np

from utils.errors import UsageError

MODES = ("PP", "PN")
# The MNIST example of the CEM paper and of alibi (with its autoencoder).
MNIST_SETTINGS = dict(kappa=0.0, beta=0.1, gamma=100.0, c_init=1.0, c_steps=10, max_iterations=1000,
                      learning_rate_init=1e-2)
SUPPORT_THRESHOLD = 0.5 / 255
ROWS_PER_PAGE = 10
# Flag of each setting in explain.py, for error messages.
FLAGS = dict(kappa="--kappa", beta="--beta", gamma="--gamma", c_init="--c_init", c_steps="--c_steps",
             max_iterations="--max_iterations", learning_rate_init="--learning_rate", save_every="--save_every")


def check_settings(settings: Mapping) -> dict:
    """``settings`` (ContrastiveExplainer keyword arguments) with the ranges checked: UsageError if not."""
    s = {**MNIST_SETTINGS, **settings}
    for name in ("kappa", "beta", "gamma"):
        if not np.isfinite(s[name]) or s[name] < 0:
            raise UsageError(f"{FLAGS[name]} must be a finite number >= 0, got {s[name]}")
    for name in ("c_init", "learning_rate_init"):
        if not np.isfinite(s[name]) or s[name] <= 0:
            raise UsageError(f"{FLAGS[name]} must be a finite number > 0, got {s[name]}")
    for name in ("c_steps", "max_iterations"):
        if s[name] < 1:
            raise UsageError(f"{FLAGS[name]} must be >= 1, got {s[name]}")
    every = s.get("save_every")
    if every is not None and not 1 <= every <= s["max_iterations"]:
        raise UsageError(f"--save_every must be in [1, --max_iterations = {s['max_iterations']}], got {every}")
    return s


def load_autoencoder(model: str, image_shape, path):
    """The pretrained hider autoencoder (sigmoid output, as many channels as the input) for the CEM term."""
    from networks.hider import build_hider
    from utils.weights import load_weights

    autoencoder = build_hider(model, image_shape, out_channels=image_shape[-1])
    load_weights(autoencoder, path)
    return autoencoder


def predict(model, x, batch_size: int = 256) -> np.ndarray:
    """Classes ``argmax model(x)`` in batches, in inference mode."""
    import tensorflow as tf

    x = np.asarray(x, np.float32)
    return np.concatenate([np.argmax(model(tf.constant(x[i:i + batch_size]), training=False), -1)
                           for i in range(0, len(x), batch_size)]).astype(np.int64)


def explain(model, x, mode: str, settings: Mapping, autoencoder=None):
    """One batched CEM call; ``autoencoder`` is used only when ``settings['gamma'] > 0``."""
    from utils.contrastive import ContrastiveExplainer

    s = dict(settings)
    return ContrastiveExplainer(model, mode=mode, autoencoder=autoencoder if s["gamma"] > 0 else None,
                                **s).explain(x)


def _mean(values) -> Optional[float]:
    values = np.asarray(values, np.float64)
    return float(values.mean()) if values.size else None


def summarize(model, exp) -> dict:
    """Found rate, sparsity and verification of one :class:`CEMExplanation` by re-running ``model``.

    ``verified`` counts the found rows whose re-run prediction satisfies the mode (PN: differs from
    ``X_pred``, PP: equals it); ``failures`` lists the indices of found rows that do not. ``empty``
    counts found PPs with no non-zero entry: the empty instance already gets class t, so the PP is
    vacuous (it says the class is the model's default, not what in x supports it). ``mean_l0``,
    ``nonzero_share`` (L0 over the entries of an instance), ``mean_l1`` and ``mean_l2`` average over
    the found rows (None if there is none).
    """
    result = getattr(exp, exp.mode)
    found = np.asarray(exp.found, bool)
    preds = predict(model, result)
    ok = preds != exp.X_pred if exp.mode == "PN" else preds == exp.X_pred
    features = int(np.prod(result.shape[1:]))
    out = {
        "images": int(len(found)), "found": int(found.sum()), "found_rate": float(found.mean()),
        "verified": int((found & ok).sum()),
        "verification": "prediction changed" if exp.mode == "PN" else "prediction kept",
        "failures": np.flatnonzero(found & ~ok).tolist(),
        "mean_l0": _mean(exp.l0[found]), "nonzero_share": _mean(exp.l0[found] / features),
        "mean_l1": _mean(exp.l1[found]), "mean_l2": _mean(exp.l2[found]),
    }
    if exp.mode == "PP":
        out["empty"] = int((found & (exp.l0 == 0)).sum())
    return out


def image_records(explanations: Mapping, labels, indices=None) -> list[dict]:
    """Per image: index, label, X_pred and, per mode, found, pred (-1 if not found), c, l0, l1, l2."""
    first = next(iter(explanations.values()))
    indices = range(len(labels)) if indices is None else indices
    records = []
    for i, (index, label) in enumerate(zip(indices, labels)):
        record = {"index": int(index), "label": int(label), "X_pred": int(first.X_pred[i])}
        for mode, exp in explanations.items():
            record[mode] = {"found": bool(exp.found[i]), "pred": int(getattr(exp, f"{mode}_pred")[i]),
                            "c": float(exp.c[i]), "l0": int(exp.l0[i]), "l1": float(exp.l1[i]),
                            "l2": float(exp.l2[i])}
        records.append(record)
    return records


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


def page_paths(results_dir, stem: str, n: int, per_page: int = ROWS_PER_PAGE) -> list[tuple[Path, slice]]:
    """``stem.png`` for up to ``per_page`` rows, else ``stem_1.png``, ``stem_2.png``, ... with their rows."""
    pages = [slice(i, min(i + per_page, n)) for i in range(0, n, per_page)]
    if len(pages) == 1:
        return [(Path(results_dir) / f"{stem}.png", pages[0])]
    return [(Path(results_dir) / f"{stem}_{k}.png", rows) for k, rows in enumerate(pages, 1)]


def draw_rows(rows: list[list[tuple]], path, title: Optional[str] = None) -> None:
    """A grid of images in [0, 1]; each cell is (image, title, ok) and a False ``ok`` titles it in red."""
    import matplotlib.pyplot as plt

    from utils.io import atomic_savefig
    from utils.plotting import show_image

    n_cols = max(len(r) for r in rows)
    fig, axes = plt.subplots(len(rows), n_cols, figsize=(1.9 * n_cols, 1.8 * len(rows) + 0.5), squeeze=False,
                             layout="constrained")
    for r, row in enumerate(rows):
        for c, (image, name, ok) in enumerate(row):
            show_image(axes[r, c], image, name)
            if not ok:
                axes[r, c].title.set_color("red")
        for c in range(len(row), n_cols):
            axes[r, c].axis("off")
    if title:
        fig.suptitle(textwrap.fill(title, width=int(16 * n_cols)), fontsize=9)
    atomic_savefig(fig, path, dpi=100)
    plt.close(fig)


def explanation_cells(explanations: Mapping, i: int) -> list[tuple]:
    """The PP / PN cells of image i, titled 'PP -> class' (red 'not found' where none).

    A PP is mostly faint (CEM shrinks what it keeps): it is shown divided by its maximum, given
    in the title.
    """
    cells = []
    for mode, exp in explanations.items():
        image = getattr(exp, mode)[i]
        if not exp.found[i]:
            cells.append((image, f"{mode} not found", False))
            continue
        title = f"{mode} -> {getattr(exp, f'{mode}_pred')[i]} (L0 {exp.l0[i]}"
        if mode == "PP" and image.max() == 0:
            title += ": empty"
        elif mode == "PP":
            title += f", max {image.max():.2f}"
            image = image / image.max()
        cells.append((image, title + ")", True))
    return cells


def save_savepoints(path, exp, indices) -> None:
    """``exp.savepoints`` as an npz file (written atomically): iterations (k,), iterates (k, n, ...), indices (n,)."""
    from utils.io import atomic_path

    with atomic_path(path, ".npz") as tmp:
        np.savez_compressed(tmp, iterations=np.array([k for k, _ in exp.savepoints]),
                            iterates=np.stack([a for _, a in exp.savepoints]), indices=np.asarray(indices))


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def compare_pp_pn(seekers: Mapping, autoencoder, hns_model, x, labels, results_dir=None,
                  settings: Optional[Mapping] = None, checkpoint: Optional[str] = None,
                  support_threshold: float = SUPPORT_THRESHOLD) -> dict:
    """PP and PN of each seeker on a batch, checked, and the PP compared with the HnS mask.

    Args:
        seekers: {name: seeker} Keras classifiers on the raw input x (e.g. ``{"pretrained": frozen,
            "hns": hns_model.seeker}``); each is explained on x itself, not on the masked x.
        autoencoder: the pretrained hider autoencoder for the CEM term, or None when ``gamma == 0``.
        hns_model: a :class:`networks.hns.HideAndSeek` with the checkpoint to compare loaded;
            ``hns_model.mask(x)`` gives the kept pixels, ``hns_model(x)`` its prediction.
        x: float images (n, H, W, C) in [0, 1]. labels: their n true classes.
        results_dir: where ``contrastive.json`` and ``contrastive_<name>[_<page>].png`` go
            (one figure per seeker, rows input | HnS mask | HnS kept pixels | PP | PN, at most
            ``ROWS_PER_PAGE`` rows per file); None writes nothing.
        settings: ContrastiveExplainer keyword arguments, :data:`MNIST_SETTINGS` for what is missing.
        checkpoint: name of the HnS checkpoint, recorded and shown in the titles.
        support_threshold: PP entries above it form the PP support S of the IoU.

    Returns a JSON-able dict: settings, support_threshold, labels, the HnS predictions and kept
    share, and per seeker its predictions, ``PP`` and ``PN`` (:func:`summarize`), ``iou`` (per
    image, mean over found PPs) and ``pp_in_kept`` (per image, mean).
    """
    import tensorflow as tf

    settings = check_settings(settings or {})
    x = np.asarray(x, np.float32)
    labels = np.asarray(labels)
    mask, _, _ = hns_model.mask(tf.constant(x), training=False)
    mask = np.asarray(mask, np.float32)
    hns_pred = predict(hns_model, x)
    report = {
        "settings": settings, "support_threshold": support_threshold, "checkpoint": checkpoint,
        "images": len(x), "labels": labels.tolist(),
        "hns": {"pred": hns_pred.tolist(), "kept_share": float(mask.mean()),
                "accuracy": float(np.mean(hns_pred == labels))},
        "seekers": {},
    }
    figures = []
    for name, seeker in seekers.items():
        explanations = {mode: explain(seeker, x, mode, settings, autoencoder) for mode in MODES}
        pp = explanations["PP"]
        iou = support_iou(pp.PP, pp.found, mask, support_threshold)
        in_kept = _pp_in_kept(pp.PP, pp.found, mask, support_threshold)
        report["seekers"][name] = {
            "pred": pp.X_pred.tolist(),
            **{mode: summarize(seeker, exp) for mode, exp in explanations.items()},
            "iou": {"per_image": iou, "mean": _mean([v for v in iou if v is not None])},
            "pp_in_kept": {"per_image": in_kept, "mean": _mean([v for v in in_kept if v is not None])},
        }
        if results_dir is None:
            continue
        rows = []
        for i in range(len(x)):
            rows.append([
                (x[i], f"label {labels[i]}, pred {pp.X_pred[i]}", pp.X_pred[i] == labels[i]),
                (mask[i], f"HnS mask ({int(mask[i].sum())} kept)", True),
                (x[i] * mask[i], f"HnS kept: pred {hns_pred[i]}", hns_pred[i] == labels[i]),
                *explanation_cells(explanations, i)])
        for path, page in page_paths(results_dir, f"contrastive_{_slug(name)}", len(x)):
            draw_rows(rows[page], path, title=f"seeker '{name}': CEM vs HnS mask"
                                              + (f" of {checkpoint}" if checkpoint else "")
                                              + f" (mean IoU of PP support and kept pixels: "
                                              f"{_fmt(report['seekers'][name]['iou']['mean'])})")
            figures.append(str(path))
    report["figures"] = figures
    if results_dir is not None:
        from utils.io import atomic_write_json

        atomic_write_json(Path(results_dir) / "contrastive.json", report)
    return report


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"
