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


class AdaptiveAlpha(keras.callbacks.Callback):
    """The adaptive alpha schedule of Hide-and-Seek.

    Alpha starts at `start` (1.0). After every training step the monitored per-step loss
    (``model.step_losses``: 0 classification, 1 total) enters a window of `patience` steps;
    when the window is on a plateau (`utils.plateau.is_plateau`), the weights for the current
    alpha are saved as ``alpha_<a>.weights.h5`` in `weights_dir`, the window is cleared and
    alpha drops by `step`. Training stops after the plateau at `min_alpha`.
    """

    def __init__(self, patience: int, min_delta: float = 0.01, monitor: str = "classification",
                 step: float = 0.05, min_alpha: float = 0.05, start: float = 1.0, weights_dir=None,
                 verbose: bool = True):
        super().__init__()
        from utils.plateau import PlateauWindow

        self.window = PlateauWindow(patience, min_delta)
        self.index = {"classification": 0, "total": 1}[monitor]
        self.step, self.min_alpha, self.start = step, min_alpha, start
        self.weights_dir, self.verbose = weights_dir, verbose
        self.history: list[tuple[int, float]] = []  # (global step, alpha reached)
        self.global_step = 0
        self.finished = False

    def get_state(self) -> dict:
        """What a resumed run needs to continue the schedule exactly."""
        return {"values": list(self.window.values), "global_step": self.global_step,
                "history": [list(h) for h in self.history], "finished": self.finished}

    def set_state(self, state: dict) -> None:
        self.window.values = [float(v) for v in state["values"]]
        self.global_step = int(state["global_step"])
        self.history = [(int(s), float(a)) for s, a in state["history"]]
        self.finished = bool(state["finished"])

    def on_train_begin(self, logs=None):
        if not self.history:
            self.model.alpha.assign(self.start)

    def on_train_batch_end(self, batch, logs=None):
        self.global_step += 1
        value = float(self.model.step_losses.numpy()[self.index])
        if not self.window.add(value):
            return
        alpha = round(float(self.model.alpha.numpy()), 6)
        if self.weights_dir is not None:
            save_weights(self.model, checkpoint_path(self.weights_dir, alpha))
        self.window.clear()
        if alpha - self.step < self.min_alpha - 1e-6:
            self.model.stop_training = True
            self.finished = True
            self.history.append((self.global_step, alpha))
            return
        new = round(alpha - self.step, 6)
        self.model.alpha.assign(new)
        self.history.append((self.global_step, new))
        if self.verbose:
            print(f"\nplateau at alpha {alpha:.2f} after {self.global_step} steps: alpha -> {new:.2f}")


def checkpoint_path(weights_dir, alpha: float):
    from pathlib import Path

    return Path(weights_dir) / f"alpha_{alpha:.2f}.weights.h5"


class SlopeAnnealing(keras.callbacks.Callback):
    """Slope annealing: at the end of each training epoch s <- s * (1 + rate); never in evaluation."""

    def __init__(self, neuron, rate: float):
        super().__init__()
        self.neuron, self.rate = neuron, rate

    def on_epoch_end(self, epoch, logs=None):
        self.neuron.slope.assign(self.neuron.slope * (1.0 + self.rate))
        if logs is not None:
            logs["slope"] = float(self.neuron.slope.numpy())


class MaskImages(keras.callbacks.Callback):
    """Each epoch, a TensorBoard image of fixed validation images: input | mask | masked input."""

    def __init__(self, log_dir, images):
        super().__init__()
        import tensorflow as tf

        self.images = images
        self.writer = tf.summary.create_file_writer(str(log_dir))

    def on_epoch_end(self, epoch, logs=None):
        import tensorflow as tf

        x = self.images
        y, _, _ = self.model.mask(x, training=False)
        y = tf.broadcast_to(y, tf.shape(x))
        grid = tf.concat([x, y, x * y], axis=2)
        with self.writer.as_default():
            tf.summary.image("input | mask | masked input", grid, step=epoch, max_outputs=len(x))
        self.writer.flush()

    def on_train_end(self, logs=None):
        self.writer.close()
