"""Configuration and command line: one typed Config, presets from config.toml, checks, script entry.

Nothing here imports TensorFlow, so `--help` and bad input answer at once.
"""
from utils.config.entry import run
from utils.config.parser import parse_config
from utils.config.schema import (AMORTISED, COMMON, DEFAULT_CONFIG_FILE, EVAL, EVALX, EXPLAIN, FAITH, HNS, PRETRAIN,
                                 Config, as_dict, fill_dataset_defaults)

__all__ = ["AMORTISED", "COMMON", "DEFAULT_CONFIG_FILE", "EVAL", "EVALX", "EXPLAIN", "FAITH", "HNS", "PRETRAIN",
           "Config", "as_dict", "fill_dataset_defaults", "parse_config", "run"]

