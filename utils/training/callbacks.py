"""Keras callbacks shared by the trainings: best weights, failure guard, TensorBoard, mask images."""
from __future__ import annotations

import math
import os
import time

import keras
import numpy as np
import tensorflow as tf
from tensorboard.plugins.scalar import metadata

from networks.weights import save_weights


class BestWeights(keras.callbacks.Callback):
    """Save `target` (default: the trained model) whenever `monitor` improves; writes are atomic.

    ``get_state``/``set_state`` carry the best value across a resume, so a resumed run saves
    exactly when the uninterrupted run would have. `stage` (an `utils.training.resume.EpochFiles`)
    holds the file back until the epoch's resume state is saved.
    """

    def __init__(self, path, monitor: str = "val_accuracy", mode: str = "max", target=None, stage=None):
        super().__init__()
        self.path, self.monitor, self.mode, self.target = path, monitor, mode, target
        self.stage = stage or (lambda p: p)
        self.best = -math.inf if mode == "max" else math.inf
        self.best_epoch = None

    def get_state(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch}

    def set_state(self, state: dict) -> None:
        self.best, self.best_epoch = float(state["best"]), state["best_epoch"]

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            return
        value = float(value)
        if (value > self.best) if self.mode == "max" else (value < self.best):
            self.best, self.best_epoch = value, epoch
            save_weights(self.target or self.model, self.stage(self.path))


class ExpectedTime(keras.callbacks.Callback):
    """Say early how long the run's epochs left will take, from the wall time of its first steps.

    The first call of the compiled step traces and compiles, so the time per call t is measured over
    the next calls, up to `measured` of them; then, with c calls per epoch and E epochs left,

        expected = E * c * t  (training steps; validation not counted yet)

    is printed once. After the first epoch, with v the seconds its validation took,

        expected = (E - 1) * (c * t + v)

    is printed for the epochs after it (where there are some). `report` prints.
    """

    def __init__(self, epochs_left: int, calls_per_epoch: int, measured: int = 10, report=print):
        super().__init__()
        self.epochs_left, self.calls, self.measured, self.report = epochs_left, calls_per_epoch, measured, report
        self._calls, self._start, self._step, self._validation, self._told = 0, None, None, None, False

    def on_train_batch_end(self, batch, logs=None):
        self._calls += 1
        if self._calls == 1:
            self._start = time.perf_counter()
        elif self._step is None and self._calls == min(self.measured + 1, self.calls):
            self._step = (time.perf_counter() - self._start) / (self._calls - 1)
            self.report(f"expected time: {_duration(self.epochs_left * self.calls * self._step)} for "
                        f"{self.epochs_left} epochs of {self.calls} steps ({self._step:.3f} s per step; "
                        "validation not counted yet)")

    def on_test_begin(self, logs=None):
        if self._validation is None:
            self._validation = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if self._told or self._step is None or self._validation is None:
            return
        self._told = True
        validation = time.perf_counter() - self._validation
        if self.epochs_left > 1:
            left = (self.epochs_left - 1) * (self.calls * self._step + validation)
            self.report(f"expected time: {_duration(left)} for the {self.epochs_left - 1} epochs after the "
                        f"first ({validation:.1f} s of validation each)")


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


class StopOnNonFinite(keras.callbacks.Callback):
    """Stop training at the first NaN or Inf loss, or at the end of an epoch whose last update left a
    weight NaN or infinite (its loss was still finite); `self.failed` tells the caller to report it.

    Unlike keras.callbacks.TerminateOnNaN it records where it happened, so the script can
    fail with a clear message while the last good checkpoint stays as it was. Placed first, it
    flags the epoch before any callback that saves state looks at it.
    """

    def __init__(self, monitor: str = "loss"):
        super().__init__()
        self.monitor = monitor
        self.failed = None

    def on_train_batch_end(self, batch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is not None and not math.isfinite(float(value)):
            self.failed = f"{self.monitor} became {float(value)} at batch {batch}"
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        if not self.failed and not all(np.isfinite(w.numpy()).all() for w in self.model.weights):
            self.failed = f"the weights became NaN or infinite in epoch {epoch + 1}"
            self.model.stop_training = True


class TensorBoard(keras.callbacks.TensorBoard):
    """Batch and epoch scalars under `log_dir`; batch steps are optimizer steps and continue after
    a resume.

    Keras counts one batch step per call of the compiled step from 0 at every ``fit``, so after a
    resume, or with ``--steps_per_execution N`` (N batches per call), its steps are not the
    optimizer's. Keras writes the epoch scalars here; the batch scalars (``batch_<name>``, in the
    same ``train`` folder) are written by this class at the 1-based number of each call's first
    batch, counted from the optimizer's step counter at the start of the epoch (read once per
    epoch), which a resumed run restores with the rest of its state: with N = 2 and 4 batches per
    epoch, steps 1, 3, 5, 7 over two epochs, interrupted after the first or not.

    The batch scalars are kept in memory during the epoch and written at its end (and at the end of
    training) by one compiled call: the same records as ``tf.summary.scalar`` step by step, whose eager
    calls after every step cost the demo's Hide-and-Seek training 156 s against 139 s in one pair of runs
    (docs/results/2026-12-08-demo-speed.md).
    """

    def __init__(self, log_dir):
        super().__init__(log_dir=str(log_dir), update_freq="epoch", write_graph=False, profile_batch=0)
        self._epoch_start, self._call_step, self._batch_writer = 0, 0, None
        self._pending, self._write = [], None

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._batch_writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "train"))
        self._write = _scalar_writer(self._batch_writer)

    def on_epoch_begin(self, epoch, logs=None):
        super().on_epoch_begin(epoch, logs)
        self._epoch_start = int(self.model.optimizer.iterations.numpy())

    def on_train_batch_begin(self, batch, logs=None):
        super().on_train_batch_begin(batch, logs)
        self._call_step = self._epoch_start + batch + 1

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        self._pending += [(f"batch_{name}", self._call_step, value) for name, value in (logs or {}).items()]

    def on_epoch_end(self, epoch, logs=None):
        self._flush()
        super().on_epoch_end(epoch, logs)

    def on_train_end(self, logs=None):
        self._flush()
        super().on_train_end(logs)
        self._batch_writer.close()

    def _flush(self):
        if self._pending:
            tags, steps, values = zip(*self._pending)
            self._pending = []
            self._write(tf.constant(tags), tf.constant(steps, tf.int64),
                        tf.constant(np.fromiter(map(float, values), np.float32, len(values))))


def _scalar_writer(writer):
    """A compiled ``write(tags, steps, values)`` of one TensorBoard scalar per entry into `writer`: the record
    ``tf.summary.scalar(tag, value, step)`` writes (a float32 tensor with the scalars plugin's metadata)."""
    summary_metadata = metadata.create_summary_metadata(display_name=None, description=None).SerializeToString()

    @tf.function(input_signature=[tf.TensorSpec((None,), tf.string), tf.TensorSpec((None,), tf.int64),
                                  tf.TensorSpec((None,), tf.float32)])
    def write(tags, steps, values):
        with writer.as_default():
            for i in tf.range(tf.shape(tags)[0]):
                tf.summary.write(tags[i], values[i], step=steps[i], metadata=summary_metadata)

    return write


class MaskImages(keras.callbacks.Callback):
    """Each epoch, a TensorBoard image of fixed validation images: input | mask | masked input, the masked
    input as the seeker sees it (in-filled with the model's ``mask_infill``)."""

    def __init__(self, log_dir, images):
        super().__init__()
        self.images = images
        self.writer = tf.summary.create_file_writer(str(log_dir))

    def on_epoch_end(self, epoch, logs=None):
        x = self.images
        y, _, _ = self.model.mask(x, training=False)
        masked = self.model.fill(x, y)
        grid = tf.concat([x, tf.broadcast_to(y, tf.shape(x)), masked], axis=2)
        with self.writer.as_default():
            tf.summary.image("input | mask | masked input", grid, step=epoch, max_outputs=len(x))
        self.writer.flush()

    def on_train_end(self, logs=None):
        self.writer.close()
