"""The command line of every script, built from the `Config` fields of the groups it takes.

`parse_config(argv, script, description, groups)` is the only place where presets and flags are
merged and validated (`effective_values`, which `--help` shows too). It does not import TensorFlow,
so `--help` and bad input answer at once, and it has no side effects: the devices and the cluster
of ``--strategy`` are set up by the script where its run starts (`utils.config.entry.start_process`).
"""
from __future__ import annotations

import argparse
import sys
import textwrap
from dataclasses import fields
from pathlib import Path

from utils.config.checks import validate
from utils.config.presets import SCRIPTS, load_presets, preset_sources, resolve_preset
from utils.config.schema import (COMMON, DEFAULT_CONFIG_FILE, FIELDS, HIDDEN_FLAGS, HNS, HNS_RUN_NOTE,
                                 METHOD_LEARNING_RATES, SCRIPT_HELP, Config, fill_dataset_defaults, type_of)
from utils.errors import UsageError

TYPED = "command line"


class OneLineParser(argparse.ArgumentParser):
    """argparse, but errors are one line and raise UsageError instead of printing usage."""

    def error(self, message):
        raise UsageError(f"{message} (see {self.prog} --help)")


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Wraps help at spaces only, so that a value (a path, a list) is never cut in two."""

    def _split_lines(self, text, width):
        return textwrap.wrap(" ".join(text.split()), width, break_long_words=False, break_on_hyphens=False)


def _asks_help(arg: str) -> bool:
    return arg == "-h" or (len(arg) > 3 and "--help".startswith(arg))


class ConfigParser(OneLineParser):
    """The parser of a script's Config flags, whose --help ends each flag's help with the value the run
    would take, for the preset and flags given, and where it comes from (`effective_values`)."""

    def __init__(self, script: str, **kw):
        super().__init__(**kw)
        self.script = script

    def parse_known_args(self, args=None, namespace=None):
        args = sys.argv[1:] if args is None else list(args)
        if any(map(_asks_help, args)):
            self._show_values(self._typed_before_help([a for a in args if not _asks_help(a)]))
        return super().parse_known_args(args, namespace)

    def _typed_before_help(self, args) -> dict:
        """The flags typed besides --help; where they do not parse, at least --config and --config_file."""
        try:
            namespace, _ = super().parse_known_args(args)
        except UsageError:
            first = OneLineParser(add_help=False)
            for name in ("config", "config_file"):
                first.add_argument(f"--{name}", default=argparse.SUPPRESS)
            try:
                namespace, _ = first.parse_known_args(args)
            except UsageError:
                return {}
        return {k: v for k, v in vars(namespace).items() if k in FIELDS}

    def _show_values(self, typed: dict) -> None:
        try:
            values = shown_values(self.script, typed)
        except UsageError as e:   # a broken config file: the defaults, and why
            values = {name: (f.default, "default") for name, f in FIELDS.items()}
            self.description = f"{self.description}\n(Showing the built-in defaults: {e}.)"
        for action in self._actions:
            name = action.dest
            if name in values and action.help is not argparse.SUPPRESS:
                action.help = f"{action.help} ({_where(*values[name])})".replace("%", "%%")


def _shown(value) -> str:
    """A value as --help shows it: TOML's true/false, 'not set' for None, "" for an empty text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "not set"
    return '""' if value == "" else str(value)


def _where(value, source, per_script=()) -> str:
    text = f"{source}: {_shown(value)}"
    return "; ".join([text, *(f"in {script}, {where}: {_shown(v)}" for script, v, where in per_script)])


def effective_values(script: str, typed: dict) -> dict:
    """{field: (value, source)} of the Config that `script` runs with given the `typed` flags (parsed):
    defaults < preset (its script and estimator tables) < typed, then the dataset's native shape."""
    config_file = Path(typed.get("config_file", DEFAULT_CONFIG_FILE))
    name = typed.get("config", Config.config)
    values = {f.name: (f.default, "default") for f in fields(Config) if f.name in FIELDS}
    values.update(preset_sources(load_presets(config_file), name, script, typed, config_file))
    values.update({key: (value, TYPED) for key, value in typed.items()})
    values["config"] = (name, TYPED if "config" in typed else "default")
    bare = Config(**{key: value for key, (value, _) in values.items()})
    filled = fill_dataset_defaults(bare)
    for key in FIELDS:
        if getattr(filled, key) != getattr(bare, key):
            rule = "native to" if key != "shift_fill" else "default on"
            values[key] = (getattr(filled, key), f"{rule} {filled.dataset}")
    _fit_preset_grid(values, typed)
    return values


def nearest_divisor(n: int, g: int) -> int:
    """The divisor of n nearest to g (of two as near, the smaller: coarser cells)."""
    return min((d for d in range(1, n + 1) if n % d == 0), key=lambda d: (abs(d - g), d))


def _fit_preset_grid(values: dict, typed: dict) -> None:
    """A preset's EVAL-X grid that does not divide the image size (the folder preset's 16 at --image_size 40)
    becomes the divisor of the size nearest to it: a preset's default never stops a run; a typed grid that
    does not divide is refused (`utils.config.checks`)."""
    grid, source = values["evalx_grid"]
    size = values["image_size"][0]
    if "evalx_grid" in typed or grid is None or size is None or size % grid == 0:
        return
    values["evalx_grid"] = (nearest_divisor(size, grid), f"{source}: {grid}, the nearest divisor of image size {size}")


def shown_values(script: str, typed: dict) -> dict:
    """`effective_values` as --help shows them: explain.py's learning rate is the method's unless typed,
    and demo.py, which runs the other scripts, names what their script tables of the preset change."""
    values = effective_values(script, typed)
    if script == "explain.py" and "learning_rate" not in typed:
        method = values["method"][0]
        family = method.split("-")[0]
        if family in METHOD_LEARNING_RATES:
            values["learning_rate"] = (METHOD_LEARNING_RATES[family], f"{method}'s own")
        else:
            values["learning_rate"] = (None, f"{method} has none")
    if Path(script).stem not in SCRIPTS:
        config_file = Path(typed.get("config_file", DEFAULT_CONFIG_FILE))
        preset, _ = resolve_preset(load_presets(config_file), values["config"][0], config_file)
        stages = {f"{stem}.py": effective_values(f"{stem}.py", typed) for stem in SCRIPTS if stem in preset}
        values = {key: (value, source, [(stage, *there[key]) for stage, there in stages.items()
                                        if there[key][0] != value])
                  for key, (value, source) in values.items()}
    return values


def _help(script: str, f) -> str:
    text = SCRIPT_HELP.get((script, f.name), f.metadata["help"])
    if f.metadata["group"] == HNS and script in HNS_RUN_NOTE:
        text = f"{text} {HNS_RUN_NOTE[script]}"
    return text


def build_parser(script: str, description: str, groups=(COMMON,), skip=()) -> argparse.ArgumentParser:
    """Command line of `script`: one flag per Config field of the requested groups, but those named in `skip`.

    Every flag defaults to "absent" so that only what the user typed overrides the preset; the help
    describes the flag for `script` (`SCRIPT_HELP`) and shows the value the run takes and its source.
    Flags of `HIDDEN_FLAGS`, which mean nothing in `script`, are accepted but left out of its help.
    """
    parser = ConfigParser(script, prog=script, description=description, formatter_class=_HelpFormatter)
    for f in fields(Config):
        if f.metadata.get("group") not in groups or f.name in skip:
            continue
        kind = type_of(f)
        hidden = f.name in HIDDEN_FLAGS.get(script, ())
        kw = {"help": argparse.SUPPRESS if hidden else _help(script, f), "default": argparse.SUPPRESS}
        if kind is bool:
            kw["action"] = argparse.BooleanOptionalAction   # --no-<flag> undoes a preset's true
        else:
            kw["type"] = kind
            kw["metavar"] = f.metadata.get("metavar", f.name.upper())
            if "choices" in f.metadata:
                kw["choices"] = f.metadata["choices"]
                kw["metavar"] = "{" + ",".join(map(str, f.metadata["choices"])) + "}"
        parser.add_argument(f"--{f.name}", **kw)
    return parser


def parse_config(argv, script: str, description: str, groups=(COMMON,)) -> Config:
    """Parse `argv` for `script` into a validated Config; ``cfg.typed`` names the flags typed."""
    typed = vars(build_parser(script, description, groups).parse_args(argv))
    values = effective_values(script, typed)
    cfg = Config(**{key: value for key, (value, _) in values.items()}, typed=frozenset(typed))
    validate(cfg)
    return cfg
