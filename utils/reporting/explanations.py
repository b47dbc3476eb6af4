"""Reports of explanations: the files of explain.py's run of any method, and the CEM figures of the evaluation report.

explain.py writes to ``results/<config>/explanations/<method>/<identifier>/``:

* ``explanations.json``: the method and its settings, a summary and, per image: index, label,
  target, the model's class, the final loss (mask methods), the pixels kept at the method's own
  threshold, the pixels kept at --budget and the model's class on the in-filled image they make,
  seconds per image; for CEM also found, c, L0/L1/L2 and the check by re-running the model;
* ``explanations[_<page>].png``: one row per image: input | score map | kept pixels at --budget |
  in-filled image and the model's class on it (| the PP or PN itself, for CEM);
* ``savepoints.npz`` for CEM with --save_every.

The run itself (weights, model, method, the scores at --budget): `utils.stages.explain` and
`utils.evaluation.explanations`.
"""
from __future__ import annotations

import re
from typing import Mapping

import numpy as np

from utils.evaluation.prediction import as_float_images
from utils.reporting.plotting import draw_rows, page_paths
from utils.runs import RunPaths, atomic_path, atomic_write_json
from utils.runs.layout import EXPLANATIONS
from utils.runs.reports import report_files


def legend(method: str) -> dict:
    """What the per-image fields of explanations.json mean for `method`."""
    if method.startswith("cem"):
        kept = "L0 of the pertinent positive / negative (elements changed)"
    elif method.endswith("-topk"):
        kept = "the HnS mask's pixels (at least 1): the refined top-k mask keeps exactly these"
    elif method.endswith("-sdr"):
        kept = "pixels in the destroying region: drop probability > 1/2 (pixels the method removes, not keeps)"
    elif method.startswith(("fido", "bbmp")):
        kept = "pixels in the sufficient region: keep probability > 1/2"
    else:
        kept = "null: the method has no threshold of its own"
    return {"kept": kept,
            "kept_at_budget": "pixels of the top --budget share of the scores (the figure's mask)",
            "pred_filled": "the model's class with only those pixels kept and the rest in-filled",
            "loss": "the method's final objective (FIDO and BBMP; null for the other methods)",
            "seconds": "the whole batch's time divided by its images (the batch is explained at once)"}


def print_summary(method: str, s: Mapping) -> None:
    kept = "" if s["mean_kept"] is None else f"; kept at its own threshold: {s['mean_kept']:.1f} pixels on average"
    print(f"{method}: {s['images']} images in {s['seconds_per_image'] * s['images']:.2f} s "
          f"({s['seconds_per_image'] * 1000:.1f} ms per image){kept}")
    print(f"  keeping the top {s['budget']:.0%} ({s['pixels_at_budget']} pixels) and in-filling the rest, the model "
          f"still gives the target class for {s['target_kept_when_filled']:.1%} of the images")
    if "cem" in s:
        c = s["cem"]
        print(f"  CEM: found for {c['found']}/{c['images']}; re-run: {c['verified']}/{c['found']} {c['verification']}; "
              f"mean L0 {c['mean_l0'] or 0:.1f}, mean L1 {c['mean_l1'] or 0:.2f}")


def write_explanations(paths: RunPaths, report: dict, explanation, x, method: str, title: str, weights: dict,
                       settings: dict) -> None:
    """The figures of `method` (titled `title`), CEM's savepoints and explanations.json (it marks a finished
    run), replacing the earlier report all at once (`utils.runs.reports`).

    `weights`: the weights read ("seeker", "autoencoder"); `settings`: the configuration, both written to
    explanations.json beside the report.
    """
    views = report.pop("views")
    rows = explanation_rows(method, report, explanation, x, views)
    with report_files(paths.results, EXPLANATIONS) as staged:
        pages = page_paths(staged, "explanations", len(x))
        for path, page in pages:
            draw_rows(rows[page], path, title=title)
        if explanation.extras.get("savepoints"):
            save_savepoints(staged / "savepoints.npz", explanation, [r["index"] for r in report["images"]])
        atomic_write_json(staged / EXPLANATIONS, {**report, **weights, "config": settings})
    print(f"explanations: {paths.explanations}, {', '.join(p.name for p, _ in pages)}")


def explanation_rows(method: str, report: dict, explanation, x, views) -> list:
    rows = []
    for j, record in enumerate(report["images"]):
        score = explanation.scores[j]
        scaled = score / score.max() if score.max() > 0 else score
        row = [(x[j], f"#{record['index']}: label {record['label']}, pred {record['pred']}",
                record["pred"] == record["label"]),
               (scaled, f"{method} (target {record['target']})", True),
               (x[j] * views["mask"][j][..., None], f"kept: {record['kept_at_budget']} px", True),
               (np.clip(views["filled"][j], 0, 1), f"filled: class {record['pred_filled']}",
                record["pred_filled"] == record["target"])]
        if method.startswith("cem"):
            row += explanation_cells({explanation.extras["mode"]: explanation}, j)
        rows.append(row)
    return rows


def contrastive_figures(report: dict, views: dict, images, results_dir) -> list[str]:
    """One figure per seeker of the evaluation's CEM comparison: input | HnS mask | kept | PP | PN."""
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


def explanation_cells(explanations: Mapping, i: int) -> list[tuple]:
    """The PP / PN cells of image i, titled 'PP -> class' (red 'not found' where none).

    A PP is mostly faint (CEM shrinks what it keeps): it is shown divided by its maximum, given
    in the title.
    """
    cells = []
    for mode, exp in explanations.items():
        e = exp.extras
        image = e[mode][i]
        if not e["found"][i]:
            cells.append((image, f"{mode} not found", False))
            continue
        title = f"{mode} -> {e[f'{mode}_pred'][i]} (L0 {e['l0'][i]}"
        if mode == "PP" and image.max() == 0:
            title += ": empty"
        elif mode == "PP":
            title += f", max {image.max():.2f}"
            image = image / image.max()
        cells.append((image, title + ")", True))
    return cells


def save_savepoints(path, exp, indices) -> None:
    """CEM's savepoints as an npz file (written atomically): iterations (k,), iterates (k, n, ...), indices (n,)."""
    savepoints = exp.extras["savepoints"]
    with atomic_path(path, ".npz") as tmp:
        np.savez_compressed(tmp, iterations=np.array([k for k, _ in savepoints]),
                            iterates=np.stack([a for _, a in savepoints]), indices=np.asarray(indices))


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"
