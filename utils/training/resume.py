"""Interrupt and resume a training (pretraining or Hide-and-Seek) exactly where it stopped.

After every completed epoch `ResumeState` writes, atomically, one file (``resume_state.npz``,
named in `utils.runs.layout`) holding every variable of the model (weights, alpha, the neuron's
slope and sampling seed state) and of the optimizer, plus the state of the callbacks that
matter (the plateau window of the adaptive schedule, the best validation value so far) and the
epoch logs so far. A run killed at any moment resumes from its last completed epoch; with the
per-epoch data order of `utils.data.pipelines.epoch_pipeline` and deterministic ops, it ends
exactly as an uninterrupted run would.

`GracefulStop` turns SIGINT and SIGTERM into "finish this step, stop, tell the user how to
resume" instead of a traceback.
"""
from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import keras
import numpy as np

from utils.errors import UsageError
from utils.runs.atomic import atomic_path


def save_state(model, path, epoch: int, extra: dict) -> None:
    arrays = {f"m{i}": np.asarray(v.numpy()) for i, v in enumerate(model.variables)}
    arrays.update({f"o{i}": np.asarray(v.numpy()) for i, v in enumerate(model.optimizer.variables)})
    meta = {"epoch": epoch, "model_variables": len(model.variables),
            "optimizer_variables": len(model.optimizer.variables), "extra": extra}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
        fh.flush()
        os.fsync(fh.fileno())


def load_state(model, path) -> tuple[int, dict]:
    """Restore every variable saved by `save_state`; returns (next epoch, extra state)."""
    try:
        with np.load(path) as f:
            meta = json.loads(bytes(f["meta"]).decode())
            if meta["model_variables"] != len(model.variables):
                raise UsageError(f"{path} was saved by another model: resume with the flags of the "
                                 "interrupted run, or pass --overwrite to start again")
            model.optimizer.build(model.trainable_variables)
            if meta["optimizer_variables"] != len(model.optimizer.variables):
                raise UsageError(f"{path} holds another optimizer state: pass --overwrite to start again")
            for i, v in enumerate(model.variables):
                v.assign(f[f"m{i}"])
            for i, v in enumerate(model.optimizer.variables):
                v.assign(f[f"o{i}"])
    except (OSError, ValueError, KeyError) as e:
        raise UsageError(f"cannot read the resume state {path} ({type(e).__name__}): "
                         "pass --overwrite to start the run again") from e
    return meta["epoch"], meta["extra"]


class ResumeState(keras.callbacks.Callback):
    """Save the resume state after each fully completed epoch (see the module docstring).

    `stateful` are callbacks with ``get_state()``/``set_state()``; `skip` returns True when the
    epoch did not complete normally (interrupted, non-finite loss) and must not be saved.
    """

    def __init__(self, path, stateful: dict, skip=lambda: False, epoch_logs=None):
        super().__init__()
        self.path, self.stateful, self.skip = Path(path), stateful, skip
        self.epoch_logs = list(epoch_logs or [])

    def on_epoch_end(self, epoch, logs=None):
        if self.skip():
            return
        self.epoch_logs.append({k: float(v) for k, v in (logs or {}).items()})
        extra = {"callbacks": {k: cb.get_state() for k, cb in self.stateful.items()},
                 "epoch_logs": self.epoch_logs}
        save_state(self.model, self.path, epoch + 1, extra)


class GracefulStop(keras.callbacks.Callback):
    """On SIGINT or SIGTERM: finish the current step, stop training, remember the signal."""

    def __init__(self):
        super().__init__()
        self.signal = None
        self._previous = {}

    def _handle(self, signum, frame):
        self.signal = signal.Signals(signum).name
        if self.model is not None:
            self.model.stop_training = True

    def on_train_begin(self, logs=None):
        for s in (signal.SIGINT, signal.SIGTERM):
            self._previous[s] = signal.signal(s, self._handle)

    def on_train_batch_end(self, batch, logs=None):
        if self.signal:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        for s, handler in self._previous.items():
            signal.signal(s, handler)
