"""Every check of a configuration, each failing with one line that names the problem and the fix."""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Optional

from networks.term_keys import KEYS as TERM_KEYS, settings_problems as term_problems
from utils.config.schema import (FAITH_METHODS, FIELDS, NATIVE_SHAPES, NEEDS_A_RUN, REFINE_OBJECTIVES, SIZE_MULTIPLE,
                                 STARTS, Config, default_occlusion_patch, type_of)
from utils.cluster import check_tf_config
from utils.errors import UsageError
from utils.runs.layout import MAX_ALPHA_DECIMALS, decimals
from utils.runs.records import load_baseline


def check(condition: bool, message: str) -> None:
    if not condition:
        raise UsageError(message)


def _num(x) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def _range_text(meta) -> Optional[str]:
    low = ("[", meta["at_least"]) if "at_least" in meta else ("(", meta["above"]) if "above" in meta else None
    high = (meta["at_most"], "]") if "at_most" in meta else (meta["below"], ")") if "below" in meta else None
    if low and high:
        return f"in {low[0]}{_num(low[1])}, {_num(high[0])}{high[1]}"
    if low:
        return f"{'>=' if low[0] == '[' else '>'} {_num(low[1])}"
    if high:
        return f"{'<=' if high[1] == ']' else '<'} {_num(high[0])}"
    return None


def in_range(value, meta) -> bool:
    return not (("at_least" in meta and value < meta["at_least"]) or ("above" in meta and value <= meta["above"])
                or ("at_most" in meta and value > meta["at_most"]) or ("below" in meta and value >= meta["below"]))


def plain_name(value: str) -> bool:
    """Whether `value` can be one folder or file name of a run: it never becomes a path of its own."""
    return bool(value) and value not in (".", "..") and not any(c in value for c in "/\\\0")


def field_problem(name: str, value) -> Optional[str]:
    """What is wrong with `value` of field `name` on its own (its range, finiteness, a run name), or None."""
    f = FIELDS[name]
    if value is None:
        return None
    text = _range_text(f.metadata)
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number{'' if text is None else ' ' + text}, got {value}"
    if text is not None and not in_range(value, f.metadata):
        return f"must be {text}, got {_num(value)}"
    if f.metadata.get("plain_name") and not plain_name(value):
        fixed = "".join("-" if c in "/\\\0" else c for c in value).strip(".-") or "run1"
        return (f"must be a plain name, got {value!r}: it becomes one folder or file name of a run, so it may "
                f"hold no '/' or '\\' and be no '.' or '..'; use e.g. {fixed!r}")
    return None


def coerce(name: str, value, where: str):
    """`value` of field `name` read from a preset, as the field's type and checked alone, or a UsageError."""
    f = FIELDS[name]
    kind = type_of(f)
    ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if not ok:
        raise UsageError(f"{where}: '{name}' must be a {kind.__name__}, got {value!r}")
    choices = f.metadata.get("choices")
    if choices and value not in choices:
        raise UsageError(f"{where}: '{name}' must be one of {', '.join(map(str, choices))}, got {value!r}")
    problem = field_problem(name, value)
    if problem:
        raise UsageError(f"{where}: '{name}' {problem}: fix it there")
    return value


def origin(cfg: Config, name: str, value=None) -> str:
    """How a message names field `name` (with `value`, if given): the flag where it was typed, else the
    preset, since a script may take no flag for a value its preset sets."""
    if name in cfg.typed:
        return f"--{name}" + ("" if value is None else f" {value}")
    return (name if value is None else f"{name} = {value!r}") + f" in preset [{cfg.config}] of {cfg.config_file}"


def set_to(cfg: Config, name: str, value) -> str:
    """The fix of field `name` that must be `value`: the typed flag's, or a flag that overrides the preset."""
    if name in cfg.typed:
        return f"drop --{name} or set it to {value}"
    return f"pass --{name} {value}, or change the preset"


def check_fields(cfg: Config) -> None:
    """Every field alone: its range, a finite float, a plain run name (None, where allowed, passes)."""
    for name in FIELDS:
        problem = field_problem(name, getattr(cfg, name))
        check(problem is None, f"{origin(cfg, name)} {problem}")


def parse_budgets(text: str) -> list[float]:
    """The --budgets list, each a share of the pixels in (0, 1], sorted; a UsageError if not."""
    try:
        budgets = sorted({float(b) for b in text.split(",") if b.strip()})
    except ValueError:
        raise UsageError(f"--budgets {text!r}: give comma-separated numbers, e.g. 0.01,0.05,0.2") from None
    check(budgets and all(0 < b <= 1 for b in budgets),
          f"--budgets {text!r}: every budget must be a share of the pixels in (0, 1], e.g. 0.01,0.05,0.2")
    return budgets


def parse_methods(text: str) -> list[str]:
    """The --methods list ('all' for every one but those that need a run of their own, e.g. 'all,amortised'); a
    UsageError names an unknown method."""
    known = FAITH_METHODS
    every = [m for m in known if m not in NEEDS_A_RUN]
    names = [name.strip() for name in text.split(",") if name.strip()]
    methods = [m for name in names for m in (every if name == "all" else [name])]
    unknown = [m for m in methods if m not in known]
    check(not unknown and methods, f"--methods: unknown method {', '.join(unknown) or '(none)'}; choose from "
                                   f"{', '.join(known)} or all")
    return list(dict.fromkeys(methods))


def parse_refine_steps(text: str) -> list[int]:
    """The --refine_steps list, each a number of steps K >= 0, sorted (empty: no refinement rows)."""
    try:
        steps = sorted({int(k) for k in text.split(",") if k.strip()})
    except ValueError:
        raise UsageError(f"--refine_steps {text!r}: give comma-separated whole numbers of steps, e.g. 3,10,30") \
            from None
    check(all(k >= 0 for k in steps), f"--refine_steps {text!r}: steps must be >= 0, e.g. 3,10,30")
    return steps


def parse_refine_starts(text: str) -> list[str]:
    """The --refine_starts list (`STARTS`), in the order given."""
    starts = list(dict.fromkeys(s.strip() for s in text.split(",") if s.strip()))
    check(starts and all(s in STARTS for s in starts),
          f"--refine_starts {text!r}: choose comma-separated starts from {', '.join(STARTS)}")
    return starts


def parse_refine_objectives(text: str) -> list[str]:
    """The --refine_objectives list (`REFINE_OBJECTIVES`), in the order given."""
    objectives = list(dict.fromkeys(o.strip() for o in text.split(",") if o.strip()))
    check(objectives and all(o in REFINE_OBJECTIVES for o in objectives),
          f"--refine_objectives {text!r}: choose {', '.join(REFINE_OBJECTIVES)} or both, comma-separated")
    return objectives


def check_list(cfg: Config) -> None:
    parse_budgets(cfg.budgets)
    parse_methods(cfg.methods)
    parse_refine_steps(cfg.refine_steps)
    parse_refine_objectives(cfg.refine_objectives)
    parse_refine_starts(cfg.refine_starts)


def _check_file(name: str, path: Optional[str]) -> None:
    if path is None:
        return
    p = Path(path)
    check(p.is_file(), f"--{name} {path}: no such file; give the path of an existing file")
    try:
        with open(p, "rb"):
            pass
    except OSError as e:
        raise UsageError(f"--{name} {path}: cannot be read ({e.strerror}); check its permissions")


def validate(cfg: Config) -> None:
    """All range and consistency checks of `cfg`."""
    check_fields(cfg)
    check(cfg.image_size is None or cfg.augment_shift < cfg.image_size,
          f"{origin(cfg, 'augment_shift', cfg.augment_shift)} must be smaller than the image size {cfg.image_size}")
    _check_training(cfg)
    _check_explainers(cfg)
    _check_data(cfg)
    check_list(cfg)
    _check_image_geometry(cfg)
    _check_files(cfg)


def _check_training(cfg: Config) -> None:
    """Flags of the trainings that exclude or need each other."""
    check(decimals(cfg.alpha_step) is not None,
          f"{origin(cfg, 'alpha_step', cfg.alpha_step)} needs more than {MAX_ALPHA_DECIMALS} decimals, so the "
          f"checkpoint names alpha_<a> of two alphas could collide: use e.g. "
          f"{round(cfg.alpha_step, MAX_ALPHA_DECIMALS) or 1e-6:g}")
    check(not (cfg.overwrite and cfg.resume), "--overwrite and --resume exclude each other: pick one")
    check(cfg.final_budget <= cfg.start_budget,
          f"{origin(cfg, 'final_budget', cfg.final_budget)} is above {origin(cfg, 'start_budget', cfg.start_budget)}: "
          "the budget only goes down")
    features = origin(cfg, "hider_features", cfg.hider_features)
    check(cfg.hider_features == "none" or cfg.seeker_architecture != "resnet",
          f"{features} reads the stages of the small, large and pooling seekers, not ResNet50's: "
          + (f"{set_to(cfg, 'model', 'small')} (or large)" if cfg.seeker_model is None
             else f"{set_to(cfg, 'seeker_model', 'pooling')} (or small, large)"))
    check(cfg.hider_features != "frozen" or cfg.seeker_weights,
          f"{features} copies the pretrained seeker's convolutions (an untrained copy reads nothing): pass "
          "--seeker_weights of a trained seeker (pretrain_seeker.py's best.weights.h5)")
    check(cfg.hider_features != "none" or not cfg.hider_head_layers,
          f"{origin(cfg, 'hider_head_layers', cfg.hider_head_layers)} adds layers to the hider that reads the "
          f"seeker's features: {set_to(cfg, 'hider_features', 'live')} (or frozen), or "
          f"{set_to(cfg, 'hider_head_layers', 0)}")
    check(cfg.hider_features == "none" or cfg.hider_decoder == "transpose",
          f"{features} has its own decoder (networks/feature_hider.py), so "
          f"{origin(cfg, 'hider_decoder', cfg.hider_decoder)} does not apply: "
          f"{set_to(cfg, 'hider_decoder', 'transpose')}")
    check(cfg.mask_mode != "topk" or not cfg.stochastic,
          "--mask_mode topk is deterministic: drop --stochastic (or use --mask_mode threshold)")
    _check_terms(cfg)


def _check_terms(cfg: Config) -> None:
    """The rules of the objective's terms (`networks.term_keys`), each named as the user set it."""
    settings = {name: getattr(cfg, name) for name in (*TERM_KEYS, "mask_mode", "seeker_training")}

    def name(key, value, needed):
        return f"--{key} {value}" if needed else origin(cfg, key, None if isinstance(value, bool) else value)

    for rule in term_problems(settings):
        raise UsageError(rule.render(settings, name))


def _check_explainers(cfg: Config) -> None:
    """Flags of the explainers (CEM, refinement) that exclude or need each other."""
    check(not (cfg.no_ae and "gamma" in cfg.typed and cfg.gamma > 0),
          "--no_ae and --gamma > 0 exclude each other: drop one")
    check(cfg.save_every is None or cfg.save_every <= cfg.max_iterations,
          f"{origin(cfg, 'save_every')} must be in [1, --max_iterations = {cfg.max_iterations}], got {cfg.save_every}")
    check(cfg.save_every is None or (cfg.cem_patience is None and cfg.c_tolerance is None),
          "--save_every needs the full CEM search: drop --cem_patience and --c_tolerance")
    check(cfg.start is None or cfg.method.startswith(("fido", "bbmp")),
          f"{origin(cfg, 'start', cfg.start)} refines a FIDO or BBMP mask, not {cfg.method}: use --method bbmp-ssr "
          "(or fido-ssr, fido-sdr, bbmp-sdr), or drop --start")
    check(cfg.refine_objective == "own" or (cfg.start is not None and cfg.method == "bbmp-ssr"),
          f"{origin(cfg, 'refine_objective', cfg.refine_objective)} refines a start with BBMP's deterministic mask: "
          "add --start hns --method bbmp-ssr, or drop it")


def _check_data(cfg: Config) -> None:
    """The data set's classes, images and folder, and the cluster of --strategy multiworker."""
    native = NATIVE_SHAPES.get(cfg.dataset)
    check(native is None or cfg.num_classes == native[2],
          f"{origin(cfg, 'num_classes', cfg.num_classes)} but dataset '{cfg.dataset}' has {native and native[2]} "
          f"classes: {set_to(cfg, 'num_classes', native and native[2])}")
    check(cfg.train_images is None or cfg.num_classes is None or cfg.train_images >= 2 * cfg.num_classes,
          f"{origin(cfg, 'train_images', cfg.train_images)} leaves some of the {cfg.num_classes} classes fewer than 2 "
          f"training images (one to fit, one to validate): use at least {2 * (cfg.num_classes or 0)}")
    check(cfg.sample_from_class is None or cfg.num_classes is None or cfg.sample_from_class < cfg.num_classes,
          f"{origin(cfg, 'sample_from_class')} must be a class index >= 0 (at most {(cfg.num_classes or 1) - 1}), "
          f"got {cfg.sample_from_class}")
    if cfg.strategy == "multiworker":
        check_tf_config(os.environ.get("TF_CONFIG"))
    if cfg.dataset == "folder":
        check(cfg.data_dir is not None, "dataset 'folder' needs --data_dir DIR with train/ and test/ inside")
        check(Path(cfg.data_dir).is_dir(), f"--data_dir {cfg.data_dir}: no such folder")
        check(cfg.image_size is not None, "dataset 'folder' needs --image_size (e.g. 64)")
        check(cfg.channels is not None, "dataset 'folder' needs --channels 1 or 3")


def _check_image_geometry(cfg: Config) -> None:
    """The grids, occlusion patches and the image size against each other and the model."""
    for flag, hint in (("evalx_grid", False), ("mask_grid", True), ("grid", True)):
        g = getattr(cfg, flag)
        check(g is None or cfg.image_size is None or cfg.image_size % g == 0,
              f"{origin(cfg, flag, g)} does not divide the image size {cfg.image_size}: use a divisor of it"
              + (f" (e.g. {cfg.image_size // 4})" if hint else ""))
    check(cfg.stride is None or cfg.stride <= (cfg.patch or default_occlusion_patch(cfg.image_size or 7)),
          f"{origin(cfg, 'stride', cfg.stride)} is larger than the patch ({cfg.patch or 'image size / 7'}): pixels "
          "between patches would never be occluded; use a stride of at most the patch")
    check(cfg.patch is None or cfg.image_size is None or cfg.patch <= cfg.image_size,
          f"{origin(cfg, 'patch', cfg.patch)} is larger than the image ({cfg.image_size} pixels): use at most "
          f"{cfg.image_size}")
    if cfg.image_size is not None:
        m = SIZE_MULTIPLE[cfg.model]
        check(cfg.image_size >= m and cfg.image_size % m == 0,
              f"{origin(cfg, 'image_size', cfg.image_size)} does not fit model '{cfg.model}': use a multiple of {m} "
              f"(e.g. {max(m, round(cfg.image_size / m) * m)})")


def _check_files(cfg: Config) -> None:
    """The files given by flag exist and hold what they should, before TensorFlow starts."""
    for name in ("hider_weights", "seeker_weights", "baseline", "evaluator_weights"):
        _check_file(name, getattr(cfg, name))
    if cfg.baseline:  # its values too, before anything starts
        load_baseline(cfg.baseline)
    for name in ("hider_weights", "seeker_weights", "evaluator_weights"):
        path = getattr(cfg, name)
        check(path is None or path.endswith(".weights.h5"),
              f"--{name} {path}: expected a Keras weights file ending in .weights.h5")
        if path is not None:  # unreadable, or NaN in it: refused before TensorFlow starts (h5py only)
            # deferred: start-up time (h5py takes ~0.1 s to import), paid only where a weights flag is given
            from networks.weights import read_weights

            read_weights(path)
