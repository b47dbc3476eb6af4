"""The evaluation report of a Hide-and-Seek run (evaluation.py): resolve the inputs, compute, write.

Per run: ``evaluation.json`` (written last: its presence marks a finished report),
``evaluation.csv``, ``tradeoff.png``, ``masks_<checkpoint>.png`` for the recommended and a few
other checkpoints, the contrastive comparison (``contrastive.json``, ``contrastive_*.png``) and
TensorBoard scalars; with --num_trainings, ``across_runs.json``/``.png`` beside the runs.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from utils.config.schema import as_dict
from utils.errors import UsageError
from utils.evaluation.baseline import Baseline, load_baseline
from utils.runs import (VARIANT_FLAGS, Run, atomic_write_json, atomic_write_text, checkpoint_stem, default_baseline,
                        default_hider_weights, default_seeker_weights, hns_model_type, locked, series)


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
    from utils.data import load_data
    from utils.seeding import seed_everything
    from utils.config.arguments import data_arguments, hns_arguments

    seed_everything(cfg.seed)
    data = load_data(**data_arguments(cfg))
    frozen = inputs.seeker and load_seeker(cfg.model, data.image_shape, data.num_classes, inputs.seeker)
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
            write(cfg, run, report, figures, model, data)
        if len(reports) > 1 and not cfg.debug:
            write_across_runs(cfg, inputs.runs, reports)
    return reports


def compute(cfg, inputs: Inputs, run: Run, model, frozen, autoencoder, data) -> tuple[dict, dict]:
    """The report of one run, and what its figures need."""
    from utils.evaluation.checkpoints import evaluate_run, recommend
    from utils.reporting.tables import table

    baseline = inputs.baseline
    rows = evaluate_run(model, run.paths.checkpoints(), data, cfg.seed, cfg.foreground_threshold,
                        baseline and baseline.test, baseline and (baseline.val or baseline.test), frozen,
                        cfg.leakage_epochs)
    best, rule = recommend(rows, cfg.min_fidelity, baseline is not None, cfg.fidelity_se)
    report = {
        "run": str(run.paths.weights), "settings": as_dict(cfg), "baseline": baseline and baseline.test,
        "val_baseline": baseline and (baseline.val or baseline.test), "baseline_file": baseline and baseline.source,
        "test_images": len(data.test), "val_images": len(data.val),
        "foreground_threshold": cfg.foreground_threshold, "chance": 1.0 / data.num_classes,
        "recommended": {"checkpoint": rows[best]["checkpoint"], "rule": rule + " (test figures not used)",
                        "test": rows[best]["test"]},
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
    from utils.explainers.factory import LEARNING_RATES, cem_settings

    settings = cem_settings(cfg, c_steps=cfg.cem_c_steps, max_iterations=cfg.cem_iterations,
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


def write(cfg, run: Run, report: dict, figures: dict, model, data) -> None:
    """Every file of one run's report; evaluation.json last."""
    from utils.reporting.explanations import contrastive_figures
    from utils.reporting.plotting import tradeoff
    from utils.reporting.tables import csv_text

    results = run.paths.make().results
    rows, best = report["checkpoints"], figures["best"]
    atomic_write_text(results / "evaluation.csv", csv_text(rows, report["settings"]))
    tradeoff(rows, results / "tradeoff.png", best, title=f"{cfg.config} {hns_model_type(cfg)} {cfg.identifier}"
             + (f" run {run.index}" if run.index else ""))
    masks = example_figures(model, rows, best, data, results, cfg.examples)
    if figures["cem"] is not None:
        cem_report, views = figures["cem"]
        cem_report["figures"] = contrastive_figures(cem_report, views, data.test.x[:cem_report["images"]], results)
        atomic_write_json(results / "contrastive.json", cem_report)
        print(f"contrastive explanations: {results / 'contrastive.json'}")
    log_to_tensorboard(rows, run.paths.logs / "evaluation")
    atomic_write_json(run.paths.evaluation, report)
    print(figures["table"])
    print(f"recommended: {rows[best]['checkpoint']} ({figures['rule']}): test accuracy "
          f"{rows[best]['test']['accuracy']:.3f}, I_fg {rows[best]['test']['I_fg']:.3f}")
    print(f"report: {run.paths.evaluation} (+ evaluation.csv, tradeoff.png, "
          f"{', '.join(p.name for p in masks)})")
    print(f"TensorBoard: tensorboard --logdir {run.paths.logs}")


def write_across_runs(cfg, runs: list[Run], reports: list[dict]) -> None:
    from utils.evaluation.checkpoints import aggregate_runs
    from utils.reporting.plotting import across_runs

    summary = aggregate_runs([r["checkpoints"] for r in reports])
    parent = runs[0].paths.results.parent
    atomic_write_json(parent / "across_runs.json", {"runs": len(reports), "checkpoints": summary})
    across_runs(summary, parent / "across_runs.png", title=f"{len(reports)} runs of {cfg.identifier}")
    print(f"across runs: {parent / 'across_runs.json'}, {parent / 'across_runs.png'}")


def log_to_tensorboard(rows: list[dict], log_dir) -> None:
    """Test figures per checkpoint as TensorBoard scalars (step = index of the checkpoint)."""
    import tensorflow as tf

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


def example_figures(model, rows, recommended: int, data, results_dir: Path, n: int = 8) -> list[Path]:
    """Mask grids on the first `n` test images for the recommended and a few other checkpoints."""
    import tensorflow as tf

    from networks.weights import load_weights
    from utils.evaluation.prediction import as_float_images, batched
    from utils.reporting.plotting import mask_grid

    @tf.function(reduce_retracing=True)
    def views(x):
        y, p, _ = model.mask(x, training=False)
        return y, p, tf.argmax(model.seeker(x * y, training=False), -1)

    x = as_float_images(data.test.x[:n])
    written = []
    for i in sorted({recommended, 0, len(rows) // 2, len(rows) - 1}):
        name = checkpoint_stem(rows[i]["checkpoint"])
        load_weights(model, Path(rows[i]["path"]))
        y, p, preds = batched(views, x)
        path = results_dir / f"masks_{name}.png"
        mask_grid(x, p, y, preds, data.test.y[:n], path,
                  title=f"{rows[i]['checkpoint']} ({'recommended' if i == recommended else name}): test acc "
                        f"{rows[i]['test']['accuracy']:.3f}, I_fg {rows[i]['test']['I_fg']:.3f}")
        written.append(path)
    return written
