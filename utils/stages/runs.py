"""A configuration's runs: the model types and run folders it names, their locks, its default weights files.

`utils.runs` holds the explicit machinery (`RunPaths`, `Run`, `run_folders`, `claim`, `hold`); this module
reads the flags that choose among them. A run is found again only with the same flags: `hns_variant`
names what sets a Hide-and-Seek run apart from the original.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from networks.term_keys import KEYS as TERM_KEYS
from utils.runs import LOCK, Run, RunPaths, claim, hold, run_folders


def hider_model_type(cfg) -> str:
    """'hider' for the original decoder, 'hider-<decoder>' for another (their weights differ)."""
    return "hider" if cfg.hider_decoder == "transpose" else f"hider-{cfg.hider_decoder}"


def seeker_model_type(cfg, random_masks: bool = False) -> str:
    """'seeker', or 'seeker-random' for the seeker trained on random masks (pretrain_seeker.py --random_masks),
    with '+<architecture>' appended where --seeker_model is not --model's seeker (their weights differ)."""
    kind = "seeker-random" if random_masks else "seeker"
    return kind if cfg.seeker_architecture == cfg.model else f"{kind}+{cfg.seeker_architecture}"


def _exact(value: float) -> str:
    """A float for a folder name: short ('0.1', '1e-05') where that is exact, else every digit, so
    two different values never share a run folder (0.1234567 and 0.1234568 both print '0.123457')."""
    short = f"{value:g}"
    return short if float(short) == value else repr(float(value))


# The keys of hns_variant's parts, in the order the run folders already written have them; a key of a new
# objective term (networks.term_keys) comes after these.
VARIANT_ORDER = ("seeker_model", "hider_decoder", "mask_grid", "seeker_training", "mask_smoothness", "hider_features",
                 "hider_head_layers", "masked_out_weight", "seeker_masked_out", "random_mask_shape", "mask_infill",
                 "area_hinge", "nested_budget")
# The flags hns_model_type reads: a run is found again only with the same ones.
VARIANT_FLAGS = "neuron and mask flags ({})".format(", ".join(
    f"--{name}" for name in ("mask_mode", "budget_schedule", *VARIANT_ORDER,
                             *(k.name for k in TERM_KEYS.values() if k.part and k.name not in VARIANT_ORDER))))


def hns_variant(cfg) -> str:
    """What sets a run apart from the original HnS: '+'-joined seeker architecture, decoder, mask grid, seeker training,
    hider features, in-fill and the objective terms' keys where they are not the original's ('' for the original),
    in `VARIANT_ORDER`."""
    parts = {"seeker_model": f"seeker-{cfg.seeker_architecture}" if cfg.seeker_architecture != cfg.model else "",
             "hider_decoder": cfg.hider_decoder if cfg.hider_decoder != "transpose" else "",
             "mask_grid": f"grid{cfg.mask_grid}" if cfg.mask_grid else "",
             "seeker_training": cfg.seeker_training if cfg.seeker_training != "joint" else "",
             "hider_features": f"features-{cfg.hider_features}" if cfg.hider_features != "none" else "",
             "hider_head_layers": f"head{cfg.hider_head_layers}" if cfg.hider_head_layers else "",
             "mask_infill": f"fill-{cfg.mask_infill}" if cfg.mask_infill != "zero" else ""}
    for key in TERM_KEYS.values():  # each term's keys name their parts (networks.term_keys)
        value = getattr(cfg, key.name)
        if key.part is not None and value != key.default:
            parts[key.name] = key.part.format(_exact(value) if isinstance(value, float) else value)
    order = [*VARIANT_ORDER, *(name for name in parts if name not in VARIANT_ORDER)]
    return "+".join(parts[name] for name in order if parts.get(name))


def hns_model_type(cfg) -> str:
    """hns/deterministic or hns/stochastic/<estimator>[/rate_<r>] (hns/topk/<budget schedule> with
    --mask_mode topk), with '+<variant>' appended to the last folder for a run that is not the
    original HnS (e.g. hns/deterministic+resize+frozen)."""
    if cfg.mask_mode == "topk":
        kind = f"hns/topk/{cfg.budget_schedule}"
    elif not cfg.stochastic:
        kind = "hns/deterministic"
    else:
        kind = f"hns/stochastic/{cfg.estimator}"
        if cfg.estimator == "sa":
            kind += f"/rate_{_exact(cfg.rate)}"
    variant = hns_variant(cfg)
    return f"{kind}+{variant}" if variant else kind


AMORTISED = "amortised"


def training_config(cfg):
    """`cfg` as the explainer's Hide-and-Seek run takes it: the classifier frozen, a fixed top-k budget of
    --explainer_budget pixels (no schedule), no area hinge (a top-k mask's size is its budget), alpha 1."""
    return dataclasses.replace(cfg, seeker_training="frozen", mask_mode="topk", area_hinge=False, alpha=1.0,
                               start_budget=cfg.explainer_budget, final_budget=cfg.explainer_budget,
                               budget_schedule="geometric", budget_epochs=1, seeker_masked_out=False)


def amortised_model_type(cfg) -> str:
    """'amortised', with '+<variant>' where the hider, in-fill or objective terms are not the original's (as
    `hns_variant` names them) and '+classifier-<file stem>' for a --classifier file."""
    parts = [part for part in hns_variant(training_config(cfg)).split("+") if part and part != "frozen"]
    if cfg.classifier:
        parts.append(f"classifier-{Path(cfg.classifier).name.removesuffix('.keras')}")
    return "+".join([AMORTISED, *parts])


def run_paths(cfg, model_type: str, run: int | None = None, root: Path | str = ".") -> RunPaths:
    """Folders of one run of `cfg`; `run` is the 1-based index under --num_trainings."""
    return run_folders(cfg.config, model_type, cfg.identifier, run, root)


def series(cfg, model_type: str, root: Path | str = ".") -> list[Run]:
    """The runs of `cfg`: one lone run, or runs 1..N (seeds seed .. seed + N - 1) with --num_trainings N."""
    n = cfg.num_trainings
    if n == 1:
        return [Run(None, run_paths(cfg, model_type, None, root), cfg.seed)]
    return [Run(i, run_paths(cfg, model_type, i, root), cfg.seed + i - 1) for i in range(1, n + 1)]


def lock_path(cfg, model_type: str, root: Path | str = ".") -> Path:
    """The lock of a run or of a whole series: in the weights folder of the identifier."""
    return run_paths(cfg, model_type, None, root).weights / LOCK


def claimed(cfg, model_type: str, runs: list[Run]):
    """Hold the lock of `cfg`'s run of `model_type` and yield `utils.runs.claim_series(runs, ...)` of its
    --overwrite and --resume; with --debug nothing is locked or cleared and every run starts from scratch."""
    return claim(lock_path(cfg, model_type), runs, debug=cfg.debug, overwrite=cfg.overwrite, resume=cfg.resume)


def locked(cfg, model_type: str):
    """Hold the lock of `cfg`'s run of `model_type` (nothing with --debug): for readers and report writers."""
    return hold(lock_path(cfg, model_type), cfg.debug)


def default_seeker_weights(cfg, random_masks: bool = False) -> Path:
    return run_paths(cfg, seeker_model_type(cfg, random_masks)).best


def default_hider_weights(cfg) -> Path:
    return run_paths(cfg, hider_model_type(cfg)).best


def default_baseline(cfg) -> Path:
    return run_paths(cfg, seeker_model_type(cfg)).baseline
