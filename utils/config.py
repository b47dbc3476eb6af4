"""One typed configuration for every script: defaults < preset in config.toml < flags.

`parse_config(argv, script)` is the only place where presets and flags are merged and
validated. It does not import TensorFlow, so `--help` and bad input answer at once.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Optional

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python < 3.11 only
    import tomli as tomllib

from utils.errors import UsageError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_FILE = PROJECT_ROOT / "config.toml"

DATASETS = ("mnist-5k", "mnist", "fashion", "cifar10", "cifar100", "folder")
MODELS = ("small", "large", "resnet")
ESTIMATORS = ("st1", "st2", "sa", "reinforce")
MONITORS = ("classification", "total")
# The hider halves the image twice (small) or five times (large, resnet), so the
# image size must be a multiple of 2**n for the decoder to give back the input size.
SIZE_MULTIPLE = {"small": 4, "large": 32, "resnet": 32}
NATIVE_SHAPES = {
    "mnist-5k": (28, 1, 10), "mnist": (28, 1, 10), "fashion": (28, 1, 10),
    "cifar10": (32, 3, 10), "cifar100": (32, 3, 100),
}

# Groups of flags: every script takes "common"; the others only where they mean something.
COMMON, TRAIN, HNS, EVAL = "common", "train", "hns", "eval"


def _opt(default, help, group=COMMON, **kw):
    return field(default=default, metadata={"help": help, "group": group, **kw})


@dataclass
class Config:
    """Everything a run needs. Field metadata drives the command line and the checks."""

    config: str = _opt("mnist-5k", "Preset in config.toml to start from.")
    config_file: str = _opt(str(DEFAULT_CONFIG_FILE), "TOML file holding the presets.")
    identifier: str = _opt("default", "Name of the run: folder under logs/, weights/, results/.")
    dataset: str = _opt("mnist-5k", "Dataset to load.", choices=DATASETS)
    data_dir: Optional[str] = _opt(None, "Folder with train/ and test/ class folders (dataset 'folder').")
    image_size: Optional[int] = _opt(None, "Images are resized to image_size x image_size (default: native size).")
    channels: Optional[int] = _opt(None, "1 (grayscale) or 3 (RGB); images are converted (default: native).")
    num_classes: Optional[int] = _opt(None, "Number of classes (default: from the data).")
    train_images: Optional[int] = _opt(None, "Cap on the training images, validation split included.")
    test_images: Optional[int] = _opt(None, "Cap on the test images.")
    validation_split: float = _opt(0.1, "Share of the training split held out for model selection.")
    augment_shift: int = _opt(0, "Augmentation: training images move by a random whole number of pixels "
                              "in [-N, N] along each axis (0: off). Pretraining, baseline and HnS alike.")
    batch_size: int = _opt(64, "Batch size.")
    max_epochs: int = _opt(10, "Maximum number of epochs.")
    learning_rate: float = _opt(1e-3, "Adam learning rate (in explain.py: CEM's initial learning rate).")
    model: str = _opt("small", "Architecture: small, large (hider_large + seeker_large) or resnet "
                      "(hider_large + ResNet50 seeker, no pretrained weights).", choices=MODELS)
    hider_weights: Optional[str] = _opt(None, "Pretrained hider weights (.weights.h5) to start from.")
    seeker_weights: Optional[str] = _opt(None, "Pretrained seeker weights (.weights.h5) to start from.")
    baseline: Optional[str] = _opt(None, "baseline.json (or a file holding a bare accuracy) of the seeker "
                                   "trained alone; needed for Fidelity, FIR and FII.")
    seed: int = _opt(0, "Seed for data order, initialisation and mask sampling.")
    foreground_threshold: float = _opt(0.1, "Input values above this count as foreground for I_fg.")
    debug: bool = _opt(False, "Run without writing anything (no weights, logs or results).")
    verbose: bool = _opt(False, "Show tracebacks on errors.")
    overwrite: bool = _opt(False, "Replace an existing run with the same identifier.")
    quiet: bool = _opt(False, "No progress bars.")
    # Hide-and-Seek
    stochastic: bool = _opt(False, "Binary stochastic neurons instead of deterministic ones.", group=HNS)
    estimator: str = _opt("st1", "Gradient estimator of the stochastic neuron.", group=HNS, choices=ESTIMATORS)
    rate: float = _opt(0.5, "Slope annealing: the slope is multiplied by (1 + rate) after each epoch.", group=HNS)
    alpha: Optional[float] = _opt(None, "Constant alpha in [0, 1]; without it alpha adapts from 1.0 down.",
                                  group=HNS)
    alpha_step: float = _opt(0.05, "How much the adaptive schedule lowers alpha at each plateau.", group=HNS)
    min_alpha: float = _opt(0.05, "The adaptive schedule stops after the plateau at this alpha.", group=HNS)
    patience: int = _opt(100, "Training steps in the plateau window of the adaptive schedule.", group=HNS)
    min_delta: float = _opt(0.01, "Plateau: the monitored loss improved by less than this share over "
                            "the window.", group=HNS)
    monitor: str = _opt("classification", "Loss watched by the adaptive schedule.", group=HNS,
                        choices=MONITORS)
    logit_bound: float = _opt(4.0, "Mask logits beyond +-logit_bound are penalised so the mask never "
                              "freezes.", group=HNS)
    logit_penalty: float = _opt(1.0, "Weight of the logit bound penalty.", group=HNS)
    num_trainings: int = _opt(1, "Train this many models, in sub-folders 1..N.", group=HNS)
    evaluate: bool = _opt(False, "Run evaluation.py on the run when training ends.", group=HNS)
    resume: bool = _opt(False, "Continue an interrupted run with the same identifier.", group=HNS)

    # --- derived -----------------------------------------------------------
    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.image_size, self.image_size, self.channels)


_FIELDS = {f.name: f for f in fields(Config)}
_NOT_IN_PRESETS = {"config", "config_file", "debug", "verbose", "overwrite", "resume", "quiet"}


def _type_of(f) -> type:
    t = f.type if isinstance(f.type, str) else f.type.__name__
    t = t.replace("Optional[", "").rstrip("]")
    return {"str": str, "int": int, "float": float, "bool": bool}[t]


class _Parser(argparse.ArgumentParser):
    """argparse, but errors are one line and raise UsageError instead of printing usage."""

    def error(self, message):
        raise UsageError(f"{message} (see {self.prog} --help)")


def build_parser(script: str, description: str, groups=(COMMON,), extra=None) -> argparse.ArgumentParser:
    """Command line of `script`: one flag per Config field of the requested groups.

    Every flag defaults to None so that only what the user typed overrides the preset.
    `extra` adds script-only flags: a list of (name, kwargs) for `add_argument`.
    """
    parser = _Parser(prog=script, description=description,
                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    for f in fields(Config):
        group = f.metadata["group"]
        if group not in groups:
            continue
        kind = _type_of(f)
        kw = {"help": f.metadata["help"], "default": argparse.SUPPRESS}
        if kind is bool:
            kw["action"] = "store_true"
        else:
            kw["type"] = kind
            kw["metavar"] = f.name.upper()
            if "choices" in f.metadata:
                kw["choices"] = f.metadata["choices"]
                kw["metavar"] = "{" + ",".join(f.metadata["choices"]) + "}"
        parser.add_argument(f"--{f.name}", **kw)
    for name, kw in extra or []:
        kw = {"default": argparse.SUPPRESS, **kw}
        parser.add_argument(f"--{name}", **kw)
    return parser


def load_presets(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise UsageError(f"config file {path} not found: pass --config_file PATH or restore config.toml")
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"config file {path} is not valid TOML ({e}): fix the syntax there")
    except OSError as e:
        raise UsageError(f"cannot read config file {path} ({e.strerror}): check its permissions")


def _coerce(name: str, value, where: str):
    f = _FIELDS[name]
    kind = _type_of(f)
    ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if not ok:
        raise UsageError(f"{where}: '{name}' must be a {kind.__name__}, got {value!r}")
    if "choices" in f.metadata and value not in f.metadata["choices"]:
        raise UsageError(f"{where}: '{name}' must be one of {', '.join(f.metadata['choices'])}, got {value!r}")
    return value


def parse_config(argv, script: str, description: str, groups=(COMMON,), extra=None):
    """Parse `argv` for `script`; returns (Config, namespace of the script-only flags)."""
    parser = build_parser(script, description, groups, extra)
    args = vars(parser.parse_args(argv))
    config_file = Path(args.get("config_file", DEFAULT_CONFIG_FILE))
    presets = load_presets(config_file)
    name = args.get("config", Config.config)
    if name not in presets:
        raise UsageError(f"unknown preset '{name}': choose one of {', '.join(presets)} "
                         f"or add a [{name}] table to {config_file}")
    values = {}
    for key, value in presets[name].items():
        if key not in _FIELDS or key in _NOT_IN_PRESETS:
            raise UsageError(f"preset [{name}] in {config_file} has unknown key '{key}': remove or rename it")
        values[key] = _coerce(key, value, f"preset [{name}]")
    extra_names = {n for n, _ in extra or []}
    script_args = {k: v for k, v in args.items() if k in extra_names}
    values.update({k: v for k, v in args.items() if k not in extra_names})
    values["config"] = name
    cfg = Config(**values)
    cfg = fill_dataset_defaults(cfg)
    validate(cfg)
    return cfg, argparse.Namespace(**script_args)


def fill_dataset_defaults(cfg: Config) -> Config:
    """Native image size, channels and classes of the built-in datasets where not given."""
    if cfg.dataset in NATIVE_SHAPES:
        size, channels, classes = NATIVE_SHAPES[cfg.dataset]
        cfg = dataclasses.replace(
            cfg,
            image_size=cfg.image_size or size,
            channels=cfg.channels or channels,
            num_classes=cfg.num_classes or classes,
        )
    return cfg


def _check(condition: bool, message: str):
    if not condition:
        raise UsageError(message)


def _check_file(name: str, path: Optional[str]):
    if path is None:
        return
    p = Path(path)
    _check(p.is_file(), f"--{name} {path}: no such file; give the path of an existing file")
    try:
        with open(p, "rb"):
            pass
    except OSError as e:
        raise UsageError(f"--{name} {path}: cannot be read ({e.strerror}); check its permissions")


def validate(cfg: Config) -> None:
    """All range and consistency checks, each failing with the problem and the fix."""
    _check(cfg.identifier and "/" not in cfg.identifier and cfg.identifier not in (".", ".."),
           f"--identifier {cfg.identifier!r} must be a plain folder name (no '/')")
    _check(cfg.batch_size >= 1, f"--batch_size must be >= 1, got {cfg.batch_size}")
    _check(cfg.max_epochs >= 1, f"--max_epochs must be >= 1, got {cfg.max_epochs}")
    _check(cfg.learning_rate > 0, f"--learning_rate must be > 0, got {cfg.learning_rate}")
    _check(cfg.augment_shift >= 0, f"--augment_shift must be >= 0 pixels, got {cfg.augment_shift}")
    _check(cfg.image_size is None or cfg.augment_shift < cfg.image_size,
           f"--augment_shift {cfg.augment_shift} must be smaller than the image size {cfg.image_size}")
    _check(0 < cfg.validation_split < 1, f"--validation_split must be in (0, 1), got {cfg.validation_split}")
    for name in ("train_images", "test_images"):
        v = getattr(cfg, name)
        _check(v is None or v >= 1, f"--{name} must be >= 1, got {v}")
    _check(cfg.alpha is None or 0.0 <= cfg.alpha <= 1.0, f"--alpha must be in [0, 1], got {cfg.alpha}")
    _check(0 < cfg.alpha_step <= 1, f"--alpha_step must be in (0, 1], got {cfg.alpha_step}")
    _check(0 <= cfg.min_alpha < 1, f"--min_alpha must be in [0, 1), got {cfg.min_alpha}")
    _check(cfg.patience >= 1, f"--patience must be >= 1, got {cfg.patience}")
    _check(cfg.min_delta >= 0, f"--min_delta must be >= 0, got {cfg.min_delta}")
    _check(cfg.rate >= 0, f"--rate must be >= 0, got {cfg.rate}")
    _check(cfg.logit_bound > 0, f"--logit_bound must be > 0, got {cfg.logit_bound}")
    _check(cfg.logit_penalty >= 0, f"--logit_penalty must be >= 0, got {cfg.logit_penalty}")
    _check(cfg.num_trainings >= 1, f"--num_trainings must be >= 1, got {cfg.num_trainings}")
    _check(0 <= cfg.foreground_threshold < 1,
           f"--foreground_threshold must be in [0, 1), got {cfg.foreground_threshold}")
    _check(not (cfg.overwrite and cfg.resume), "--overwrite and --resume exclude each other: pick one")
    if cfg.dataset == "folder":
        _check(cfg.data_dir is not None, "dataset 'folder' needs --data_dir DIR with train/ and test/ inside")
        _check(Path(cfg.data_dir).is_dir(), f"--data_dir {cfg.data_dir}: no such folder")
        _check(cfg.image_size is not None, "dataset 'folder' needs --image_size (e.g. 64)")
        _check(cfg.channels is not None, "dataset 'folder' needs --channels 1 or 3")
    if cfg.image_size is not None:
        m = SIZE_MULTIPLE[cfg.model]
        _check(cfg.image_size >= m and cfg.image_size % m == 0,
               f"--image_size {cfg.image_size} does not fit model '{cfg.model}': use a multiple of {m} "
               f"(e.g. {max(m, round(cfg.image_size / m) * m)})")
    _check(cfg.channels in (None, 1, 3), f"--channels must be 1 or 3, got {cfg.channels}")
    _check(cfg.num_classes is None or cfg.num_classes >= 2, f"--num_classes must be >= 2, got {cfg.num_classes}")
    for name in ("hider_weights", "seeker_weights", "baseline"):
        _check_file(name, getattr(cfg, name))
    for name in ("hider_weights", "seeker_weights"):
        path = getattr(cfg, name)
        _check(path is None or path.endswith(".weights.h5"),
               f"--{name} {path}: expected a Keras weights file ending in .weights.h5")


def as_dict(cfg: Config) -> dict:
    """The settings worth recording with a run's results (no UI switches)."""
    skip = {"debug", "verbose", "quiet", "overwrite", "resume", "config_file"}
    return {k: v for k, v in dataclasses.asdict(cfg).items() if k not in skip}
