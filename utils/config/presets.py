"""Presets in config.toml: one table per preset, with optional per-script and per-estimator tables.

    [mnist-5k]                          # every script
    batch_size = 64
    [mnist-5k.collaborative_training]   # only that script (the file name without .py)
    learning_rate = 5e-4
    [mnist-5k.estimator.sa]             # every script, when --stochastic --estimator sa
    rate = 0.1

Merge order, later wins: defaults < preset < script table < estimator table < typed flags.
"""
from __future__ import annotations

import tomllib  # Python >= 3.11 (pyproject.toml): no tomli fallback
from pathlib import Path

from utils.config.checks import coerce
from utils.config.schema import ESTIMATORS, FIELDS, UI_FLAGS, Config
from utils.errors import UsageError

SCRIPTS = ("pretrain_seeker", "pretrain_hider", "baseline", "collaborative_training", "evaluation", "explain",
           "faithfulness")
ESTIMATOR_TABLE = "estimator"


def load_presets(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise UsageError(f"config file {path} not found: pass --config_file PATH or restore config.toml")
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"config file {path} is not valid TOML ({e}): fix the syntax there")
    except UnicodeDecodeError as e:
        raise UsageError(f"config file {path} is not UTF-8 text (byte {e.object[e.start]:#04x} at offset {e.start}): "
                         "save it as UTF-8")
    except OSError as e:
        raise UsageError(f"cannot read config file {path} ({e.strerror}): check its permissions")


def _values(table: dict, where: str) -> dict:
    out = {}
    for key, value in table.items():
        if isinstance(value, dict):
            continue
        if key not in FIELDS or key in UI_FLAGS or key == "config":
            raise UsageError(f"{where} has unknown key '{key}': remove or rename it")
        out[key] = coerce(key, value, where)
    return out


def _check_tables(preset: dict, name: str, config_file) -> None:
    """Check every sub-table, whichever script reads it, so that a typo never passes silently."""
    where = f"preset [{name}] in {config_file}"
    for key, value in preset.items():
        if not isinstance(value, dict):
            continue
        if key == ESTIMATOR_TABLE:
            unknown = sorted(set(value) - set(ESTIMATORS))
            if unknown or not all(isinstance(v, dict) for v in value.values()):
                raise UsageError(f"{where}: [{name}.{ESTIMATOR_TABLE}.*] tables must be named after an "
                                 f"estimator ({', '.join(ESTIMATORS)}), got {', '.join(unknown) or 'values'}")
            for estimator, table in value.items():
                _values(table, f"table [{name}.{ESTIMATOR_TABLE}.{estimator}] in {config_file}")
        elif key in SCRIPTS:
            _values(value, f"table [{name}.{key}] in {config_file}")
        else:
            raise UsageError(f"{where}: unknown table [{name}.{key}]: name a script ({', '.join(SCRIPTS)}) "
                             f"or '{ESTIMATOR_TABLE}'")


def preset_values(presets: dict, name: str, script: str, typed: dict, config_file) -> dict:
    """The values preset `name` gives `script` (a file name such as 'explain.py'), before typed flags."""
    if name not in presets:
        raise UsageError(f"unknown preset '{name}': choose one of {', '.join(presets)} "
                         f"or add a [{name}] table to {config_file}")
    preset = presets[name]
    _check_tables(preset, name, config_file)
    values = _values(preset, f"preset [{name}] in {config_file}")
    stem = Path(script).stem
    if stem in preset:
        values.update(_values(preset[stem], f"table [{name}.{stem}] in {config_file}"))
    merged = {**values, **typed}
    stochastic = merged.get("stochastic", Config.stochastic)
    estimator = merged.get("estimator", Config.estimator)
    table = preset.get(ESTIMATOR_TABLE, {}).get(estimator) if stochastic else None
    if table:
        values.update(_values(table, f"table [{name}.{ESTIMATOR_TABLE}.{estimator}] in {config_file}"))
    return values
