"""Fitting a Hide-and-Seek model: one run of the HnS model under its schedule's callbacks (`utils.stages.hns`
builds them from a configuration, and trains the runs of a series)."""
from __future__ import annotations

from dataclasses import dataclass, field

from networks.hns import HideAndSeek
from utils.data import Data, epoch_pipeline, pipeline, steps_per_epoch
from utils.runs import Run
from utils.training.loop import fit_run
from utils.training.resume import EpochFiles


@dataclass
class TrainingResult:
    model: HideAndSeek
    run: Run
    history: list
    alpha_history: list = field(default_factory=list)  # (step or epoch, alpha or budget reached): `scheduled`
    seconds: float = 0.0
    images_per_second: float = 0.0


def fit_hns(model: HideAndSeek, data: Data, run: Run, resuming: bool, *, files: EpochFiles, batch_size: int,
            augment_shift: int, shift_fill: str, callbacks=(), stateful=None, logging=(), adaptive=None,
            scheduled: str = "alpha", max_epochs: int, debug: bool = False, quiet: bool = False,
            hint: str = "lower --learning_rate or raise --alpha and retry") -> TrainingResult:
    """Fit `model` in the claimed `run` (`utils.training.loop.fit_run`): batches of `batch_size` drawn with the
    run's seed and shifted by up to `augment_shift` pixels (`shift_fill`), the schedule's `callbacks` and
    `stateful` ones (whose weights files are staged in `files`), `logging` ones; `adaptive`, the alpha or budget
    schedule (None for a fixed alpha), ends the run when it has finished and its steps are the history's
    ``<scheduled>_steps``."""
    outcome = fit_run(
        model, run.paths, resuming, files=files,
        train=lambda first, last: epoch_pipeline(data.train, batch_size, run.seed, first, last,
                                                 shift=augment_shift, fill=shift_fill),
        steps=steps_per_epoch(data.train, batch_size), validation=pipeline(data.val, batch_size),
        callbacks=callbacks, stateful=stateful, logging=logging,
        done=lambda: adaptive is not None and adaptive.finished,
        history=lambda logs: {"epochs": logs, f"{scheduled}_steps": adaptive.history if adaptive else []},
        hint=hint, max_epochs=max_epochs, debug=debug, quiet=quiet)
    return TrainingResult(model, run, outcome.epoch_logs, adaptive.history if adaptive else [], outcome.seconds,
                          outcome.epochs_run * len(data.train) / max(outcome.seconds, 1e-9))
