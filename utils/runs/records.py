"""Values read back from a run's JSON files (baseline.json, evaluation.json, ...), checked like flags.

A run file is read by a later script, and can be truncated by a full disk, edited by hand or
written by an older version. `read_record` reads one and `value` takes one key of it; each fails
with one line (a `UsageError`) that names the file, the key and the fix, never with a
JSONDecodeError or "could not convert string to float".
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from utils.errors import UsageError


def read_record(path, fix: str):
    """The JSON held by `path`; `fix` says how to get a good one (e.g. "run evaluation.py again")."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise UsageError(f"{path} cannot be read ({e.strerror}): {fix}") from e
    except UnicodeDecodeError as e:
        raise UsageError(f"{path} is not UTF-8 text (byte {e.object[e.start]:#04x} at offset {e.start}): {fix}") from e
    except json.JSONDecodeError as e:
        what = "is empty" if not e.doc.strip() else f"is not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})"
        raise UsageError(f"{path} {what}, perhaps cut short: {fix}") from e


def value(record, key: str, path, fix: str, kind: type = float, low: float | None = None,
          high: float | None = None, low_open: bool = False, required: bool = True, check=None):
    """``record[key]`` (a dotted key walks nested objects) as `kind`, or a UsageError naming file and key.

    Numbers must be finite and within [low, high] (or (low, high] with `low_open`); `check(v)`
    returns what else is wrong with a value, or None. A missing key is None unless `required`.
    """
    found = record
    for part in key.split("."):
        if not isinstance(found, dict) or part not in found:
            if required:
                raise UsageError(f"{path} has no key '{key}': {fix}")
            return None
        found = found[part]
    if kind is float:
        ok = isinstance(found, (int, float)) and not isinstance(found, bool) and math.isfinite(found)
        problem = None if ok else f"a finite number, got {found!r}"
        if ok and ((low is not None and (found <= low if low_open else found < low))
                   or (high is not None and found > high)):
            problem = (f"in {'(' if low_open else '['}{'-inf' if low is None else f'{low:g}'}, "
                       f"{'inf' if high is None else f'{high:g}'}], got {found!r}")
        found = float(found) if ok else found
    else:
        problem = None if isinstance(found, kind) else f"a {kind.__name__}, got {found!r}"
    if problem is None and check is not None:
        problem = check(found)
    if problem:
        raise UsageError(f"{path}: '{key}' must be {problem}: {fix}")
    return found


@dataclass(frozen=True)
class Baseline:
    """The accuracies of the seeker trained alone (baseline.py's ``baseline.json``), which Fidelity divides by:
    ``accuracy`` on test, ``val_accuracy`` on validation (None in a bare-number file), and the file's path."""

    test: float
    val: float | None
    source: str


def load_baseline(path) -> Baseline:
    """The accuracies in `path` (baseline.json, or a text file holding a bare number), each in (0, 1]."""
    fix = "point --baseline at a baseline.json written by baseline.py, or run baseline.py again"
    record = read_record(path, fix)
    if not isinstance(record, dict):  # a bare accuracy
        record = {"accuracy": record}
    test = value(record, "accuracy", path, fix, low=0, high=1, low_open=True)
    val = value(record, "val_accuracy", path, fix, low=0, high=1, low_open=True, required=False)
    return Baseline(test, val, str(Path(path)))
