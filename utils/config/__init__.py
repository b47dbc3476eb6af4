"""Configuration and command line: one typed Config, presets from config.toml, checks, script entry.

Nothing here imports TensorFlow, so `--help` and bad input answer at once.
"""
from utils.config.entry import run
from utils.config.parser import parse_config
from utils.config.schema import (COMMON, DEFAULT_CONFIG_FILE, EVAL, EVALX, EXPLAIN, FAITH, HNS, PRETRAIN, Config,
                                 as_dict, fill_dataset_defaults)

__all__ = ["COMMON", "DEFAULT_CONFIG_FILE", "EVAL", "EVALX", "EXPLAIN", "FAITH", "HNS", "PRETRAIN", "Config",
           "as_dict", "fill_dataset_defaults", "parse_config", "run"]


def __getattr__(name):
    """TRANSITIONAL (issue #33): `start_process` moved to utils.stages.process; answered here until the scripts
    that import it from utils.config switch (NOTES-H2.md), then this goes."""
    if name == "start_process":
        # deferred: transitional re-export of a name moved to the orchestration layer (above this package)
        from utils.stages.process import start_process

        return start_process
    raise AttributeError(f"module 'utils.config' has no attribute {name!r}")
