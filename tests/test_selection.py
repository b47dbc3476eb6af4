"""Leave-one-out selection on a scripted table, and the mode ranking on hand-solved images."""
import numpy as np
import pytest

from utils.evaluation.ranking import TIE_BREAK, mode_ranking
from utils.evaluation.selection import chosen_everywhere, leave_one_out

# validation scores: "b" wins on a and c, "a" wins only on data set b (by a lot)
VALIDATION = {"a": {"a": 0.50, "b": 0.99, "c": 0.50},
              "b": {"a": 0.80, "b": 0.10, "c": 0.80}}
TEST = {"a": {"a": 0.1, "b": 0.2, "c": 0.3}, "b": {"a": 0.4, "b": 0.5, "c": 0.6}}


def test_leave_one_out_picks_what_the_other_data_sets_prefer():
    picks = leave_one_out(VALIDATION, TEST)
    # held out a: on b and c, "a" averages (0.99 + 0.50) / 2 = 0.745 and "b" (0.10 + 0.80) / 2 = 0.45
    assert picks["a"] == {"choice": "a", "validation": pytest.approx(0.745), "test": 0.1}
    # held out b: on a and c, "b" 0.80 against "a" 0.50
    assert picks["b"] == {"choice": "b", "validation": pytest.approx(0.80), "test": 0.5}
    assert picks["c"]["choice"] == "a" and picks["c"]["test"] == 0.3
    # over every data set: "a" 0.663, "b" 0.567
    assert chosen_everywhere(VALIDATION) == "a"


def test_leave_one_out_never_reads_the_held_out_validation_score():
    changed = {c: dict(v) for c, v in VALIDATION.items()}
    changed["b"]["a"] = 100.0   # "b" is now best by far on a's own validation split
    assert leave_one_out(changed)["a"]["choice"] == leave_one_out(VALIDATION)["a"]["choice"] == "a"
    assert leave_one_out(changed)["b"]["choice"] == "b"


def test_leave_one_out_ties_go_to_the_first_candidate_and_bad_tables_are_refused():
    even = {"x": {"a": 0.5, "b": 0.5}, "y": {"a": 0.5, "b": 0.5}}
    assert {p["choice"] for p in leave_one_out(even).values()} == {"x"}
    with pytest.raises(ValueError, match="not on"):
        leave_one_out({"x": {"a": 0.5, "b": 0.5}, "y": {"a": 0.5}})
    with pytest.raises(ValueError, match="two data sets"):
        leave_one_out({"x": {"a": 0.5}})


def test_mode_ranking_puts_the_densest_kept_pixel_first():
    # a kept plus sign (5 pixels) and one isolated kept pixel with the highest probability of all
    s = np.zeros((1, 9, 9))
    s[0, 4, 3:6] = s[0, 3:6, 4] = 0.9
    s[0, 0, 8] = 1.0
    assert np.unravel_index(np.argmax(mode_ranking(s, 0)), s.shape)[1:] == (0, 8)   # sigma 0: the hider's own
    assert np.unravel_index(np.argmax(mode_ranking(s, 1)), s.shape)[1:] == (4, 4)   # the plus sign's centre
    # by hand at the centre with sigma 1: every kept pixel of the plus weighs g(d) = exp(-d^2 / 2) / Z
    g = np.exp(-np.arange(-4, 5) ** 2 / 2.0)
    g /= g.sum()
    expected = 0.9 * (g[4] * g[4] + 4 * g[4] * g[5]) + TIE_BREAK * 0.9
    assert mode_ranking(s, 1)[0, 4, 4] == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match="sigma"):
        mode_ranking(s, -1)


def test_the_kept_mode_stays_on_the_kept_pixels():
    # two parallel kept strokes two pixels apart: the density peaks on the unkept row between them
    s = np.zeros((1, 7, 7))
    s[0, 2, 1:6] = s[0, 4, 1:6] = 0.9
    y = s > 0.5
    free = np.unravel_index(np.argmax(mode_ranking(s, 1)), s.shape)[1:]
    kept = np.unravel_index(np.argmax(mode_ranking(s, 1, y)), s.shape)[1:]
    assert free == (3, 3) and not y[0][free]
    assert y[0][kept] and kept in ((2, 3), (4, 3))
    r = mode_ranking(s, 1, y)
    assert r[y].min() > r[~y].max()        # every kept pixel before every other
    assert np.array_equal(r[~y], s[~y])    # the others in the hider's order
