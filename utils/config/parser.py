"""The command line of every script, built from the `Config` fields of the groups it takes.

`parse_config(argv, script, description, groups)` is the only place where presets and flags are
merged and validated. It does not import TensorFlow, so `--help` and bad input answer at once, and
it has no side effects: the devices and the cluster of ``--strategy`` are set up by the script
where its run starts (`utils.config.entry.start_process`).
"""
from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path

from utils.config.checks import validate
from utils.config.presets import load_presets, preset_values
from utils.config.schema import COMMON, DEFAULT_CONFIG_FILE, Config, fill_dataset_defaults, type_of
from utils.errors import UsageError


class OneLineParser(argparse.ArgumentParser):
    """argparse, but errors are one line and raise UsageError instead of printing usage."""

    def error(self, message):
        raise UsageError(f"{message} (see {self.prog} --help)")


def build_parser(script: str, description: str, groups=(COMMON,), skip=()) -> argparse.ArgumentParser:
    """Command line of `script`: one flag per Config field of the requested groups, but those named in `skip`.

    Every flag defaults to "absent" so that only what the user typed overrides the preset; the
    help shows the built-in default.
    """
    parser = OneLineParser(prog=script, description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    for f in fields(Config):
        if f.metadata.get("group") not in groups or f.name in skip:
            continue
        kind = type_of(f)
        help_text = f.metadata["help"] + ("" if f.default in (None, False) else f" (default: {f.default})")
        kw = {"help": help_text, "default": argparse.SUPPRESS}
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
    config_file = Path(typed.get("config_file", DEFAULT_CONFIG_FILE))
    name = typed.get("config", Config.config)
    values = preset_values(load_presets(config_file), name, script, typed, config_file)
    values.update(typed)
    values["config"] = name
    cfg = fill_dataset_defaults(Config(**values, typed=frozenset(typed)))
    validate(cfg)
    return cfg
