"""The faithfulness benchmark's report (faithfulness.py): its table, CSV, figures and faithfulness.json.

What it writes, to the HnS run's results folder: ``faithfulness.json`` (settings, the evaluator's
accuracy, one summary per method, one row per method and budget), ``faithfulness.csv`` (the rows),
``faithfulness_budgets.png`` (keep and remove accuracy against budget per method, both judges) and
``faithfulness_examples.png`` (one row per image, one column per method: the kept pixels at the
image's HnS budget) and ``faithfulness_frontier.png`` (EVAL-X keep at the HnS budget against milliseconds
per image, refinements joined to their start). The benchmark itself (judges, methods, scores):
`utils.stages.faithfulness` and `utils.evaluation.benchmark`.
"""
from __future__ import annotations

from pathlib import Path

from utils.reporting.plotting import budget_curves, draw_rows, frontier
from utils.reporting.tables import csv_text
from utils.runs import RunPaths, atomic_write_json, atomic_write_text
from utils.runs.layout import FAITHFULNESS
from utils.runs.reports import report_files

CO_TRAINED = "co-trained HnS seeker (not faithfulness)"
JUDGES = ("evalx", "seeker")


def _fmt(pair) -> str:
    return "     -      " if pair is None else f"{pair[0]:.3f}+-{pair[1]:.3f}"


def line(method: str, s: dict) -> str:
    row = s["at_hns_budget"]
    extra = f"  precision {_fmt(row['precision'])}" if "precision" in row else ""
    if "tpr" in s:
        extra += f"  TPR {_fmt(s['tpr'])} FDR {_fmt(s['fdr'])} pointing {_fmt(s['pointing'])} (at |evidence|)"
    elif "own_mask_tpr" in s:
        extra += f"  TPR {_fmt(s['own_mask_tpr'])} FDR {_fmt(s['own_mask_fdr'])} (its own mask)"
    return (f"{method:22s} {s['seconds_per_image'] * 1e3:9.2f} {_fmt(row['keep_evalx'])} {_fmt(row['remove_evalx'])} "
            f"{_fmt(row['keep_seeker'])} {_fmt(row['remove_seeker'])} {_fmt(s.get('insertion_evalx'))} "
            f"{_fmt(s.get('deletion_evalx'))} {_fmt(s['leakage'])}{extra}")


def faithfulness_table(report: dict) -> str:
    head = (f"{'method':22s} {'ms/image':>9s} {'keep EVAL-X':^12s} {'remove EVAL-X':^12s} {'keep seeker':^12s} "
            f"{'remove seeker':^12s} {'insertion':^12s} {'deletion':^12s} {'leakage':^12s}")
    lines = [f"at each image's HnS budget, {report['images']} {report['split']} images (mean +- "
             "standard error); insertion and deletion: EVAL-X, ROAD imputation, along the budget sweep"]
    if any("precision" in s["at_hns_budget"] for s in report["methods"].values()):
        lines.append("known evidence: precision = share of the kept pixels on the evidence, at the HnS budget; "
                     "TPR, FDR, pointing with the top |evidence| pixels")
    lines += [head, "-" * len(head)]
    lines += [line(m, s) for m, s in report["methods"].items()]
    hns = report["methods"].get("hns")
    if hns:
        lines.append(f"{CO_TRAINED}: keep {_fmt(hns['at_hns_budget'][f'keep_{CO_TRAINED}'])}")
    return "\n".join(lines)


def faithfulness_csv(rows: list[dict]) -> str:
    """faithfulness.csv: one row per method and budget; a (mean, standard error) pair fills two columns, k and k_se."""
    keys = list(dict.fromkeys(k for r in rows for k in r))
    paired = {k for k in keys if any(isinstance(r.get(k), tuple) for r in rows)}
    header = [c for k in keys for c in ([k, f"{k}_se"] if k in paired else [k])]
    cells = [[c for k in keys for c in ((list(r[k]) if isinstance(r.get(k), tuple) else ["", ""]) if k in paired
                                        else [r.get(k)])] for r in rows]
    return csv_text(header, cells)


def write_faithfulness(paths: RunPaths, report: dict, views: dict, name: str) -> Path:
    """faithfulness.json (it marks a finished report), the CSV and figures, replacing the earlier report all
    at once (`utils.runs.reports`); returns the path of faithfulness.json. `name` (config and identifier)
    titles the budget figure."""
    with report_files(paths.results, FAITHFULNESS) as staged:
        _write_files(staged, report, views, name)
    return paths.faithfulness


def _write_files(results: Path, report: dict, views: dict, name: str) -> None:
    atomic_write_text(results / "faithfulness.csv", faithfulness_csv(report["rows"]))
    budget_curves(report, results / "faithfulness_budgets.png", judges=JUDGES,
                  title=f"{name}: {report['images']} {report['split']} images")
    frontier(report, results / "faithfulness_frontier.png",
             title=f"{name}: cost and faithfulness, {report['images']} {report['split']} images")
    methods = list(views["masks"])
    rows = []
    for i in range(min(8, len(views["x"]))):
        x = views["x"][i]
        rows.append([(x, f"label {views['labels'][i]}", True)]
                    + [(x * views["masks"][m][i][..., None], m, True) for m in methods])
    draw_rows(rows, results / "faithfulness_examples.png",
              title="kept pixels at each image's HnS budget, by method")
    atomic_write_json(results / FAITHFULNESS, report)
