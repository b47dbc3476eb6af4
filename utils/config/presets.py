"""Presets in config.toml: one table per preset, with optional per-script and per-estimator tables.

    [mnist-5k]                          # every script
    batch_size = 64
    [mnist-5k.collaborative_training]   # only that script (the file name without .py)
    learning_rate = 5e-4
    [mnist-5k.estimator.sa]             # every script, when --stochastic --estimator sa
    rate = 0.1
    [mine]
    extends = "mnist-5k"                # everything of [mnist-5k], sub-tables included ...
    unset = ["augment_shift"]           # ... but these keys, which fall back to the built-in default
    batch_size = 32                     # ... and what [mine] sets itself wins, key by key, table by table

Merge order, later wins: defaults < preset < script table < estimator table < typed flags. A preset that
extends another is first merged with it, table by table (`resolve_preset`), so a parent's script table
still beats the child's top-level key for that script, as it would in one preset.
"""
from __future__ import annotations

import tomllib  # Python >= 3.11 (pyproject.toml): no tomli fallback
from pathlib import Path

from utils.config.checks import coerce
from utils.config.schema import DEFAULT_CONFIG_FILE, ESTIMATORS, FIELDS, UI_FLAGS, Config
from utils.errors import UsageError

SCRIPTS = ("pretrain_seeker", "pretrain_hider", "baseline", "collaborative_training", "evaluation", "explain",
           "faithfulness", "train_explainer")
ESTIMATOR_TABLE = "estimator"
EXTENDS, UNSET = "extends", "unset"


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


def _lineage(presets: dict, name: str, config_file) -> list[str]:
    """`name`, the preset it extends, the one that extends, ... (each checked on its own)."""
    if name not in presets or not isinstance(presets[name], dict):
        raise UsageError(f"unknown preset '{name}': choose one of {', '.join(presets)} "
                         f"or add a [{name}] table to {config_file}")
    lineage = [name]
    while True:
        child = presets[lineage[-1]]
        own = {k: v for k, v in child.items() if k not in (EXTENDS, UNSET)}
        _check_tables(own, lineage[-1], config_file)
        _values(own, f"preset [{lineage[-1]}] in {config_file}")
        if EXTENDS not in child:
            if UNSET in child:
                raise UsageError(f"preset [{lineage[-1]}] in {config_file} has '{UNSET}' but extends no preset: "
                                 f"remove the {UNSET} line or add extends = \"PRESET\"")
            return lineage
        parent = child[EXTENDS]
        if not isinstance(parent, str) or parent not in presets or not isinstance(presets[parent], dict):
            raise UsageError(f"preset [{lineage[-1]}] in {config_file} extends unknown preset {parent!r}: "
                             f"name one of {', '.join(p for p in presets if p != lineage[-1])}, or remove its "
                             f"{EXTENDS} line")
        if parent in lineage:
            raise UsageError(f"presets in {config_file} extend each other in a circle "
                             f"({' -> '.join([*lineage, parent])}): remove one of these {EXTENDS} lines")
        lineage.append(parent)


def _merge(into: dict, table: dict, path: tuple, preset: str, owners: dict, config_file) -> None:
    for key, value in table.items():
        if key in into and isinstance(value, dict) != isinstance(into[key], dict):
            # estimator = "sa" in one preset, [NAME.estimator.sa] in the other: TOML allows no such pair
            raise UsageError(f"preset [{preset}] in {config_file}: '{'.'.join((*path, key))}' is a "
                             f"{'table' if isinstance(value, dict) else 'value'} there and a "
                             f"{'value' if isinstance(value, dict) else 'table'} in the preset it extends: keep one")
        if isinstance(value, dict):
            _merge(into.setdefault(key, {}), value, (*path, key), preset, owners, config_file)
        else:
            into[key] = value
            owners[(*path, key)] = preset


def resolve_preset(presets: dict, name: str, config_file) -> tuple[dict, dict]:
    """Preset `name` as one table, with what it extends merged in table by table (its own keys win), and
    for each key path (``("collaborative_training", "max_epochs")``) the preset whose table wrote it."""
    table, owners = {}, {}
    for preset in reversed(_lineage(presets, name, config_file)):
        entries = presets[preset]
        unset = entries.get(UNSET, [])
        if not isinstance(unset, list) or not all(isinstance(key, str) and key in table and not
                                                  isinstance(table[key], dict) for key in unset):
            raise UsageError(f"preset [{preset}] in {config_file}: {UNSET} must list keys that [{entries[EXTENDS]}] "
                             f"sets, got {unset!r}: remove the others")
        for key in unset:
            del table[key], owners[(key,)]
        _merge(table, {k: v for k, v in entries.items() if k not in (EXTENDS, UNSET)}, (), preset, owners, config_file)
    return table, owners


def _label(config_file, owner: str, path: tuple, name: str) -> str:
    """Where a preset's value is written, as the help shows it: ``config.toml [patches.faithfulness]``."""
    shown = Path(config_file).name if Path(config_file) == DEFAULT_CONFIG_FILE else str(config_file)
    text = f"{shown} [{'.'.join((owner, *path[:-1]))}]"
    return text if owner == name else f"{text}, extended by [{name}]"


def preset_sources(presets: dict, name: str, script: str, typed: dict, config_file) -> dict:
    """{key: (value, where it is written)} of what preset `name` gives `script` (a file name such as
    'explain.py'), before typed flags."""
    preset, owners = resolve_preset(presets, name, config_file)

    def entries(table: dict, *path) -> dict:
        where = f"table [{'.'.join((name, *path))}]" if path else f"preset [{name}]"
        values = _values(table, f"{where} in {config_file}")
        return {k: (v, _label(config_file, owners[(*path, k)], (*path, k), name)) for k, v in values.items()}

    out = entries(preset)
    stem = Path(script).stem
    if stem in preset:
        out.update(entries(preset[stem], stem))
    merged = {**{k: v for k, (v, _) in out.items()}, **typed}
    stochastic = merged.get("stochastic", Config.stochastic)
    estimator = merged.get("estimator", Config.estimator)
    if stochastic and preset.get(ESTIMATOR_TABLE, {}).get(estimator):
        out.update(entries(preset[ESTIMATOR_TABLE][estimator], ESTIMATOR_TABLE, estimator))
    return out


def preset_values(presets: dict, name: str, script: str, typed: dict, config_file) -> dict:
    """The values preset `name` gives `script` (a file name such as 'explain.py'), before typed flags."""
    return {key: value for key, (value, _) in preset_sources(presets, name, script, typed, config_file).items()}
