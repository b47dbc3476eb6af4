"""Where a run's files live and what they are called: the only module that names the run folders,
the weights files and the reports whose presence marks a finished stage (the reports' companion
CSVs and figures are named by the reporting code that writes them, in the same results folder).

Every run writes to ``logs/``, ``weights/`` and ``results/`` under the current directory, as
``<config>/<model_type>/<identifier>[/<run>]/``, with ``<run>`` = 1..N under --num_trainings N.
Model types: ``seeker`` (``seeker-random`` trained on random masks, REAL-X), ``hider``
(``hider-<decoder>`` for another decoder), ``evalx`` (the faithfulness judge),
``explanations/<method>``, and for Hide-and-Seek ``hns/deterministic`` or
``hns/stochastic/<estimator>`` (``.../sa/rate_<r>`` for slope annealing), with ``+<variant>``
appended for a run that is not the original (`utils.stages.runs` names them from a configuration).

In a weights folder:

    alpha_<a>.weights.h5      the HnS weights when the schedule left alpha = a
    budget_<b>.weights.h5     --mask_mode topk: the HnS weights when the schedule left budget = b
    best.weights.h5           pretraining: the best weights on the validation split
    final.weights.h5          the weights at the end; its presence marks a finished run
    interrupted.weights.h5    the weights when a run was stopped by a signal
    resume_state.npz          everything needed to continue an interrupted run
    .staged/<epoch>/          an epoch's files until its resume state is saved (`utils.training.resume`)
    .lock                     held while a process works on the run (series: in <identifier>/)

In a results folder, each written last by its script (its presence marks a finished report):
``baseline.json`` (baseline.py), ``evaluation.json`` (evaluation.py), ``faithfulness.json``
(faithfulness.py), ``explanations.json`` (explain.py).

``<a>`` is written with as many decimals as --alpha_step has (at least 2; `alpha_decimals`):
every alpha of the schedule, 1 - k * step, is then written exactly, so two alphas never
share a file name. ``<b>`` is written with `budget_decimals` of --final_budget decimals, and the
budget schedule rounds every budget to as many (`utils.training.budget`), so the name is exact too.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path


KINDS = ("logs", "weights", "results")
WEIGHTS = ".weights.h5"
FINAL = "final" + WEIGHTS
BEST = "best" + WEIGHTS
INTERRUPTED = "interrupted" + WEIGHTS
STATE = "resume_state.npz"
LOCK = ".lock"
STAGED = ".staged"
BASELINE = "baseline.json"
EVALUATION = "evaluation.json"
FAITHFULNESS = "faithfulness.json"
EXPLANATIONS = "explanations.json"
EVALUATOR = "evalx"
_ALPHA = re.compile(r"alpha_(\d+(?:\.\d+)?)" + re.escape(WEIGHTS) + "$")
_BUDGET = re.compile(r"budget_(\d+(?:\.\d+)?)" + re.escape(WEIGHTS) + "$")


def _file(folder: str, name: str) -> property:
    """A RunPaths property: the file `name` in the run's `folder` ('weights' or 'results')."""
    return property(lambda self: getattr(self, folder) / name, doc=f"<{folder}>/{name}")


@dataclass(frozen=True)
class RunPaths:
    logs: Path
    weights: Path
    results: Path

    def all(self) -> tuple[Path, Path, Path]:
        return (self.logs, self.weights, self.results)

    def make(self) -> "RunPaths":
        for p in self.all():
            p.mkdir(parents=True, exist_ok=True)
        return self

    def exists(self) -> bool:
        """True when any of the three folders holds something other than the run's lock."""
        return any(p.is_dir() and any(c.name != LOCK for c in p.iterdir()) for p in self.all())

    # files of the weights folder, then the reports of the results folder
    final = _file("weights", FINAL)
    best = _file("weights", BEST)
    interrupted = _file("weights", INTERRUPTED)
    state = _file("weights", STATE)
    baseline = _file("results", BASELINE)
    evaluation = _file("results", EVALUATION)
    faithfulness = _file("results", FAITHFULNESS)
    explanations = _file("results", EXPLANATIONS)

    def checkpoint(self, alpha: float, decimals: int = 2) -> Path:
        return self.weights / checkpoint_name(alpha, decimals)

    def budget_checkpoint(self, budget: float, decimals: int) -> Path:
        return self.weights / budget_checkpoint_name(budget, decimals)

    def checkpoints(self) -> list[Path]:
        return checkpoints(self.weights)

    def status(self) -> str:
        """'finished' (final weights, or for explain.py's runs, which train nothing, their report),
        'interrupted' (a resume state, no final weights), 'incomplete' (files but neither: it died
        before saving any state) or 'absent'."""
        if self.final.is_file() or self.explanations.is_file():
            return "finished"
        if self.state.is_file():
            return "interrupted"
        return "incomplete" if self.exists() else "absent"

    def kept(self) -> list[Path]:
        """The files of an incomplete run worth keeping: all but its logs, the lock, files staged for an
        epoch that never completed and temporary files (hidden names). A run killed before its first
        resume state holds none, and can start again without losing anything."""
        return sorted(p for folder in (self.weights, self.results) if folder.is_dir()
                      for p in folder.rglob("*") if p.is_file()
                      and not any(part.startswith(".") for part in p.relative_to(folder).parts))


@dataclass(frozen=True)
class Run:
    """One training of a series: its 1-based `index` (None for a lone run), folders and seed."""

    index: int | None
    paths: RunPaths
    seed: int


def explanation_model_type(method: str) -> str:
    """The run folder of explain.py --method `method`."""
    return f"explanations/{method}"


def run_folders(config: str, model_type: str, identifier: str, run: int | None = None,
                root: Path | str = ".") -> RunPaths:
    """Folders of one run of preset `config`, `model_type` and `identifier`; `run` is the 1-based index
    in a series of --num_trainings (None for a lone run)."""
    parts = [config, *model_type.split("/"), identifier]
    if run is not None:
        parts.append(str(run))
    root = Path(root)
    return RunPaths(*(root.joinpath(kind, *parts) for kind in KINDS))


def series_lock(runs: list[Run]) -> Path:
    """The lock of `runs`: a lone run's in its weights folder, a series' in the identifier's folder above its runs."""
    first = runs[0]
    return (first.paths.weights if first.index is None else first.paths.weights.parent) / LOCK


# A checkpoint file is named by alpha written with the decimals of --alpha_step (`alpha_decimals`),
# so a step with more decimals than this is refused (`utils.config.checks`).
MAX_ALPHA_DECIMALS = 6


def decimals(value: float, most: int = MAX_ALPHA_DECIMALS) -> int | None:
    """The fewest decimals (0..most) that write `value` exactly, or None if more are needed."""
    for d in range(most + 1):
        if abs(round(value, d) - value) < 1e-12:
            return d
    return None


def alpha_decimals(step: float) -> int:
    """Decimals of the checkpoint names for an --alpha_step: those of the step, at least 2."""
    d = decimals(step)
    if d is None:
        raise ValueError(f"alpha step {step!r} has more decimals than a checkpoint name holds")
    return max(2, d)


def checkpoint_name(alpha: float, decimals: int = 2) -> str:
    return f"alpha_{alpha:.{decimals}f}{WEIGHTS}"


def budget_decimals(final_budget: float) -> int:
    """Decimals of the budget checkpoint names: three significant digits of the final budget, at least 4."""
    return max(4, 2 - math.floor(math.log10(final_budget)))


def budget_checkpoint_name(budget: float, decimals: int) -> str:
    return f"budget_{budget:.{decimals}f}{WEIGHTS}"


def checkpoint_budget(path) -> float | None:
    """The budget of a per-budget checkpoint file, None for any other file."""
    m = _BUDGET.match(Path(path).name)
    return float(m.group(1)) if m else None


def checkpoint_stem(path) -> str:
    """A checkpoint's name without the extension, for file names: 'alpha_0.20', 'final'."""
    return Path(path).name.removesuffix(WEIGHTS)


def checkpoint_label(path) -> str:
    """A checkpoint's short name for tables and figures: '0.20' for alpha_0.20.weights.h5, 'b0.0300'
    for budget_0.0300.weights.h5, 'final', 'best', 'interrupted' for the others."""
    m = _ALPHA.match(Path(path).name)
    if m:
        return m.group(1)
    m = _BUDGET.match(Path(path).name)
    return f"b{m.group(1)}" if m else checkpoint_stem(path)


def checkpoint_alpha(path) -> float | None:
    """The alpha of a per-alpha checkpoint file, None for any other file."""
    m = _ALPHA.match(Path(path).name)
    return float(m.group(1)) if m else None


def checkpoints(weights_dir) -> list[Path]:
    """The per-alpha checkpoints of a run, highest alpha first, then the per-budget ones, highest
    budget first, then the final weights."""
    weights_dir = Path(weights_dir)
    per_alpha = [p for p in weights_dir.glob(f"alpha_*{WEIGHTS}") if checkpoint_alpha(p) is not None]
    per_alpha.sort(key=lambda p: -checkpoint_alpha(p))
    per_budget = [p for p in weights_dir.glob(f"budget_*{WEIGHTS}") if checkpoint_budget(p) is not None]
    per_budget.sort(key=lambda p: -checkpoint_budget(p))
    final = weights_dir / FINAL
    return per_alpha + per_budget + ([final] if final.is_file() else [])

