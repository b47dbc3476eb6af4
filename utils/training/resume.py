"""Interrupt and resume a training (pretraining or Hide-and-Seek) exactly where it stopped.

After every completed epoch `ResumeState` writes, atomically, one file (``resume_state.npz``,
named in `utils.runs.layout`) holding every variable of the model (weights, alpha, the neuron's
slope or budget and sampling seed state) and of the optimizer, plus the state of the callbacks
that matter (the plateau window of the adaptive alpha or budget schedule, the best validation
value so far) and the epoch logs so far. Variables are keyed by their Keras path
(``model/hider_conv1/kernel``, ``optimizer/hider_conv1_kernel_momentum``), never by position, and
restored by it: the layers, seed generators and model variables have explicit names, so the paths
are the same in every process, and a file that does not hold exactly the model's variables is
refused. A run killed at any moment resumes from its last completed epoch; with the per-epoch
data order of `utils.data.pipelines.epoch_pipeline` and deterministic ops, it ends exactly as an
uninterrupted run would.

**One commit per epoch.** The other files of an epoch (best weights, the checkpoint of an alpha or a
budget) are written to ``<weights>/.staged/<epoch>/`` (`EpochFiles`) and reach their names only after
the epoch's resume state, which lists them, is on the disk: the resume state is the commit point.
Killed before it, the run resumes from the previous epoch and the staged files are dropped; killed
after it, the next run moves the listed files into place before it continues. So at every instant
the weights folder holds the files of one completed epoch, never the best weights of an epoch the
resume state does not know. A run killed before its first resume state holds nothing but staged
files and logs, and starts again by itself (`utils.runs.claim`).

`GracefulStop` turns SIGINT and SIGTERM into "finish this step, stop, tell the user how to
resume" instead of a traceback.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import zipfile
from pathlib import Path

import keras
import numpy as np

from utils.errors import UsageError
from utils.runs import atomic
from utils.runs.atomic import atomic_path
from utils.runs.layout import STAGED


def named_variables(model) -> dict:
    """{key: variable} of the model's and its optimizer's variables, keyed by path (module docstring)."""
    optimizer = model.optimizer
    named = [(f"model/{v.path}", v) for v in model.variables]
    # The optimizer's own name is numbered per process (adam, adam_1, ...): it is left out.
    named += [(f"optimizer/{v.path.removeprefix(optimizer.name + '/')}", v) for v in optimizer.variables]
    keys = [k for k, _ in named]
    if len(set(keys)) != len(keys):
        raise RuntimeError(f"variables share a path: {sorted({k for k in keys if keys.count(k) > 1})[:3]}")
    return dict(named)


def save_state(model, path, epoch: int, extra: dict) -> None:
    arrays = {key: np.asarray(v.numpy()) for key, v in named_variables(model).items()}
    meta = {"epoch": epoch, "extra": extra}
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
            model.optimizer.build(model.trainable_variables)
            variables = named_variables(model)
            stored = set(f.files) - {"meta"}
            differ = sorted(stored ^ set(variables)) + sorted(k for k in stored & set(variables)
                                                              if f[k].shape != tuple(variables[k].shape))
            if differ:
                raise UsageError(f"{path} was saved by another model or optimizer ({len(differ)} variables differ, "
                                 f"e.g. {differ[0]}): resume with the flags of the interrupted run, or pass "
                                 "--overwrite to start again")
            for key, v in variables.items():
                v.assign(f[key])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        raise UsageError(f"cannot read the resume state {path} ({type(e).__name__}): "
                         "pass --overwrite to start the run again") from e
    return meta["epoch"], meta["extra"]


class EpochFiles(keras.callbacks.Callback):
    """The files an epoch writes besides its resume state, held back until that state is saved.

    ``files(path)`` is where a callback writes the file that will be `path`, a file of the weights
    folder (``<weights>/.staged/<epoch>/<name>``); `ResumeState` saves `journal()` inside the resume
    state, then `commit()` moves the files into place; `recover(journal)`, on resume, finishes a commit
    that a kill cut short and drops the files of an epoch that never completed (module docstring).
    Place it before the callbacks that write, so that it knows the epoch first.
    """

    def __init__(self, folder):
        super().__init__()
        self.folder = Path(folder)
        self.root = self.folder / STAGED
        self.epoch, self.pending = 0, []

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self.pending = epoch, []

    def __call__(self, path) -> Path:
        path = Path(path)
        if path.parent != self.folder:
            raise ValueError(f"{path} is not a file of {self.folder}")
        if path.name not in self.pending:
            self.pending.append(path.name)
        return self.root / str(self.epoch) / path.name

    def journal(self) -> dict:
        return {"epoch": self.epoch, "files": list(self.pending)}

    def commit(self, journal: dict | None = None) -> None:
        journal = journal or self.journal()
        staged = self.root / str(journal["epoch"])
        for name in journal["files"]:
            if (staged / name).is_file():  # else it was moved before a kill
                atomic.move(staged / name, self.folder / name)
        if journal["files"]:
            atomic.sync_folder(self.folder)
        self.pending = []
        shutil.rmtree(self.root, ignore_errors=True)

    def recover(self, journal: dict | None) -> None:
        """On resume: finish the commit of the saved epoch's files (`journal`), drop any later ones and the
        temporary files of writes that a kill cut short (the run's lock is held: nobody else writes here)."""
        if journal:
            self.commit(journal)
        shutil.rmtree(self.root, ignore_errors=True)
        for leftover in self.folder.glob(".*.tmp*"):
            leftover.unlink(missing_ok=True)


class ResumeState(keras.callbacks.Callback):
    """Save the resume state after each fully completed epoch, then commit the epoch's other files
    (see the module docstring).

    `stateful` are callbacks with ``get_state()``/``set_state()``; `skip` returns True when the
    epoch did not complete normally (interrupted, non-finite loss) and must not be saved; `files`
    holds the epoch's staged files.
    """

    def __init__(self, path, stateful: dict, skip=lambda: False, epoch_logs=None, files: EpochFiles | None = None):
        super().__init__()
        self.path, self.stateful, self.skip = Path(path), stateful, skip
        self.epoch_logs = list(epoch_logs or [])
        self.files = files or EpochFiles(self.path.parent)

    def on_epoch_end(self, epoch, logs=None):
        if self.skip():
            return
        self.epoch_logs.append({k: float(v) for k, v in (logs or {}).items()})
        extra = {"callbacks": {k: cb.get_state() for k, cb in self.stateful.items()},
                 "epoch_logs": self.epoch_logs, "staged": self.files.journal()}
        save_state(self.model, self.path, epoch + 1, extra)
        self.files.commit()


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
