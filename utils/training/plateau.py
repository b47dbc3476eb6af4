"""When has a loss stopped improving? The test behind the adaptive alpha schedule.

The window holds the last `patience` per-step values v_0 .. v_{n-1}. A least-squares line
v ~ a + b t is fitted through them; the loss is still improving when the line falls by more
than ``min_delta`` of the window's mean level over the window:

    improving  <=>  -b (n - 1) > min_delta * |mean(v)|

so a plateau is a fitted decrease below that (a flat, noisy or rising window). Fitting a line
rather than comparing the extremes keeps step-to-step noise from passing for progress or
for stagnation: the original code compared max - min with the mean and so fired on large
fluctuations instead of on plateaus.
"""
from __future__ import annotations

import numpy as np


def fitted_decrease(values) -> float:
    """How much the least-squares line through `values` falls from the first step to the last."""
    v = np.asarray(values, np.float64)
    n = len(v)
    if n < 2:
        return 0.0
    t = np.arange(n, dtype=np.float64)
    t -= t.mean()
    slope = float(np.dot(t, v - v.mean()) / np.dot(t, t))
    return -slope * (n - 1)


def is_plateau(values, min_delta: float) -> bool:
    """True when the window is full of values that no longer improve (see the module docstring)."""
    v = np.asarray(values, np.float64)
    if not np.all(np.isfinite(v)):
        return False
    return fitted_decrease(v) <= min_delta * abs(float(v.mean()))


class PlateauWindow:
    """A sliding window of the last `patience` values with the plateau test."""

    def __init__(self, patience: int, min_delta: float):
        self.patience, self.min_delta = patience, min_delta
        self.values: list[float] = []

    def add(self, value: float) -> bool:
        """Add a value; True when the window is full and on a plateau."""
        self.values.append(float(value))
        if len(self.values) > self.patience:
            del self.values[0]
        return len(self.values) == self.patience and is_plateau(self.values, self.min_delta)

    def clear(self) -> None:
        self.values = []
