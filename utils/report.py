"""The evaluation report of a Hide-and-Seek run (the logic behind evaluation.py)."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from utils.config import Config, as_dict
from utils.errors import UsageError
from utils.paths import default_baseline, default_seeker_weights, hns_model_type, run_paths


def _baselines(cfg: Config) -> tuple[float | None, float | None, str | None]:
    """(test baseline, validation baseline, where from) from --baseline or the default path."""
    from utils.metrics import read_baseline

    path = Path(cfg.baseline) if cfg.baseline else default_baseline(cfg)
    if not path.is_file():
        return None, None, None
    test = read_baseline(path)
    val = None
    try:
        val = json.loads(path.read_text()).get("val_accuracy")
    except (ValueError, AttributeError):
        pass
    return test, val, str(path)


def evaluate(cfg: Config, min_fidelity: float = 0.98, leakage_epochs: int = 3, examples: int = 8) -> list[dict]:
    """Evaluate every run of `cfg` and write its report; returns one report dict per run."""
    if not 0 < min_fidelity <= 1.5:
        raise UsageError(f"--min_fidelity must be in (0, 1.5], got {min_fidelity}")
    if leakage_epochs < 0:
        raise UsageError(f"--leakage_epochs must be >= 0, got {leakage_epochs}")
    if examples < 1:
        raise UsageError(f"--examples must be >= 1, got {examples}")
    runs = [None] if cfg.num_trainings == 1 else list(range(1, cfg.num_trainings + 1))
    all_paths = [run_paths(cfg, hns_model_type(cfg), r) for r in runs]
    from utils.collaborative import checkpoints

    for paths in all_paths:
        if not checkpoints(paths.weights):
            raise UsageError(f"no checkpoints in {paths.weights}: train it with collaborative_training.py "
                             "using the same --config, --identifier and neuron flags")
    baseline, val_baseline, baseline_source = _baselines(cfg)
    if baseline is None:
        print("notice: no baseline found (pass --baseline or run baseline.py): F, FIR and FII are left out")
    elif val_baseline is None:
        print(f"notice: {baseline_source} has no validation accuracy: the Fidelity floor of the "
              "recommendation uses the test baseline; rerun baseline.py to fix this")
        val_baseline = baseline
    seeker_path = Path(cfg.seeker_weights) if cfg.seeker_weights else default_seeker_weights(cfg)

    import numpy as np  # noqa: F401 - imported before TF, as everywhere

    from networks.seeker import build_seeker
    from utils.collaborative import build_hns
    from utils.data import load_data
    from utils.evaluation import aggregate_runs, evaluate_run, example_figures, log_to_tensorboard, recommend
    from utils.evaluation import csv_text, table
    from utils.io import atomic_write_json, atomic_write_text
    from utils.plotting import across_runs, tradeoff
    from utils.training import seed_everything
    from utils.weights import load_weights

    seed_everything(cfg.seed)
    data = load_data(cfg)
    frozen = None
    if seeker_path.is_file():
        frozen = build_seeker(cfg.model, data.image_shape, data.num_classes)
        load_weights(frozen, seeker_path)
    plain = dataclasses.replace(cfg, hider_weights=None, seeker_weights=None)
    model = build_hns(plain, data.image_shape, data.num_classes)
    settings = as_dict(cfg)
    reports, all_rows = [], []
    for run_index, paths in zip(runs, all_paths):
        print(f"evaluating {paths.weights}")
        rows = evaluate_run(model, checkpoints(paths.weights), data, cfg, baseline, val_baseline, frozen,
                            leakage_epochs)
        best, rule = recommend(rows, min_fidelity, baseline is not None)
        report = {
            "run": str(paths.weights), "settings": settings, "baseline": baseline,
            "val_baseline": val_baseline, "baseline_file": baseline_source,
            "test_images": len(data.test), "val_images": len(data.val),
            "foreground_threshold": cfg.foreground_threshold,
            "chance": 1.0 / data.num_classes,
            "recommended": {"checkpoint": rows[best]["checkpoint"], "rule": rule + " (test figures not used)",
                            "test": rows[best]["test"]},
            "checkpoints": rows,
        }
        if cfg.debug:
            print(table(rows, best))
            continue
        results = paths.make().results
        atomic_write_json(results / "evaluation.json", report)
        atomic_write_text(results / "evaluation.csv", csv_text(rows, settings))
        tradeoff(rows, results / "tradeoff.png", best, title=f"{cfg.config} {hns_model_type(cfg)} "
                                                                f"{cfg.identifier}" + (f" run {run_index}" if run_index else ""))
        figures = example_figures(model, rows, best, data, results, examples)
        log_to_tensorboard(rows, paths.logs / "evaluation")
        print(table(rows, best))
        print(f"recommended: {rows[best]['checkpoint']} ({rule}): test accuracy "
              f"{rows[best]['test']['accuracy']:.3f}, I_fg {rows[best]['test']['I_fg']:.3f}")
        print(f"report: {results / 'evaluation.json'} (+ evaluation.csv, tradeoff.png, "
              f"{', '.join(p.name for p in figures)})")
        print(f"TensorBoard: tensorboard --logdir {paths.logs}")
        reports.append(report)
        all_rows.append(rows)
    if len(all_rows) > 1:
        summary = aggregate_runs(all_rows)
        parent = all_paths[0].results.parent
        atomic_write_json(parent / "across_runs.json", {"runs": len(all_rows), "checkpoints": summary})
        across_runs(summary, parent / "across_runs.png", title=f"{len(all_rows)} runs of {cfg.identifier}")
        print(f"across runs: {parent / 'across_runs.json'}, {parent / 'across_runs.png'}")
    return reports
