"""Reports of explanations: explain.py's CEM run, and the CEM figures of the evaluation report.

explain.py writes to ``results/<config>/explanations/<identifier>/``: ``explanations.json``
(settings, summary, per image: label, X_pred, and per mode found, pred, c, l0, l1, l2),
``explanations[_<page>].png`` (rows of input | PP | PN) and, with --save_every,
``savepoints_<mode>.npz``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

from utils.config.schema import as_dict
from utils.errors import UsageError
from utils.evaluation.contrastive import MODES, cem_settings, summarize
from utils.reporting.plotting import draw_rows, page_paths
from utils.runs import (atomic_path, atomic_write_json, claimed, default_hider_weights, default_seeker_weights,
                        series)


@dataclass
class Inputs:
    seeker: str
    autoencoder: str | None
    modes: list
    settings: dict


def resolve(cfg) -> Inputs:
    """The weights and settings of explain.py, checked before anything is built or written."""
    settings = cem_settings(cfg)
    seeker = cfg.seeker_weights or str(default_seeker_weights(cfg))
    if cfg.seeker_weights is None and not default_seeker_weights(cfg).is_file():
        raise UsageError(f"no seeker weights at {seeker}: run pretrain_seeker.py --config {cfg.config} "
                         f"--identifier {cfg.identifier} first, or pass --seeker_weights PATH")
    autoencoder = None
    if settings["gamma"] > 0:
        autoencoder = cfg.hider_weights or str(default_hider_weights(cfg))
        if cfg.hider_weights is None and not default_hider_weights(cfg).is_file():
            raise UsageError(f"no hider autoencoder at {autoencoder}: run pretrain_hider.py --config {cfg.config} "
                             f"--identifier {cfg.identifier} first, pass --hider_weights PATH, or use --no_ae")
    return Inputs(seeker, autoencoder, [cfg.mode] if cfg.mode else list(MODES), settings)


def test_images(cfg, data):
    """Indices of the first --n test images (of class --sample_from_class, if given)."""
    cls, n = cfg.sample_from_class, cfg.n
    if cls is not None and cls >= data.num_classes:
        raise UsageError(f"--sample_from_class must be a class index >= 0 (at most {data.num_classes - 1}), got {cls}")
    indices = np.arange(len(data.test)) if cls is None else np.flatnonzero(data.test.y == cls)
    if len(indices) < n:
        raise UsageError(f"--n {n}: only {len(indices)} test images" + (f" of class {cls}" if cls is not None else "")
                         + f"; use --n {len(indices)} or less")
    return indices[:n]


def explain_cem(cfg) -> dict:
    """explain.py: PP and PN of the seeker on test images, checked by re-running it, and written."""
    inputs = resolve(cfg)

    from networks.build import load_autoencoder, load_seeker
    from utils.data import load_data
    from utils.evaluation.contrastive import explain
    from utils.evaluation.prediction import as_float_images

    data = load_data(cfg)
    indices = test_images(cfg, data)
    seeker = load_seeker(cfg.model, data.image_shape, data.num_classes, inputs.seeker)
    autoencoder = inputs.autoencoder and load_autoencoder(cfg.model, data.image_shape, inputs.autoencoder)
    (run,) = series(cfg, "explanations")
    with claimed(cfg, "explanations", [run]):
        x, labels = as_float_images(data.test.x[indices]), data.test.y[indices]
        explanations = {mode: explain(seeker, x, mode, inputs.settings, autoencoder) for mode in inputs.modes}
        summary = {mode: summarize(seeker, exp) for mode, exp in explanations.items()}
        print_summary(explanations, summary, labels)
        if cfg.debug:
            return summary
        write_explanations(cfg, inputs, run.paths.results, explanations, summary, x, labels, indices)
    return summary


def print_summary(explanations: Mapping, summary: Mapping, labels) -> None:
    first = next(iter(explanations.values()))
    print(f"{len(labels)} test images, seeker accuracy {np.mean(first.X_pred == labels):.3f}")
    for mode, s in summary.items():
        print(f"{mode}: found for {s['found']}/{s['images']} ({s['found_rate']:.1%}); re-run: "
              f"{s['verified']}/{s['found']} {s['verification']}; mean L0 {s['mean_l0'] or 0:.1f} "
              f"({s['nonzero_share'] or 0:.1%} of the entries), mean L1 {s['mean_l1'] or 0:.2f}"
              + (f"; {s['empty']} empty" if mode == "PP" else ""))


def write_explanations(cfg, inputs: Inputs, results: Path, explanations, summary, x, labels, indices) -> None:
    first = next(iter(explanations.values()))
    rows = [[(x[i], f"#{indices[i]}: label {labels[i]}, pred {first.X_pred[i]}", first.X_pred[i] == labels[i]),
             *explanation_cells(explanations, i)] for i in range(len(x))]
    pages = page_paths(results, "explanations", len(x))
    for path, page in pages:
        draw_rows(rows[page], path, title=f"CEM of {inputs.seeker} ({cfg.config})")
    for mode, exp in explanations.items():
        if exp.savepoints:
            save_savepoints(results / f"savepoints_{mode}.npz", exp, indices)
    atomic_write_json(results / "explanations.json", {
        "settings": {**inputs.settings, "modes": inputs.modes, "autoencoder": inputs.autoencoder,
                     "seeker": inputs.seeker},
        "config": as_dict(cfg), "summary": summary,
        "images": image_records(explanations, labels, indices),
    })
    print(f"explanations: {results}/explanations.json, {', '.join(p.name for p, _ in pages)}")


def contrastive_figures(report: dict, views: dict, images, results_dir) -> list[str]:
    """One figure per seeker of the evaluation's CEM comparison: input | HnS mask | kept | PP | PN."""
    from utils.evaluation.prediction import as_float_images

    x, labels, mask, hns_pred = as_float_images(images), report["labels"], views["mask"], views["hns_pred"]
    written = []
    for name, explanations in views["explanations"].items():
        pred = report["seekers"][name]["pred"]
        rows = [[(x[i], f"label {labels[i]}, pred {pred[i]}", pred[i] == labels[i]),
                 (mask[i], f"HnS mask ({int(mask[i].sum())} kept)", True),
                 (x[i] * mask[i], f"HnS kept: pred {hns_pred[i]}", hns_pred[i] == labels[i]),
                 *explanation_cells(explanations, i)] for i in range(len(x))]
        for path, page in page_paths(results_dir, f"contrastive_{_slug(name)}", len(x)):
            draw_rows(rows[page], path, title=f"seeker '{name}': CEM vs HnS mask of {report['checkpoint']} (mean "
                                              f"IoU of PP support and kept pixels: "
                                              f"{_fmt(report['seekers'][name]['iou']['mean'])})")
            written.append(str(path))
    return written


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
    with atomic_path(path, ".npz") as tmp:
        np.savez_compressed(tmp, iterations=np.array([k for k, _ in exp.savepoints]),
                            iterates=np.stack([a for _, a in exp.savepoints]), indices=np.asarray(indices))


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"
