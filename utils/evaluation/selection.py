"""Choosing a setting by leaving one data set out (issue 31): a setting chosen on a data set is a hypothesis
about the others, so each data set's figure is reported for the setting the *other* data sets chose.

With C candidate settings, D data sets, v[c][d] the validation score of setting c on data set d (higher is
better) and t[c][d] its test score:

    choice(d) = argmax_c  1/(D-1) sum_{e != d} v[c][e]          (ties: the candidate listed first)
    held-out figure of d = t[choice(d)][d]

The candidates are compared on the mean of their validation scores over the other data sets: every one is
scored on the same data sets, so the mean ranks them as the sum does. A candidate without a score on a data
set (a run that failed, a seeker at chance) is not skipped: the caller enters it with the score it earned
(0 for a figure in [0, 1]), so that a setting that fails somewhere is not chosen for looking good elsewhere.
"""
from __future__ import annotations

import numpy as np


def leave_one_out(validation: dict[str, dict[str, float]], test: dict[str, dict[str, float]] | None = None) -> dict:
    """{held-out data set: {"choice": candidate, "validation": its mean validation score on the others,
    "test": its test score on the held-out data set (None without `test`)}} for every data set of
    `validation` ({candidate: {data set: score}}; every candidate must score every data set)."""
    candidates = list(validation)
    if not candidates:
        raise ValueError("no candidates to choose from")
    data_sets = list(validation[candidates[0]])
    if len(data_sets) < 2:
        raise ValueError(f"leaving one out needs at least two data sets, got {data_sets}")
    for c in candidates:
        if set(validation[c]) != set(data_sets):
            raise ValueError(f"candidate {c!r} is scored on {sorted(validation[c])}, not on {sorted(data_sets)}")
    out = {}
    for held_out in data_sets:
        others = [d for d in data_sets if d != held_out]
        means = [float(np.mean([validation[c][d] for d in others])) for c in candidates]
        best = int(np.argmax(means))   # the first of equal means
        choice = candidates[best]
        out[held_out] = {"choice": choice, "validation": means[best],
                         "test": None if test is None else test[choice][held_out]}
    return out


def chosen_everywhere(validation: dict[str, dict[str, float]]) -> str:
    """The candidate with the best mean validation score over every data set (ties: the first listed): the
    setting a preset takes once leaving one out has shown how the choice carries to data it was not made on."""
    candidates = list(validation)
    means = [float(np.mean(list(validation[c].values()))) for c in candidates]
    return candidates[int(np.argmax(means))]
