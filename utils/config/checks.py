"""Every check of a configuration, each failing with one line that names the problem and the fix."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from utils.config.schema import FAITH_METHODS, FIELDS, SIZE_MULTIPLE, Config, default_occlusion_patch, type_of
from utils.errors import UsageError

# A checkpoint file is named by alpha written with the decimals of --alpha_step (see
# utils.runs.layout.alpha_decimals), so a step with more decimals than this is refused.
MAX_ALPHA_DECIMALS = 6


def check(condition: bool, message: str) -> None:
    if not condition:
        raise UsageError(message)


def _range_text(meta) -> Optional[str]:
    low = ("[", meta["at_least"]) if "at_least" in meta else ("(", meta["above"]) if "above" in meta else None
    high = (meta["at_most"], "]") if "at_most" in meta else (meta["below"], ")") if "below" in meta else None
    if low and high:
        return f"in {low[0]}{low[1]:g}, {high[0]:g}{high[1]}"
    if low:
        return f"{'>=' if low[0] == '[' else '>'} {low[1]:g}"
    if high:
        return f"{'<=' if high[1] == ']' else '<'} {high[0]:g}"
    return None


def in_range(value, meta) -> bool:
    return not (("at_least" in meta and value < meta["at_least"]) or ("above" in meta and value <= meta["above"])
                or ("at_most" in meta and value > meta["at_most"]) or ("below" in meta and value >= meta["below"]))


def coerce(name: str, value, where: str):
    """`value` of field `name` read from a preset, as the field's type, or a UsageError."""
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
    return value


def check_fields(cfg: Config) -> None:
    """The range of every field that declares one (None, where allowed, is not checked)."""
    for name, f in FIELDS.items():
        value = getattr(cfg, name)
        text = _range_text(f.metadata)
        if value is None or text is None:
            continue
        check(in_range(value, f.metadata), f"--{name} must be {text}, got {value:g}")


def decimals(value: float, most: int = MAX_ALPHA_DECIMALS) -> Optional[int]:
    """The fewest decimals (0..most) that write `value` exactly, or None if more are needed."""
    for d in range(most + 1):
        if abs(round(value, d) - value) < 1e-12:
            return d
    return None


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
    """The --methods list ('all' for every one); a UsageError names an unknown method."""
    known = FAITH_METHODS
    methods = list(known) if text.strip() == "all" else [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in methods if m not in known]
    check(not unknown and methods, f"--methods: unknown method {', '.join(unknown) or '(none)'}; choose from "
                                   f"{', '.join(known)} or all")
    return list(dict.fromkeys(methods))


def check_list(cfg: Config) -> None:
    parse_budgets(cfg.budgets)
    parse_methods(cfg.methods)


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
    check(cfg.identifier and "/" not in cfg.identifier and cfg.identifier not in (".", ".."),
          f"--identifier {cfg.identifier!r} must be a plain folder name (no '/')")
    check_fields(cfg)
    check(cfg.image_size is None or cfg.augment_shift < cfg.image_size,
          f"--augment_shift {cfg.augment_shift} must be smaller than the image size {cfg.image_size}")
    check(decimals(cfg.alpha_step) is not None,
          f"--alpha_step {cfg.alpha_step!r} needs more than {MAX_ALPHA_DECIMALS} decimals, so the checkpoint "
          f"names alpha_<a> of two alphas could collide: use e.g. {round(cfg.alpha_step, MAX_ALPHA_DECIMALS) or 1e-6:g}")
    check(not (cfg.overwrite and cfg.resume), "--overwrite and --resume exclude each other: pick one")
    check(cfg.final_budget <= cfg.start_budget,
          f"--final_budget {cfg.final_budget} is above --start_budget {cfg.start_budget}: the budget only goes down")
    check(cfg.mask_mode != "topk" or not cfg.stochastic,
          "--mask_mode topk is deterministic: drop --stochastic (or use --mask_mode threshold)")
    check(not (cfg.no_ae and "gamma" in cfg.typed and cfg.gamma > 0),
          "--no_ae and --gamma > 0 exclude each other: drop one")
    check(cfg.save_every is None or cfg.save_every <= cfg.max_iterations,
          f"--save_every must be in [1, --max_iterations = {cfg.max_iterations}], got {cfg.save_every}")
    check(cfg.save_every is None or (cfg.cem_patience is None and cfg.c_tolerance is None),
          "--save_every needs the full CEM search: drop --cem_patience and --c_tolerance")
    check(cfg.sample_from_class is None or cfg.num_classes is None or cfg.sample_from_class < cfg.num_classes,
          f"--sample_from_class must be a class index >= 0 (at most {(cfg.num_classes or 1) - 1}), "
          f"got {cfg.sample_from_class}")
    if cfg.dataset == "folder":
        check(cfg.data_dir is not None, "dataset 'folder' needs --data_dir DIR with train/ and test/ inside")
        check(Path(cfg.data_dir).is_dir(), f"--data_dir {cfg.data_dir}: no such folder")
        check(cfg.image_size is not None, "dataset 'folder' needs --image_size (e.g. 64)")
        check(cfg.channels is not None, "dataset 'folder' needs --channels 1 or 3")
    check_list(cfg)
    for flag, hint in (("evalx_grid", False), ("mask_grid", True), ("grid", True)):
        g = getattr(cfg, flag)
        check(g is None or cfg.image_size is None or cfg.image_size % g == 0,
              f"--{flag} {g} does not divide the image size {cfg.image_size}: use a divisor of it"
              + (f" (e.g. {cfg.image_size // 4})" if hint else ""))
    check(cfg.stride is None or cfg.stride <= (cfg.patch or default_occlusion_patch(cfg.image_size or 7)),
          f"--stride {cfg.stride} is larger than the patch ({cfg.patch or 'image size / 7'}): pixels between "
          "patches would never be occluded; use a stride of at most the patch")
    check(cfg.patch is None or cfg.image_size is None or cfg.patch <= cfg.image_size,
          f"--patch {cfg.patch} is larger than the image ({cfg.image_size} pixels): use at most {cfg.image_size}")
    if cfg.image_size is not None:
        m = SIZE_MULTIPLE[cfg.model]
        check(cfg.image_size >= m and cfg.image_size % m == 0,
              f"--image_size {cfg.image_size} does not fit model '{cfg.model}': use a multiple of {m} "
              f"(e.g. {max(m, round(cfg.image_size / m) * m)})")
    for name in ("hider_weights", "seeker_weights", "baseline", "evaluator_weights"):
        _check_file(name, getattr(cfg, name))
    for name in ("hider_weights", "seeker_weights", "evaluator_weights"):
        path = getattr(cfg, name)
        check(path is None or path.endswith(".weights.h5"),
              f"--{name} {path}: expected a Keras weights file ending in .weights.h5")
