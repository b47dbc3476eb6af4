"""Keras callbacks shared by the training scripts."""
from __future__ import annotations

import math

import keras

from utils.weights import save_weights


class BestWeights(keras.callbacks.Callback):
    """Save `target` (default: the trained model) whenever `monitor` improves; writes are atomic."""

    def __init__(self, path, monitor: str = "val_accuracy", mode: str = "max", target=None):
        super().__init__()
        self.path, self.monitor, self.mode, self.target = path, monitor, mode, target
        self.best = -math.inf if mode == "max" else math.inf
        self.best_epoch = None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            return
        value = float(value)
        if (value > self.best) if self.mode == "max" else (value < self.best):
            self.best, self.best_epoch = value, epoch
            save_weights(self.target or self.model, self.path)


class StopOnNonFinite(keras.callbacks.Callback):
    """Stop training at the first NaN or Inf loss; `self.failed` tells the caller to report it.

    Unlike keras.callbacks.TerminateOnNaN it records where it happened, so the script can
    fail with a clear message while the last good checkpoint stays as it was.
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
