"""The evaluation report of a Hide-and-Seek run (evaluation.py): its files, figures and TensorBoard scalars.

Per run: ``evaluation.json`` (written last: its presence marks a finished report),
``evaluation.csv``, ``tradeoff.png``, ``masks_<checkpoint>.png`` for the recommended and a few
other checkpoints, the contrastive comparison (``contrastive.json``, ``contrastive_*.png``) and
TensorBoard scalars; with --num_trainings, ``across_runs.json``/``.png`` beside the runs. What
is in them is computed by `utils.stages.evaluation`.
"""
from __future__ import annotations

from pathlib import Path

import tensorflow as tf

from utils.reporting.explanations import contrastive_figures
from utils.reporting.plotting import across_runs, mask_grid, tradeoff
from utils.reporting.tables import evaluation_csv
from utils.runs import Run, atomic_write_json, atomic_write_text
from utils.runs.layout import EVALUATION
from utils.runs.reports import report_files


def write_evaluation(run: Run, report: dict, figures: dict, data, title: str) -> None:
    """Every file of one run's report, replacing the earlier report all at once (`utils.runs.reports`).
    `title`: the series' (config, model type, identifier), which the trade-off figure gives with the run's index."""
    results = run.paths.make().results
    rows, best = report["checkpoints"], figures["best"]
    with report_files(results, EVALUATION) as staged:
        atomic_write_text(staged / "evaluation.csv", evaluation_csv(rows, report["settings"]))
        tradeoff(rows, staged / "tradeoff.png", best, title=title + (f" run {run.index}" if run.index else ""))
        masks = example_figures(figures["examples"], data.test.y, staged)
        if figures["cem"] is not None:
            cem_report, views = figures["cem"]
            drawn = contrastive_figures(cem_report, views, data.test.x[:cem_report["images"]], staged)
            cem_report["figures"] = [str(results / Path(p).name) for p in drawn]
            atomic_write_json(staged / "contrastive.json", cem_report)
        atomic_write_json(staged / EVALUATION, report)
    if figures["cem"] is not None:
        print(f"contrastive explanations: {results / 'contrastive.json'}")
    log_to_tensorboard(rows, run.paths.logs / "evaluation")
    print(figures["table"])
    print(f"recommended: {rows[best]['checkpoint']} ({figures['rule']}): test accuracy "
          f"{rows[best]['test']['accuracy']:.3f}, I_fg {rows[best]['test']['I_fg']:.3f}")
    for warning in report["warnings"]:
        print(f"warning: {warning}")
    print(f"report: {run.paths.evaluation} (+ evaluation.csv, tradeoff.png, "
          f"{', '.join(p.name for p in masks)})")
    print(f"TensorBoard: tensorboard --logdir {run.paths.logs}")


def write_across_runs(runs: list[Run], count: int, summary: list[dict], identifier: str) -> None:
    """``across_runs.json`` and ``.png`` beside the runs of `identifier`: `summary` is `aggregate_runs` of their
    reports."""
    parent = runs[0].paths.results.parent
    with report_files(parent, "across_runs.json") as staged:
        atomic_write_json(staged / "across_runs.json", {"runs": count, "checkpoints": summary})
        across_runs(summary, staged / "across_runs.png", title=f"{count} runs of {identifier}")
    print(f"across runs: {parent / 'across_runs.json'}, {parent / 'across_runs.png'}")


def log_to_tensorboard(rows: list[dict], log_dir) -> None:
    """Test figures per checkpoint as TensorBoard scalars (step = index of the checkpoint)."""
    writer = tf.summary.create_file_writer(str(log_dir))
    with writer.as_default():
        for step, r in enumerate(rows):
            for k, v in r["test"].items():
                if isinstance(v, float):
                    tf.summary.scalar(f"evaluation/test_{k}", v, step=step)
            if r["alpha"] is not None:
                tf.summary.scalar("evaluation/alpha", r["alpha"], step=step)
            for k in ("leakage", "masked_by_seeker"):
                if k in r:
                    tf.summary.scalar(f"evaluation/{k}", r[k], step=step)
    writer.close()


def example_figures(examples, labels, results_dir: Path) -> list[Path]:
    """One mask grid per `utils.evaluation.examples.ExampleView`: ``masks_<checkpoint>.png``."""
    written = []
    for v in examples:
        path = results_dir / f"masks_{v.name}.png"
        mask_grid(v.x, v.probabilities, v.masks, v.preds, labels[:len(v.x)], path,
                  title=f"{v.row['checkpoint']} ({'recommended' if v.recommended else v.name}): test acc "
                        f"{v.row['test']['accuracy']:.3f}, I_fg {v.row['test']['I_fg']:.3f}")
        written.append(path)
    return written
