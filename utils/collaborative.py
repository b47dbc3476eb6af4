"""Building and training a Hide-and-Seek model (the logic behind collaborative_training.py)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import keras

from networks.binary import build_neuron
from networks.hider import build_hider
from networks.hns import HideAndSeek
from networks.seeker import build_seeker
from utils.callbacks import AdaptiveAlpha, MaskImages, SlopeAnnealing, StopOnNonFinite
from utils.config import Config, as_dict
from utils.data import Data, epoch_pipeline, pipeline, steps_per_epoch, to_float
from utils.errors import Interrupted, RunError
from utils.io import atomic_write_json, claim_run
from utils.paths import RunPaths
from utils.resume import GracefulStop, ResumeState, load_state, state_path
from utils.training import fit_verbosity, tensorboard
from utils.weights import load_weights, save_weights


def build_hns(cfg: Config, image_shape, num_classes: int, baseline: float | None = None,
              seed: int | None = None) -> HideAndSeek:
    """The HnS model of `cfg`, compiled, initialised from --hider_weights / --seeker_weights.

    The hider's last layer (``hider_logits``) of an autoencoder has as many outputs as input
    channels and the mask has one: on colour data that one layer keeps its initial values,
    and a notice says so. Any other layer that does not fit is an error.
    """
    hider = build_hider(cfg.model, image_shape, out_channels=1, logits=True)
    seeker = build_seeker(cfg.model, image_shape, num_classes)
    if cfg.hider_weights:
        for notice in load_weights(hider, cfg.hider_weights, may_differ=("hider_logits",)):
            print(f"note: hider layer {notice}: it keeps its initial values")
    if cfg.seeker_weights:
        load_weights(seeker, cfg.seeker_weights)
    neuron = build_neuron(cfg.stochastic, cfg.estimator, seed=cfg.seed if seed is None else seed)
    model = HideAndSeek(hider, seeker, neuron, alpha=1.0 if cfg.alpha is None else cfg.alpha,
                        logit_bound=cfg.logit_bound, logit_penalty=cfg.logit_penalty, baseline=baseline,
                        foreground_threshold=cfg.foreground_threshold, name="hide_and_seek")
    model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate))
    model.build((None, *image_shape))
    return model


@dataclass
class TrainingResult:
    model: HideAndSeek
    paths: RunPaths
    history: list
    alpha_history: list = field(default_factory=list)
    seconds: float = 0.0
    images_per_second: float = 0.0


def hparams(cfg: Config) -> dict:
    keys = ("model", "stochastic", "estimator", "rate", "alpha", "patience", "monitor", "batch_size",
            "learning_rate", "augment_shift", "logit_bound", "logit_penalty", "seed")
    d = as_dict(cfg)
    return {k: ("adaptive" if d[k] is None else d[k]) for k in keys}


def train_hns(cfg: Config, data: Data, paths: RunPaths, baseline: float | None = None,
              seed: int | None = None) -> TrainingResult:
    """Train one HnS model; write per-alpha and final weights and TensorBoard logs to `paths`.

    If `paths` holds the resume state of an interrupted run, training continues from its last
    completed epoch (see utils/resume.py) and ends as the uninterrupted run would have.
    """
    seed = cfg.seed if seed is None else seed
    model = build_hns(cfg, data.image_shape, data.num_classes, baseline, seed)
    state_file = state_path(paths.weights)
    first_epoch, extra = 0, {}
    if not cfg.debug and state_file.is_file():
        first_epoch, extra = load_state(model, state_file)
        print(f"resuming {paths.weights} after epoch {first_epoch}")
    guard, graceful = StopOnNonFinite(), GracefulStop()
    callbacks = [guard, graceful]
    adaptive = None
    if cfg.alpha is None:
        adaptive = AdaptiveAlpha(cfg.patience, cfg.min_delta, cfg.monitor, cfg.alpha_step, cfg.min_alpha,
                                 weights_dir=None if cfg.debug else paths.weights, verbose=not cfg.quiet)
        if "adaptive" in extra.get("callbacks", {}):
            adaptive.set_state(extra["callbacks"]["adaptive"])
        callbacks.append(adaptive)
    if cfg.stochastic and cfg.estimator == "sa":
        callbacks.append(SlopeAnnealing(model.neuron, cfg.rate))
    resume = ResumeState(state_file, {"adaptive": adaptive} if adaptive else {},
                         skip=lambda: bool(guard.failed or graceful.signal), epoch_logs=extra.get("epoch_logs"))
    if not cfg.debug:
        from tensorboard.plugins.hparams import api as hp

        paths.make()
        callbacks += [resume, tensorboard(paths), MaskImages(paths.logs / "images", to_float(data.val.x[:8])),
                      hp.KerasCallback(str(paths.logs / "hparams"), hparams(cfg))]
    last_epoch = first_epoch if adaptive is not None and adaptive.finished else cfg.max_epochs
    start = time.perf_counter()
    model.fit(epoch_pipeline(data.train, cfg.batch_size, seed, first_epoch, last_epoch,
                             shift=cfg.augment_shift),
              steps_per_epoch=steps_per_epoch(data.train, cfg.batch_size), initial_epoch=first_epoch,
              epochs=last_epoch, validation_data=pipeline(data.val, cfg.batch_size), callbacks=callbacks, shuffle=False,
              verbose=fit_verbosity(cfg))
    seconds = time.perf_counter() - start
    epochs_run = max(len(resume.epoch_logs) - len(extra.get("epoch_logs", [])), 0)
    if graceful.signal:
        where = f"after epoch {len(resume.epoch_logs)}"
        if not cfg.debug:
            save_weights(model, paths.weights / "interrupted.weights.h5")
            raise Interrupted(f"stopped by {graceful.signal}; the state {where} is saved in {state_file} and the "
                              "current weights in interrupted.weights.h5: run the same command again to resume")
        raise Interrupted(f"stopped by {graceful.signal} (--debug: nothing saved)")
    if guard.failed:
        raise RunError(f"training stopped: {guard.failed}; checkpoints saved so far are kept in "
                       f"{paths.weights}. Lower --learning_rate or raise --alpha and retry")
    if not cfg.debug:
        save_weights(model, paths.weights / "final.weights.h5")
        atomic_write_json(paths.results / "history.json", {
            "epochs": resume.epoch_logs,
            "alpha_steps": adaptive.history if adaptive else [],
        })
        state_file.unlink(missing_ok=True)
        (paths.weights / "interrupted.weights.h5").unlink(missing_ok=True)
    return TrainingResult(model, paths, resume.epoch_logs, adaptive.history if adaptive else [], seconds,
                          epochs_run * len(data.train) / max(seconds, 1e-9))


def claim_runs(cfg: Config, runs: list, all_paths: list[RunPaths]) -> list:
    """Check the folders of every run of `cfg`; returns the (run index, paths) left to train.

    New runs are trained; with --overwrite every run starts again. Runs that were interrupted
    (a resume state, no final weights) continue by default, and so does an interrupted
    --num_trainings series: its finished runs are kept and its unfinished ones, resumed or
    (if they died before their first epoch) restarted. Anything else that exists is refused.
    """
    finished = [(p.weights / "final.weights.h5").is_file() for p in all_paths]
    interrupted = [state_path(p.weights).is_file() and not f for p, f in zip(all_paths, finished)]
    continuing = not cfg.overwrite and (any(interrupted) or (cfg.resume and not all(finished)))
    todo = []
    for run, paths, done, resumable in zip(runs, all_paths, finished, interrupted):
        if continuing and done:
            continue
        if continuing and not resumable:
            claim_run(paths, overwrite=True)
        else:
            claim_run(paths, overwrite=cfg.overwrite, resume=cfg.resume, resumable=resumable)
        todo.append((run, paths))
    return todo


def checkpoints(weights_dir: Path) -> list[Path]:
    """The per-alpha checkpoints of a run, highest alpha first, then final.weights.h5."""
    weights_dir = Path(weights_dir)
    per_alpha = sorted(weights_dir.glob("alpha_*.weights.h5"), key=lambda p: -float(p.name[6:10]))
    final = weights_dir / "final.weights.h5"
    return per_alpha + ([final] if final.is_file() else [])
