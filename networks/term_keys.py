"""What each term of the Hide-and-Seek objective takes, as plain data: its keys, its run-folder parts, its rules.

A term (`networks.objective`) is configured by its `TermSpec`: the keys it reads, each a `HideAndSeek` argument
and a configuration key of the same name, with its default, help text, range and part of a run folder's name;
and the rules between its keys and the model's other settings. Everything that offers, checks or records the
keys reads them from `SPECS`: `HideAndSeek` (arguments, ``get_config``), `utils.config.schema` (the fields and
flags), `utils.config.checks` (the rules, as one-line usage errors), `utils.config.arguments` (``hns_arguments``),
`utils.runs.layout` (``hns_variant``) and `utils.training.hns` (TensorBoard's hparams).

This module imports no TensorFlow, so that the configuration reads it before anything starts.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from networks.choices import RANDOM_MASK_SHAPES

_RANGES = (("at_least", ">=", lambda v, b: v >= b), ("above", ">", lambda v, b: v > b),
           ("at_most", "<=", lambda v, b: v <= b), ("below", "<", lambda v, b: v < b))


@dataclass(frozen=True)
class Key:
    """One setting of a term.

    `meta` holds its range and choices in `utils.config.schema`'s words (``at_least``, ``above``, ``at_most``,
    ``below``, ``choices``). `part` is its part of a run folder's name where its value is not the default, '{}'
    standing for the value (None: runs that differ only in this key share a folder). The type is the default's.
    """

    name: str
    default: object
    help: str
    part: str | None = None
    meta: dict = field(default_factory=dict)

    @property
    def type(self) -> type:
        return type(self.default)

    def problem(self, value) -> str | None:
        """What is wrong with `value` on its own (choices, range), or None."""
        choices = self.meta.get("choices")
        if choices and value not in choices:
            return f"must be one of {choices}, got {value!r}"
        broken = [f"{sign} {self.meta[k]}" for k, sign, ok in _RANGES if k in self.meta and not ok(value, self.meta[k])]
        ranges = [f"{sign} {self.meta[k]}" for k, sign, _ in _RANGES if k in self.meta]
        return f"must be {' and '.join(ranges)}, got {value}" if broken else None


@dataclass(frozen=True)
class Rule:
    """Settings that exclude or need each other: `broken(settings)` is true where `text` applies.

    The settings are the terms' keys, ``mask_mode`` ('threshold' or 'topk') and ``seeker_training``. In `text`,
    {key} names a setting as it is and {key=value} the value it needs; each entry point renders them its own
    way (`render`): HideAndSeek as key='value', the command line as --key value.
    """

    broken: Callable[[dict], bool]
    text: str

    def render(self, settings: dict, name: Callable[[str, object, bool], str]) -> str:
        """`text` with {key} as name(key, settings[key], False) and {key=value} as name(key, value, True)."""
        return re.sub(r"\{(\w+)(?:=([^}]*))?\}",
                      lambda m: name(m[1], settings[m[1]], False) if m[2] is None else name(m[1], m[2], True),
                      self.text)


@dataclass(frozen=True)
class TermSpec:
    """The configuration of the term `name` (`networks.objective`): its keys and its rules."""

    name: str
    keys: tuple = ()
    rules: tuple = ()


LOGIT_BOUND = TermSpec("logit_bound", keys=(
    Key("logit_bound", 4.0, "Mask logits beyond +-logit_bound are penalised so the mask never freezes.",
        meta=dict(above=0)),
    Key("logit_penalty", 1.0, "Weight of the logit bound penalty.", meta=dict(at_least=0))))

AREA_HINGE = TermSpec("area_hinge", keys=(
    Key("area_hinge", False, "CASM's area hinge (Zolna et al. 2020): the mask-size penalty counts only for images "
        "the seeker classifies correctly masked, so a mask that misses the evidence feels only the classification "
        "loss (--mask_mode threshold only).", part="hinge"),), rules=(
    Rule(lambda s: s["area_hinge"] and s["mask_mode"] == "topk",
         "{area_hinge} hinges the mask-size penalty of {mask_mode=threshold}; a top-k mask's size is its budget: "
         "drop one"),))

RANDOM_MASKS = TermSpec("random_masks", keys=(
    Key("random_mask_shape", "evalx", "The seeker's random masks of --seeker_training random-masks: evalx (keep rate "
        "U(--evalx_min_rate, 1), cells of --evalx_grid) or budget (--mask_mode topk: exactly the current budget's k "
        "pixels, or --mask_grid cells, chosen uniformly at random per image, the size and cells of the hider's "
        "masks).", part="rm-{}", meta=dict(choices=RANDOM_MASK_SHAPES)),), rules=(
    Rule(lambda s: s["random_mask_shape"] == "budget" and s["mask_mode"] != "topk",
         "{random_mask_shape} draws masks of the top-k budget: it needs {mask_mode=topk}"),
    Rule(lambda s: s["random_mask_shape"] == "budget" and s["seeker_training"] != "random-masks",
         "{random_mask_shape} shapes the masks of {seeker_training=random-masks}: add it")))

SMOOTHNESS = TermSpec("smoothness", keys=(
    Key("mask_smoothness", 0.0, "Weight of a total-variation penalty on the binary mask (blobs rather than scattered "
        "pixels; 0: off; no effect with --estimator reinforce, whose sampled mask carries no gradient).",
        part="tv{}", meta=dict(at_least=0)),))

NESTED_BUDGET = TermSpec("nested_budget", keys=(
    Key("nested_budget", 0.0, "Nested budgets (after nested dropout, Rippel et al. 2014; --mask_mode topk): every "
        "step the seeker also classifies each image from only the top u x k pixels of the hider's ranking, u "
        "log-uniform on [F, 1], and both networks learn it, so the ranking inside the mask puts the evidence first "
        "(0: off).", part="nested{}", meta=dict(at_least=0, below=1)),), rules=(
    Rule(lambda s: bool(s["nested_budget"]) and s["mask_mode"] != "topk",
         "{nested_budget} cuts the ranking of a top-k mask lower; a thresholded mask has none: add {mask_mode=topk} "
         "or drop it"),))

MASKED_OUT = TermSpec("masked_out", keys=(
    Key("masked_out_weight", 0.0, "Weight W of the masked-out objective (Phang et al. 2020): the hider also "
        "maximises W x the seeker's entropy on the complement x * (1 - mask), so what it hides tells the seeker "
        "nothing (0: off).", part="out{}", meta=dict(at_least=0)),
    Key("seeker_masked_out", False, "The seeker also learns alpha x its cross-entropy on the complement "
        "x * (1 - mask), so the hider must remove the evidence rather than confuse a seeker that never saw such "
        "images (not with --seeker_training frozen).", part="seeker-out")), rules=(
    Rule(lambda s: s["seeker_masked_out"] and s["seeker_training"] == "frozen",
         "{seeker_masked_out} trains the seeker, which {seeker_training} never updates: drop one"),))

# Every term with a key or a rule. Their rules are checked in this order and the first broken one is reported,
# so a new term goes last: a setting that breaks several rules keeps its message.
SPECS = (LOGIT_BOUND, MASKED_OUT, RANDOM_MASKS, AREA_HINGE, SMOOTHNESS, NESTED_BUDGET)
KEYS = {key.name: key for spec in SPECS for key in spec.keys}
RULES = tuple(rule for spec in SPECS for rule in spec.rules)


def settings_problems(settings: dict) -> list[Rule]:
    """The rules that `settings` (the terms' keys, ``mask_mode``, ``seeker_training``) break, in `SPECS` order."""
    return [rule for rule in RULES if rule.broken(settings)]
