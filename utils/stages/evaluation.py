"""The evaluation of a Hide-and-Seek run from a configuration (evaluation.py): resolve the inputs, evaluate every
checkpoint, recommend one, write the report; and the checkpoint the other stages read from a run
(`hns_checkpoint`: the recommended one).

For each run of the series: the figures of every checkpoint and the recommendation
(`utils.evaluation.checkpoints`), CEM's PP/PN beside the HnS mask at the recommended checkpoint
(`utils.evaluation.contrastive`), and the masks of a few checkpoints for the figures
(`utils.evaluation.examples`). The files, tables and figures: `utils.reporting.evaluation_report`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from networks.build import build_hns, load_autoencoder, load_seeker
from networks.weights import load_weights
from utils.config.arguments import cem_arguments, data_arguments, hns_arguments
from utils.config.checks import plain_name
from utils.config.schema import as_dict
from utils.data import load_data
from utils.errors import UsageError
from utils.evaluation.baseline import Baseline, load_baseline
from utils.evaluation.checkpoints import aggregate_runs, evaluate_run, recommend
from utils.evaluation.contrastive import compare_pp_pn
from utils.evaluation.examples import example_views
from utils.evaluation.metrics import fixed_mask_warning
from utils.evaluation.prediction import as_float_images
from utils.explainers.choices import LEARNING_RATES
from utils.reporting.evaluation_report import write_across_runs, write_evaluation
from utils.reporting.tables import checkpoint_table
from utils.runs import Run
from utils.runs.records import read_record, value
from utils.seeding import seed_everything
from utils.stages.runs import (VARIANT_FLAGS, default_baseline, default_hider_weights, default_seeker_weights,
                               hns_model_type, locked, series)


@dataclass
class EvaluationInputs:
    runs: list[Run]
    baseline: Baseline | None
    seeker: Path | None        # the pretrained seeker (frozen judge, CEM), if its file exists
    autoencoder: Path | None   # the pretrained hider autoencoder (CEM's term), if its file exists


def evaluation_inputs(cfg) -> EvaluationInputs:
    """Everything the report reads, checked before anything is built or written."""
    runs = series(cfg, hns_model_type(cfg))
    for run in runs:
        if not run.paths.checkpoints():
            raise UsageError(f"no checkpoints in {run.paths.weights}: train it with collaborative_training.py "
                             f"using the same --config, --identifier, {VARIANT_FLAGS}")
    path = Path(cfg.baseline) if cfg.baseline else default_baseline(cfg)
    baseline = load_baseline(path) if path.is_file() else None
    if baseline is None:
        print("notice: no baseline found (pass --baseline or run baseline.py): F, FIR and FII are left out")
    elif baseline.val is None:
        print(f"notice: {baseline.source} has no validation accuracy: the Fidelity floor of the "
              "recommendation uses the test baseline; rerun baseline.py to fix this")
    seeker = Path(cfg.seeker_weights) if cfg.seeker_weights else default_seeker_weights(cfg)
    autoencoder = Path(cfg.hider_weights) if cfg.hider_weights else default_hider_weights(cfg)
    if cfg.cem_images and not seeker.is_file():
        print(f"notice: no seeker weights at {seeker}: the PP/PN comparison is left out")
    elif cfg.cem_images and not autoencoder.is_file():
        print(f"notice: no hider autoencoder at {autoencoder}: CEM runs without its autoencoder term (gamma 0)")
    return EvaluationInputs(runs, baseline, seeker if seeker.is_file() else None,
                            autoencoder if autoencoder.is_file() else None)


def evaluate(cfg) -> list[dict]:
    """Evaluate every run of `cfg` and write its report; returns one report dict per run."""
    inputs = evaluation_inputs(cfg)
    seed_everything(cfg.seed)
    data = load_data(**data_arguments(cfg))
    frozen = inputs.seeker and load_seeker(cfg.seeker_architecture, data.image_shape, data.num_classes, inputs.seeker)
    model = build_hns(data.image_shape, data.num_classes, **hns_arguments(cfg, start_weights=False))
    autoencoder = inputs.autoencoder and load_autoencoder(cfg.model, data.image_shape, inputs.autoencoder,
                                                          cfg.hider_decoder)
    reports = []
    with locked(cfg, hns_model_type(cfg)):
        for run in inputs.runs:
            print(f"evaluating {run.paths.weights}")
            report, figures = run_report(cfg, inputs, run, model, frozen, autoencoder, data)
            reports.append(report)
            if cfg.debug:
                print(figures["table"])
                continue
            figures["examples"] = example_views(model, report["checkpoints"], figures["best"], data, cfg.examples)
            write_evaluation(run, report, figures, data, title=f"{cfg.config} {hns_model_type(cfg)} {cfg.identifier}")
        if len(reports) > 1 and not cfg.debug:
            write_across_runs(inputs.runs, len(reports), aggregate_runs([r["checkpoints"] for r in reports]),
                              cfg.identifier)
    return reports


def run_report(cfg, inputs: EvaluationInputs, run: Run, model, frozen, autoencoder, data) -> tuple[dict, dict]:
    """The report of one run, and what its figures need."""
    baseline = inputs.baseline
    rows = evaluate_run(model, run.paths.checkpoints(), data, cfg.seed, cfg.foreground_threshold,
                        baseline and baseline.test, baseline and (baseline.val or baseline.test), frozen,
                        cfg.leakage_epochs)
    best, rule = recommend(rows, cfg.min_fidelity, baseline is not None, cfg.fidelity_se)
    warning = fixed_mask_warning(rows[best]["test"], f"the recommended {rows[best]['checkpoint']} on the test split")
    report = {
        "run": str(run.paths.weights), "settings": as_dict(cfg), "baseline": baseline and baseline.test,
        "val_baseline": baseline and (baseline.val or baseline.test), "baseline_file": baseline and baseline.source,
        "test_images": len(data.test), "val_images": len(data.val),
        "foreground_threshold": cfg.foreground_threshold, "chance": 1.0 / data.num_classes,
        "recommended": {"checkpoint": rows[best]["checkpoint"], "rule": rule + " (test figures not used)",
                        "test": rows[best]["test"]},
        "warnings": [warning] if warning else [],
        "checkpoints": rows,
    }
    figures = {"best": best, "rule": rule, "table": checkpoint_table(rows, best), "cem": None}
    if cfg.cem_images and frozen is not None:
        figures["cem"] = _contrastive(cfg, model, frozen, autoencoder, rows[best], data)
        report["contrastive"] = figures["cem"][0]
    return report, figures


def _contrastive(cfg, model, frozen, autoencoder, row, data):
    """PP/PN of the pretrained and the HnS seeker at the recommended checkpoint, with its mask.

    The MNIST example settings of CEM (kappa 0, beta 0.1, gamma 100 with the pretrained hider
    autoencoder, c_init 1) with --cem_c_steps and --cem_iterations, fewer than explain.py's full
    search so that it fits in the demo.
    """
    settings = cem_arguments(cfg, c_steps=cfg.cem_c_steps, max_iterations=cfg.cem_iterations,
                             learning_rate_init=LEARNING_RATES["cem"],
                             **({} if autoencoder is not None else {"gamma": 0.0}))
    settings.pop("save_every", None)
    load_weights(model, Path(row["path"]))
    n = min(cfg.cem_images, len(data.test))
    report, views = compare_pp_pn({"pretrained seeker": frozen, "HnS seeker": model.seeker}, autoencoder, model,
                                  as_float_images(data.test.x[:n]), data.test.y[:n], settings)
    report["checkpoint"] = row["checkpoint"]
    for name, s in report["seekers"].items():
        iou = s["iou"]["mean"]
        print(f"  CEM on the {name}: PP found {s['PP']['found_rate']:.2f}, PN found {s['PN']['found_rate']:.2f}, "
              f"mean IoU of PP support and HnS kept pixels {'n/a' if iou is None else f'{iou:.2f}'}")
    return report, views


def hns_checkpoint(cfg, run) -> tuple[Path, str]:
    """The checkpoint of the HnS `run` that faithfulness.py scores and explain.py --start refines from, and how it
    was chosen: --checkpoint, else the one evaluation.json recommends, else the final weights."""
    weights = run.paths.weights
    if cfg.checkpoint:
        path = weights / cfg.checkpoint
        if not path.is_file():
            raise UsageError(f"--checkpoint {cfg.checkpoint}: no such file in {weights}; choose one of "
                             f"{', '.join(p.name for p in run.paths.checkpoints()) or 'none (the run has none)'}")
        return path, "as given by --checkpoint"
    report = run.paths.evaluation
    if report.is_file():
        record = read_record(report, "run evaluation.py again, or pass --checkpoint")
        name = value(record, "recommended.checkpoint", report, "run evaluation.py again, or pass --checkpoint",
                     kind=str, check=lambda v: None if plain_name(v) else f"a file name of the run, got {v!r}")
        if (weights / name).is_file():
            return weights / name, "recommended by evaluation.json"
    if run.paths.final.is_file():
        return run.paths.final, "the final weights (no evaluation.json: run evaluation.py for the recommended one)"
    raise UsageError(f"no checkpoint in {weights}: train it with collaborative_training.py using the same "
                     f"--config, --identifier, {VARIANT_FLAGS}")
