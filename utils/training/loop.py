"""One resumable `fit` for every training of the toolkit (pretraining and Hide-and-Seek).

`fit_run` wraps Keras' ``fit`` with what each training needs: it continues a run from its
resume state, saves that state after every epoch (with the epoch's other weights files, committed
together: `utils.training.resume`), stops cleanly on SIGINT/SIGTERM (exit 130,
with how to resume) or on a non-finite loss (exit 1, keeping what was saved), logs to
TensorBoard with steps that continue after a resume, and writes the final weights last, which
marks the run finished (`utils.runs.layout`).
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass

from networks.weights import NonFiniteWeights, save_weights
from utils.errors import Interrupted, RunError
from utils.runs.atomic import atomic_write_json
from utils.runs.layout import RunPaths
from utils.training.callbacks import ExpectedTime, StopOnNonFinite, TensorBoard
from utils.training.resume import EpochFiles, GracefulStop, ResumeState, load_state


@dataclass
class FitOutcome:
    epoch_logs: list
    epochs_run: int
    seconds: float


def fit_verbosity(quiet: bool) -> int:
    """Progress bar on a terminal, one line per epoch in logs and pipes, nothing when `quiet`."""
    return 0 if quiet else (1 if sys.stdout.isatty() else 2)


def fit_run(model, paths: RunPaths, resuming: bool, train, steps: int, validation, max_epochs: int,
            debug: bool = False, quiet: bool = False, callbacks=(), stateful=None, logging=(), done=lambda: False,
            history=None, saved=None, hint: str = "lower --learning_rate and retry",
            files: EpochFiles | None = None) -> FitOutcome:
    """Train `model` for the epochs left of `max_epochs` and write the run's files to `paths`.

    Args:
        max_epochs: the epoch the run ends after (--max_epochs), counted from its start, not from a resume.
        debug: write nothing (--debug): no resume state, logs, history or final weights.
        quiet: no progress bar or epoch lines (--quiet).
        resuming: continue from ``paths.state`` (as decided by `utils.runs.claim.claim_series`).
        train: ``train(first_epoch, last_epoch)`` -> the training batches of those epochs.
        steps: training steps per epoch.
        callbacks: the training's own callbacks, run before the resume state is saved.
        stateful: {name: callback} whose ``get_state``/``set_state`` travel in the resume state.
        logging: callbacks that only write logs (after the resume state; not with `debug`).
        done: True when the run had already finished its schedule before it was interrupted.
        history: epoch logs -> the dict written to ``results/history.json`` (None: no such file).
        saved: the model whose weights the final and interrupted files hold (default `model`).
        hint: what to try when the loss becomes non-finite.
        files: where `callbacks` write the epoch's weights files (`EpochFiles` of ``paths.weights``):
            they reach their names with the epoch's resume state, never before it.
    """
    stateful = stateful or {}
    files = files or EpochFiles(paths.weights)
    first_epoch, extra = restore(model, paths, files, stateful) if resuming else (0, {})
    guard, graceful = StopOnNonFinite(), GracefulStop()
    resume = ResumeState(paths.state, stateful, skip=lambda: bool(guard.failed or graceful.signal),
                         epoch_logs=extra.get("epoch_logs"), files=files)
    all_callbacks = [files, guard, graceful, *callbacks]
    if not debug:
        paths.make()
        all_callbacks += [resume, TensorBoard(paths.logs), *logging]
    last_epoch = first_epoch if done() else max_epochs
    if last_epoch > first_epoch:
        all_callbacks.append(ExpectedTime(last_epoch - first_epoch, -(-steps // model.steps_per_execution)))
    start = time.perf_counter()
    try:
        fitted = model.fit(train(first_epoch, last_epoch), steps_per_epoch=steps, initial_epoch=first_epoch,
                           epochs=last_epoch, validation_data=validation, callbacks=all_callbacks, shuffle=False,
                           verbose=fit_verbosity(quiet))
    except NonFiniteWeights as e:  # a callback was about to save diverged weights: nothing was written
        raise RunError(diverged(paths, guard.failed or str(e), hint, debug)) from e
    seconds = time.perf_counter() - start
    if guard.failed:
        raise RunError(diverged(paths, guard.failed, hint, debug))
    if graceful.signal:
        interrupted(paths, graceful.signal, len(resume.epoch_logs), saved or model, debug)
    if not debug:
        finish(paths, saved or model, history and history(resume.epoch_logs))
    # len(fitted.epoch): the epochs run, also with --debug, where no resume state is kept
    return FitOutcome(resume.epoch_logs, len(fitted.epoch), seconds)


def restore(model, paths: RunPaths, files: EpochFiles, stateful: dict) -> tuple[int, dict]:
    """Load the run's resume state into `model` and the `stateful` callbacks, finish the commit of its
    epoch's files; returns (the next epoch, the state's extra record)."""
    first_epoch, extra = load_state(model, paths.state)
    files.recover(extra.get("staged"))
    for name, state in extra.get("callbacks", {}).items():
        if name in stateful:
            stateful[name].set_state(state)
    print(f"resuming {paths.weights} after epoch {first_epoch}")
    return first_epoch, extra


def interrupted(paths: RunPaths, signal: str, epochs: int, saved, debug: bool):
    """Raise `Interrupted` for a run stopped by `signal` after `epochs` saved epochs, keeping its current
    weights (nothing with --debug)."""
    if debug:
        raise Interrupted(f"stopped by {signal} (--debug: nothing saved)")
    save_weights(saved, paths.interrupted)
    raise Interrupted(f"stopped by {signal}; the state after epoch {epochs} is saved in {paths.state} and the "
                      f"current weights in {paths.interrupted.name}: run the same command again to resume")


def finish(paths: RunPaths, saved, history: dict | None) -> None:
    """A run's last files: the history (if any), then the final weights, which mark it finished; then
    the resume state and interrupted weights are no longer needed."""
    if history is not None:
        atomic_write_json(paths.results / "history.json", history)
    save_weights(saved, paths.final)
    paths.state.unlink(missing_ok=True)
    paths.interrupted.unlink(missing_ok=True)


def diverged(paths: RunPaths, cause: str, hint: str, debug: bool = False) -> str:
    """The message of a training that diverged: what happened, where its last finite state is, what to try.

    Nothing non-finite is ever saved (`networks.weights.save_weights` refuses it, and the resume
    state skips the epoch), so every file the run holds is from before the divergence.
    """
    kept = sorted(p.name for p in paths.weights.glob("*") if p.name.endswith((".weights.h5", ".npz"))) \
        if paths.weights.is_dir() and not debug else []
    where = (f"its last finite state is kept in {paths.weights} ({', '.join(kept)})" if kept
             else "no weights were saved before that")
    return f"training stopped: {cause}; {where}. {hint[0].upper()}{hint[1:]}"
