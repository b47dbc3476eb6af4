"""The schedules of Hide-and-Seek training: adaptive alpha and slope annealing."""
from __future__ import annotations

import keras

from networks.weights import save_weights
from utils.training.plateau import PlateauWindow


def alpha_levels(step: float, min_alpha: float, start: float = 1.0) -> int:
    """How many alphas `AdaptiveAlpha` trains at: start, start - step, ..., down to the last >= min_alpha.

    Each lasts at least `patience` steps (the window must fill before a plateau can be found), so a
    run with the schedule lasts at least ``alpha_levels * patience`` steps whatever --max_epochs says.
    """
    return int((start - min_alpha) / step + 1e-6) + 1


class AdaptiveAlpha(keras.callbacks.Callback):
    """The adaptive alpha schedule of Hide-and-Seek.

    Alpha starts at `start` (1.0). After every training step the monitored per-step loss
    (0 classification, 1 total) enters a window of `patience` steps;
    when the window is on a plateau (`utils.training.plateau.is_plateau`), the weights for the
    current alpha are saved to ``checkpoint(alpha)`` (``alpha_<a>.weights.h5``, see
    `utils.runs.layout`), the window is cleared and alpha drops by `step`. Training stops
    after the plateau at `min_alpha`.

    The losses are read from the model's ``step_buffer`` once per compiled call (``step_count``
    says how many steps ran), so no step waits for the host. With ``steps_per_execution`` k > 1
    every step still enters the window, but a plateau found inside a call takes effect after it:
    the new alpha and the checkpoint come up to k - 1 steps late (k = 1: exactly after the step).

    Args:
        checkpoint: alpha -> path of its weights file, or None to save nothing.
    """

    def __init__(self, patience: int, min_delta: float = 0.01, monitor: str = "classification",
                 step: float = 0.05, min_alpha: float = 0.05, start: float = 1.0, checkpoint=None,
                 verbose: bool = True):
        super().__init__()
        self.window = PlateauWindow(patience, min_delta)
        self.index = {"classification": 0, "total": 1}[monitor]
        self.step, self.min_alpha, self.start = step, min_alpha, start
        self.checkpoint, self.verbose = checkpoint, verbose
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
        self.seen = int(self.model.step_count.numpy())

    def on_train_batch_end(self, batch, logs=None):
        count = int(self.model.step_count.numpy())
        if count == self.seen:
            return
        buffer = self.model.step_buffer.numpy()
        if count - self.seen > len(buffer):
            raise RuntimeError(f"{count - self.seen} steps ran in one call but the step buffer holds {len(buffer)}: "
                               "compile the model (it sizes the buffer) before building it")
        for step in range(self.seen, count):
            if self.finished:
                break
            self.add(float(buffer[step % len(buffer), self.index]))
        self.seen = count

    def add(self, value: float) -> None:
        """One training step's monitored loss: on a plateau, save, lower alpha or stop."""
        self.global_step += 1
        if not self.window.add(value):
            return
        alpha = round(float(self.model.alpha.numpy()), 6)
        if self.checkpoint is not None:
            save_weights(self.model, self.checkpoint(alpha))
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
            print(f"\nplateau at alpha {alpha:g} after {self.global_step} steps: alpha -> {new:g}")


class SlopeAnnealing(keras.callbacks.Callback):
    """Slope annealing: at the end of each training epoch s <- s * (1 + rate); never in evaluation."""

    def __init__(self, neuron, rate: float):
        super().__init__()
        self.neuron, self.rate = neuron, rate

    def on_epoch_end(self, epoch, logs=None):
        self.neuron.slope.assign(self.neuron.slope * (1.0 + self.rate))
        if logs is not None:
            logs["slope"] = float(self.neuron.slope.numpy())
