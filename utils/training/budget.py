"""The budget schedules of ``--mask_mode topk``: from a start budget down to a final one.

Both walk the same geometric ladder of ``steps`` + 1 budgets (`budget_levels`),

    b_i = round(b_0 (b_final / b_0)^(i / steps), D),    i = 0 .. steps,

rounded to the D decimals of the checkpoint names (`utils.runs.layout.budget_decimals`), so the
budget the model trains at is exactly the one its file is named by.

- `GeometricBudget`: epoch e trains at b_min(e, steps): one step per epoch, then the final budget is
  held until --max_epochs. The weights at the end of each epoch are saved as the checkpoint of the
  budget it trained at (the last epoch at a budget overwrites the earlier ones).
- `PlateauBudget`: as the adaptive alpha schedule (`utils.training.schedules.AdaptiveAlpha`), one
  step down the ladder at each plateau of the monitored loss, saving the checkpoint of the budget
  left; training ends after the plateau at the final budget.
"""
from __future__ import annotations

import keras

from networks.weights import save_weights
from utils.runs.layout import budget_decimals
from utils.training.schedules import AdaptiveAlpha


def budget_levels(start: float, final: float, steps: int, decimals: int) -> list[float]:
    """The ladder b_0 = start .. b_steps = final (see the module docstring); equal neighbours are kept,
    so that index i is always step i."""
    ratio = final / start
    return [round(start * ratio ** (i / steps), decimals) for i in range(steps + 1)]


class GeometricBudget(keras.callbacks.Callback):
    """One step down `levels` per epoch, then held; saves ``checkpoint(budget)`` after every epoch.

    Args:
        levels: the budgets of epochs 0, 1, ... (the last one holds after them).
        checkpoint: budget -> path of its weights file, or None to save nothing.

    The budget depends on the epoch only, so a resumed run (whose first epoch is the next one)
    continues the schedule exactly; ``history`` [(epoch, budget)] travels in the resume state.
    """

    finished = False

    def __init__(self, levels: list[float], checkpoint=None, verbose: bool = True):
        super().__init__()
        self.levels, self.checkpoint, self.verbose = list(levels), checkpoint, verbose
        self.history: list[tuple[int, float]] = []

    def get_state(self) -> dict:
        return {"history": [list(h) for h in self.history]}

    def set_state(self, state: dict) -> None:
        self.history = [(int(e), float(b)) for e, b in state["history"]]

    def budget_of(self, epoch: int) -> float:
        return self.levels[min(epoch, len(self.levels) - 1)]

    def on_epoch_begin(self, epoch, logs=None):
        budget = self.budget_of(epoch)
        if not self.history or self.history[-1][1] != budget:
            self.history.append((epoch, budget))
            if self.verbose and epoch:
                print(f"\nepoch {epoch + 1}: budget -> {budget:g}")
        self.model.neuron.budget.assign(budget)

    def on_epoch_end(self, epoch, logs=None):
        if self.checkpoint is not None:
            save_weights(self.model, self.checkpoint(self.budget_of(epoch)))


class PlateauBudget(AdaptiveAlpha):
    """One step down `levels` at each plateau of the monitored per-step loss (as `AdaptiveAlpha`,
    whose window, step reading and resume state it shares); ``history`` holds (global step, budget
    reached). Training stops after the plateau at the last level."""

    def __init__(self, levels: list[float], patience: int, min_delta: float = 0.01,
                 monitor: str = "classification", checkpoint=None, verbose: bool = True):
        super().__init__(patience, min_delta, monitor, checkpoint=checkpoint, verbose=verbose)
        self.levels = list(levels)

    def on_train_begin(self, logs=None):
        if not self.history:
            self.model.neuron.budget.assign(self.levels[0])
        self.seen = int(self.model.step_count.numpy())

    def add(self, value: float) -> None:
        """One training step's monitored loss: on a plateau, save, lower the budget or stop."""
        self.global_step += 1
        if not self.window.add(value):
            return
        level = len(self.history)  # every plateau so far took one step down
        budget = self.levels[level]
        if self.checkpoint is not None:
            save_weights(self.model, self.checkpoint(budget))
        self.window.clear()
        if level + 1 >= len(self.levels):
            self.model.stop_training = True
            self.finished = True
            self.history.append((self.global_step, budget))
            return
        new = self.levels[level + 1]
        self.model.neuron.budget.assign(new)
        self.history.append((self.global_step, new))
        if self.verbose:
            print(f"\nplateau at budget {budget:g} after {self.global_step} steps: budget -> {new:g}")


def budget_schedule(schedule: str, start: float, final: float, steps: int, patience: int, min_delta: float = 0.01,
                    monitor: str = "classification", checkpoint=None, verbose: bool = True):
    """The budget schedule `schedule` ("geometric" or "plateau", --budget_schedule) from `start` down to
    `final` in `steps` steps (`budget_levels`); `patience`, `min_delta` and `monitor` define a plateau.
    `checkpoint`: budget -> weights path, or None."""
    levels = budget_levels(start, final, steps, budget_decimals(final))
    if schedule == "geometric":
        return GeometricBudget(levels, checkpoint, verbose=verbose)
    return PlateauBudget(levels, patience, min_delta, monitor, checkpoint, verbose=verbose)
