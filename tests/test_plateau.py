import numpy as np

from utils.training.plateau import PlateauWindow, fitted_decrease, is_plateau

N = 100


def trendless_noise(scale, seed):
    """Gaussian noise with its least-squares trend removed: its fitted line is exactly flat."""
    noise = scale * np.random.default_rng(seed).standard_normal(N)
    t = np.arange(N) - (N - 1) / 2
    noise -= noise.mean() + t * np.dot(t, noise - noise.mean()) / np.dot(t, t)
    return noise


def test_fitted_decrease_of_a_line():
    assert np.isclose(fitted_decrease(np.linspace(2.0, 1.0, N)), 1.0)
    assert np.isclose(fitted_decrease(np.linspace(1.0, 2.0, N)), -1.0)


def test_flat_is_a_plateau():
    assert is_plateau(np.full(N, 0.3), min_delta=0.01)


def test_decreasing_is_not():
    assert not is_plateau(0.3 + np.exp(-np.arange(N) / 40.0), min_delta=0.01)


def test_noisy_flat_is_a_plateau_even_with_big_swings():
    # The original rule (max - min >= 1.1 * mean) called this "stagnation" only because of
    # the swings; here it is a plateau because the trend is flat (whatever the noise's seed).
    for seed in range(5):
        values = 0.3 + trendless_noise(0.25, seed)
        assert abs(fitted_decrease(values)) < 1e-12
        assert is_plateau(values, min_delta=0.01)
        assert np.ptp(values) > 1.1 * values.mean()


def test_noisy_decreasing_is_not():
    # The fitted line falls by exactly 0.5 (of a mean of 0.75), far beyond min_delta * 0.75.
    for seed in range(5):
        values = np.linspace(1.0, 0.5, N) + trendless_noise(0.1, seed)
        assert np.isclose(fitted_decrease(values), 0.5)
        assert not is_plateau(values, min_delta=0.05)
        assert is_plateau(values, min_delta=0.5 / 0.75 + 1e-6)  # and the threshold is where it should be


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
