"""Hide-and-Seek training of a configuration: one run, or a series of --num_trainings runs
(collaborative_training.py), with the alpha or budget schedule its flags choose.

`utils.training.hns.fit_hns` fits one run; this module reads the flags: the model (`hns_arguments`), the
schedule's callbacks, what bounds a run, and which runs are left to do.
"""
from __future__ import annotations

import numpy as np
from tensorboard.plugins.hparams import api as hp

from networks.build import build_hns
from networks.hns import set_fill_value
from networks.term_keys import KEYS as TERM_KEYS
from utils.config.arguments import fit_arguments, hns_arguments
from utils.config.schema import as_dict
from utils.data import Data, steps_per_epoch, to_float
from utils.errors import UsageError
from utils.runs import Run, alpha_decimals, budget_decimals
from utils.seeding import seed_everything
from utils.stages.process import distributed
from utils.stages.runs import claimed, hns_model_type, series
from utils.training.budget import budget_schedule
from utils.training.callbacks import MaskImages
from utils.training.hns import TrainingResult, fit_hns
from utils.training.resume import EpochFiles
from utils.training.schedules import AdaptiveAlpha, SlopeAnnealing, alpha_levels
from utils.training.seeker_check import require_trained_seeker

HPARAMS = ("model", "stochastic", "estimator", "rate", "alpha", "patience", "monitor", "batch_size",
           "learning_rate", "augment_shift", "seed", "hider_decoder", "mask_grid", "seeker_training", "mask_mode",
           "start_budget", "final_budget", "budget_epochs", "budget_schedule", "hider_features", "mask_infill",
           *TERM_KEYS)  # and every key of the objective's terms (networks.term_keys)


def hparams(cfg) -> dict:
    d = as_dict(cfg)
    # TensorBoard wants plain values: None is alpha 'adaptive', mask_grid 0 (per pixel).
    return {k: (("adaptive" if k == "alpha" else 0) if d[k] is None else d[k]) for k in HPARAMS}


def scheduled(cfg) -> str:
    """What the run's schedule lowers, as its history and report name it: 'budget' (--mask_mode topk) or 'alpha'."""
    return "budget" if cfg.mask_mode == "topk" else "alpha"


def run_length(cfg, steps: int) -> str:
    """What bounds a run of `steps` training steps per epoch, in words: --max_epochs with a fixed alpha;
    with the adaptive schedule its alphas x --patience steps at least, capped by --max_epochs."""
    if cfg.alpha is not None:
        return f"run length: --max_epochs {cfg.max_epochs} epochs of {steps} steps (alpha fixed at {cfg.alpha:g})"
    levels = alpha_levels(cfg.alpha_step, cfg.min_alpha)
    return _plateau_length(cfg, steps, levels, f"adaptive schedule: {levels} alphas (1 down to {cfg.min_alpha:g} by "
                           f"{cfg.alpha_step:g})", f"alpha can reach {cfg.min_alpha:g}")


def _plateau_length(cfg, steps: int, levels: int, schedule: str, goal: str) -> str:
    """`run_length` of a schedule of `levels` levels, each until a plateau over --patience steps."""
    fewest = -(-levels * cfg.patience // steps)
    text = (f"run length: set by the {schedule}, each until its loss plateaus over --patience {cfg.patience} steps: "
            f"at least {levels * cfg.patience} steps ({fewest} epochs of {steps} steps); --max_epochs "
            f"{cfg.max_epochs} caps it")
    if fewest > cfg.max_epochs:
        text += (f". Warning: --max_epochs {cfg.max_epochs} ends it before {goal}: raise --max_epochs to at least "
                 f"{fewest} or lower --patience")
    return text


def budget_run_length(cfg, steps: int) -> str:
    """`run_length` of --mask_mode topk: --max_epochs with the geometric budget schedule (which then holds the
    final budget); with the plateau schedule its --budget_epochs + 1 budgets x --patience steps at least."""
    budgets = f"the budget from {cfg.start_budget:g} down to {cfg.final_budget:g} in {cfg.budget_epochs} steps"
    if cfg.budget_schedule == "geometric":
        text = (f"run length: --max_epochs {cfg.max_epochs} epochs of {steps} steps ({budgets}, one per epoch, "
                "then held)")
        if cfg.budget_epochs >= cfg.max_epochs:
            text += (f". Warning: --max_epochs {cfg.max_epochs} ends it before the budget reaches "
                     f"{cfg.final_budget:g}: raise --max_epochs to at least {cfg.budget_epochs + 1} or lower "
                     "--budget_epochs")
        return text
    return _plateau_length(cfg, steps, cfg.budget_epochs + 1, f"plateau budget schedule: {budgets}",
                           f"the budget can reach {cfg.final_budget:g}")


def _callbacks(cfg, model, run: Run, data: Data, files: EpochFiles):
    """(training callbacks, stateful ones, logging ones, the adaptive alpha or budget schedule or None);
    the schedules' checkpoints are staged in `files` until their epoch's resume state is saved."""
    callbacks, stateful, adaptive = [], {}, None
    if cfg.mask_mode == "topk":
        decimals = budget_decimals(cfg.final_budget)
        adaptive = budget_schedule(cfg.budget_schedule, cfg.start_budget, cfg.final_budget, cfg.budget_epochs,
                                   cfg.patience, cfg.min_delta, cfg.monitor,
                                   None if cfg.debug else lambda b: files(run.paths.budget_checkpoint(b, decimals)),
                                   verbose=not cfg.quiet)
        callbacks.append(adaptive)
        stateful["budget"] = adaptive
    elif cfg.alpha is None:
        decimals = alpha_decimals(cfg.alpha_step)
        adaptive = AdaptiveAlpha(cfg.patience, cfg.min_delta, cfg.monitor, cfg.alpha_step, cfg.min_alpha,
                                 checkpoint=None if cfg.debug else lambda a: files(run.paths.checkpoint(a, decimals)),
                                 verbose=not cfg.quiet)
        callbacks.append(adaptive)
        stateful["adaptive"] = adaptive
    if cfg.stochastic and cfg.estimator == "sa":
        callbacks.append(SlopeAnnealing(model.neuron, cfg.rate))
    logging = []
    if not cfg.debug:
        logging = [MaskImages(run.paths.logs / "images", to_float(data.val.x[:8])),
                   hp.KerasCallback(str(run.paths.logs / "hparams"), hparams(cfg))]
    return callbacks, stateful, logging, adaptive


def train_hns(cfg, data: Data, run: Run, resuming: bool = False, baseline: float | None = None,
              model=None) -> TrainingResult:
    """Train one HnS model; write per-alpha (or per-budget) and final weights, history and TensorBoard logs
    to `run.paths`.

    With `resuming`, training continues from the run's resume state (see utils/training/resume.py)
    and ends as the uninterrupted run would have. `model`: the HnS model to train, built by the caller
    (default: built here from the flags).
    """
    if model is None:
        model = build_hns(data.image_shape, data.num_classes, baseline=baseline, **hns_arguments(cfg, run.seed))
    if model.mask_infill == "mean":  # the training images' mean colour (a resumed run reads it back from its state)
        set_fill_value(model, np.mean(data.train.x, axis=(0, 1, 2), dtype=np.float64) / 255.0)
    files = EpochFiles(run.paths.weights)
    callbacks, stateful, logging, adaptive = _callbacks(cfg, model, run, data, files)
    return fit_hns(model, data, run, resuming, files=files, batch_size=cfg.batch_size,
                   augment_shift=cfg.augment_shift, shift_fill=cfg.shift_fill, callbacks=callbacks, stateful=stateful,
                   logging=logging, adaptive=adaptive, scheduled=scheduled(cfg), **fit_arguments(cfg))


def train_series(cfg, data: Data, baseline: float | None = None, report=print) -> list[TrainingResult]:
    """Train the runs of `cfg` left to do (new, interrupted or unfinished; `utils.runs.claim`)."""
    if cfg.seeker_training == "frozen" and not cfg.seeker_weights:
        raise UsageError("--seeker_training frozen needs --seeker_weights of a seeker trained on random masks: run "
                         f"pretrain_seeker.py --config {cfg.config} --random_masks and pass its best.weights.h5")
    # Bad start weights fail here, before any run is touched.
    build_hns(data.image_shape, data.num_classes, **hns_arguments(cfg))
    if cfg.seeker_weights and not cfg.allow_weak_seeker:
        accuracy = require_trained_seeker(cfg.seeker_weights, cfg.seeker_architecture, data, cfg.batch_size, cfg.config)
        report(f"start seeker: validation accuracy {accuracy:.3f} (chance {1 / data.num_classes:.3f})")
    with distributed(cfg) as cfg:
        return _train_series(cfg, data, baseline, report)


def _train_series(cfg, data: Data, baseline, report) -> list[TrainingResult]:
    results = []
    steps = steps_per_epoch(data.train, cfg.batch_size)
    report(budget_run_length(cfg, steps) if cfg.mask_mode == "topk" else run_length(cfg, steps))
    model_type = hns_model_type(cfg)
    with claimed(cfg, model_type, series(cfg, model_type)) as todo:
        for run, resuming in todo:
            seed_everything(run.seed)
            result = train_hns(cfg, data, run, resuming, baseline)
            report(f"trained in {result.seconds:.0f} s ({result.images_per_second:.0f} images/s); "
                   f"{scheduled(cfg)} steps: {[(s, round(a, 6)) for s, a in result.alpha_history]}")
            if not cfg.debug:
                report(f"weights: {run.paths.weights}\nTensorBoard: tensorboard --logdir {run.paths.logs}")
            results.append(result)
    return results
