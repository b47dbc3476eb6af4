"""The evaluation of a Hide-and-Seek run (evaluation.py): resolve the inputs, evaluate every checkpoint, recommend one.

For each run of the series: the figures of every checkpoint and the recommendation
(`utils.evaluation.checkpoints`), CEM's PP/PN beside the HnS mask at the recommended checkpoint
(`utils.evaluation.contrastive`), and the masks of a few checkpoints for the figures. The files,
tables and figures: `utils.reporting.evaluation_report`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from utils.config.schema import as_dict
from utils.errors import UsageError
from utils.evaluation.baseline import Baseline, load_baseline
from utils.runs import (VARIANT_FLAGS, Run, checkpoint_stem, default_baseline, default_hider_weights,
                        default_seeker_weights, hns_model_type, locked, series)


@dataclass
class Inputs:
    runs: list[Run]
    baseline: Baseline | None
    seeker: Path | None        # the pretrained seeker (frozen judge, CEM), if its file exists
    autoencoder: Path | None   # the pretrained hider autoencoder (CEM's term), if its file exists


def resolve(cfg) -> Inputs:
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
    return Inputs(runs, baseline, seeker if seeker.is_file() else None,
                  autoencoder if autoencoder.is_file() else None)


def evaluate(cfg) -> list[dict]:
    """Evaluate every run of `cfg` and write its report; returns one report dict per run."""
    inputs = resolve(cfg)

    from networks.build import build_hns, load_autoencoder, load_seeker
    from utils.config.arguments import data_arguments, hns_arguments
    from utils.data import load_data
    from utils.evaluation.checkpoints import aggregate_runs
    from utils.reporting.evaluation_report import write, write_across_runs
    from utils.seeding import seed_everything

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
            report, figures = compute(cfg, inputs, run, model, frozen, autoencoder, data)
            reports.append(report)
            if cfg.debug:
                print(figures["table"])
                continue
            figures["examples"] = example_views(model, report["checkpoints"], figures["best"], data, cfg.examples)
            write(cfg, run, report, figures, data)
        if len(reports) > 1 and not cfg.debug:
            write_across_runs(cfg, inputs.runs, len(reports), aggregate_runs([r["checkpoints"] for r in reports]))
    return reports


def compute(cfg, inputs: Inputs, run: Run, model, frozen, autoencoder, data) -> tuple[dict, dict]:
    """The report of one run, and what its figures need."""
    from utils.evaluation.checkpoints import evaluate_run, recommend
    from utils.evaluation.metrics import fixed_mask_warning
    from utils.reporting.tables import table

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
    figures = {"best": best, "rule": rule, "table": table(rows, best), "cem": None}
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
    from networks.weights import load_weights
    from utils.evaluation.contrastive import compare_pp_pn
    from utils.evaluation.prediction import as_float_images
    from utils.config.arguments import cem_arguments
    from utils.explainers.factory import LEARNING_RATES

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


@dataclass
class ExampleView:
    """The masks of one checkpoint on the first test images, for a mask grid."""
    name: str          # the checkpoint's file stem
    recommended: bool
    row: dict          # the checkpoint's row of the report
    x: object          # (n, H, W, C) float images
    probabilities: object
    masks: object
    preds: object      # the checkpoint's seeker's classes on the kept pixels


def example_views(model, rows, recommended: int, data, n: int = 8) -> list[ExampleView]:
    """The masks of the recommended and a few other checkpoints on the first `n` test images."""
    import tensorflow as tf

    from networks.weights import load_weights
    from utils.evaluation.prediction import as_float_images, batched

    @tf.function(reduce_retracing=True)
    def views(x):
        y, p, _ = model.mask(x, training=False)
        return y, p, tf.argmax(model.seeker(model.fill(x, y), training=False), -1)

    x = as_float_images(data.test.x[:n])
    out = []
    for i in sorted({recommended, 0, len(rows) // 2, len(rows) - 1}):
        load_weights(model, Path(rows[i]["path"]))
        y, p, preds = batched(views, x)
        out.append(ExampleView(checkpoint_stem(rows[i]["checkpoint"]), i == recommended, rows[i], x, p, y, preds))
    return out
