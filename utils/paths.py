"""The one place that knows where a run's files live.

Every run writes to ``logs/``, ``weights/`` and ``results/`` under the current directory,
as ``<config>/<model_type>/<identifier>[/<run>]/``. For Hide-and-Seek the model type is
``hns/deterministic`` or ``hns/stochastic/<estimator>`` (``.../sa/rate_<r>`` for slope
annealing).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from utils.config import Config

KINDS = ("logs", "weights", "results")


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
        """True when any of the three folders holds something."""
        return any(p.is_dir() and any(p.iterdir()) for p in self.all())


def hns_model_type(cfg: Config) -> str:
    if not cfg.stochastic:
        return "hns/deterministic"
    kind = f"hns/stochastic/{cfg.estimator}"
    if cfg.estimator == "sa":
        kind += f"/rate_{cfg.rate:g}"
    return kind


def run_paths(cfg: Config, model_type: str, run: int | None = None, root: Path | str = ".") -> RunPaths:
    """Folders of one run; `run` is the 1-based index under --num_trainings."""
    parts = [cfg.config, *model_type.split("/"), cfg.identifier]
    if run is not None:
        parts.append(str(run))
    root = Path(root)
    return RunPaths(*(root.joinpath(kind, *parts) for kind in KINDS))


def default_seeker_weights(cfg: Config) -> Path:
    return run_paths(cfg, "seeker").weights / "best.weights.h5"


def default_hider_weights(cfg: Config) -> Path:
    return run_paths(cfg, "hider").weights / "best.weights.h5"


def default_baseline(cfg: Config) -> Path:
    return run_paths(cfg, "seeker").results / "baseline.json"
