import numpy as np

from utils.plateau import PlateauWindow, fitted_decrease, is_plateau

RNG = np.random.default_rng(0)
N = 100


def test_fitted_decrease_of_a_line():
    assert np.isclose(fitted_decrease(np.linspace(2.0, 1.0, N)), 1.0)
    assert np.isclose(fitted_decrease(np.linspace(1.0, 2.0, N)), -1.0)


def test_flat_is_a_plateau():
    assert is_plateau(np.full(N, 0.3), min_delta=0.01)


def test_decreasing_is_not():
    assert not is_plateau(0.3 + np.exp(-np.arange(N) / 40.0), min_delta=0.01)


def test_noisy_flat_is_a_plateau_even_with_big_swings():
    # The original rule (max - min >= 1.1 * mean) called this "stagnation" only because of
    # the swings; here it is a plateau because the trend is flat.
    values = 0.3 + 0.25 * RNG.standard_normal(N)
    assert is_plateau(values, min_delta=0.05)
    assert np.ptp(values) > 1.1 * values.mean()


def test_noisy_decreasing_is_not():
    values = np.linspace(1.0, 0.5, N) + 0.1 * RNG.standard_normal(N)
    assert not is_plateau(values, min_delta=0.05)


def test_rising_is_a_plateau():
    assert is_plateau(np.linspace(0.2, 0.4, N), min_delta=0.01)


def test_window_waits_until_full_and_slides():
    window = PlateauWindow(patience=10, min_delta=0.01)
    assert not any(window.add(1.0) for _ in range(9))
    assert window.add(1.0)
    window.clear()
    assert not window.add(1.0) and len(window.values) == 1
    for v in np.linspace(5, 1, 30):
        fired = window.add(v)
    assert not fired and len(window.values) == 10
