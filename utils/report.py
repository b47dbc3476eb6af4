"""The evaluation report of a Hide-and-Seek run (the logic behind evaluation.py)."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from utils.config import Config, as_dict
from utils.errors import UsageError
from utils.paths import default_baseline, default_hider_weights, default_seeker_weights, hns_model_type, run_paths


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


def evaluate(cfg: Config, min_fidelity: float = 0.98, leakage_epochs: int = 3, examples: int = 8,
             cem: dict | None = None, tolerance_se: float = 1.0) -> list[dict]:
    """Evaluate every run of `cfg` and write its report; returns one report dict per run.

    `cem` ({images, c_steps, iterations}) adds the contrastive comparison of the recommended
    checkpoint (utils/contrastive_report.py): PP and PN of the first `images` test images on the
    pretrained and the HnS seeker, with the MNIST example settings of CEM (kappa 0, beta 0.1,
    gamma 100 with the pretrained hider autoencoder, c_init 1) but fewer c steps and iterations
    so that it fits in the demo; explain.py runs the full search.
    """
    cem = {"images": 10, "c_steps": 5, "iterations": 300, **(cem or {})}
    if not 0 < min_fidelity <= 1.5:
        raise UsageError(f"--min_fidelity must be in (0, 1.5], got {min_fidelity}")
    if not 0 <= tolerance_se <= 10:
        raise UsageError(f"--fidelity_se must be in [0, 10] standard errors, got {tolerance_se}")
    if leakage_epochs < 0:
        raise UsageError(f"--leakage_epochs must be >= 0, got {leakage_epochs}")
    if examples < 1:
        raise UsageError(f"--examples must be >= 1, got {examples}")
    for key in ("images", "c_steps", "iterations"):
        if cem[key] < (0 if key == "images" else 1):
            raise UsageError(f"--cem_{key} must be >= {0 if key == 'images' else 1}, got {cem[key]}")
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
        best, rule = recommend(rows, min_fidelity, baseline is not None, tolerance_se)
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
        if cem["images"] and frozen is not None:
            report["contrastive"] = _contrastive(cfg, model, frozen, rows[best], data, results, cem)
            atomic_write_json(results / "evaluation.json", report)
        elif cem["images"]:
            print(f"notice: no seeker weights at {seeker_path}: the PP/PN comparison is left out")
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


def _contrastive(cfg, model, frozen, row, data, results, cem: dict) -> dict:
    """PP/PN of the pretrained and the HnS seeker at the recommended checkpoint, with its mask."""
    from utils.contrastive_report import MNIST_SETTINGS, compare_pp_pn, load_autoencoder
    from utils.data import to_float
    from utils.weights import load_weights

    settings = {**MNIST_SETTINGS, "c_steps": cem["c_steps"], "max_iterations": cem["iterations"]}
    ae_path = Path(cfg.hider_weights) if cfg.hider_weights else default_hider_weights(cfg)
    autoencoder = load_autoencoder(cfg.model, data.image_shape, ae_path) if ae_path.is_file() else None
    if autoencoder is None:
        print(f"notice: no hider autoencoder at {ae_path}: CEM runs without its autoencoder term (gamma 0)")
        settings["gamma"] = 0.0
    load_weights(model, Path(row["path"]))
    n = min(cem["images"], len(data.test))
    summary = compare_pp_pn({"pretrained seeker": frozen, "HnS seeker": model.seeker}, autoencoder, model,
                            to_float(data.test.x[:n]).numpy(), data.test.y[:n], results, settings,
                            checkpoint=row["checkpoint"])
    for name, s in summary["seekers"].items():
        iou = s["iou"]["mean"]
        print(f"  CEM on the {name}: PP found {s['PP']['found_rate']:.2f}, PN found {s['PN']['found_rate']:.2f}, "
              f"mean IoU of PP support and HnS kept pixels {'n/a' if iou is None else f'{iou:.2f}'}")
    print(f"contrastive explanations: {results / 'contrastive.json'}")
    return summary
