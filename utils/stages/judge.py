"""The faithfulness benchmark's judge from a configuration: its run, and the step that trains it (or finds it
trained) before the benchmark reads it.

The judge is an EVAL-X evaluator (`networks.evalx`), a seeker-architecture classifier trained on randomly
masked images at ``weights/<config>/evalx/<evaluator>/`` (`utils.training.evaluator` trains it); it must
never be the network a hider was trained against. --evaluator_weights names a judge trained elsewhere.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from networks.build import load_seeker
from utils.errors import UsageError
from utils.runs import EVALUATOR, Run
from utils.stages.pretraining import evaluator_arguments
from utils.stages.runs import series
from utils.training.evaluator import train_evaluator


def judge_config(cfg):
    """The configuration of `cfg`'s judge: seed --evaluator_seed (default --seed + 1), identifier
    --evaluator (default <identifier>-seed<that seed>). One evaluator judges every run of a
    --num_trainings series, so it is a lone run."""
    seed = cfg.seed + 1 if cfg.evaluator_seed is None else cfg.evaluator_seed
    name = cfg.evaluator or f"{cfg.identifier}-seed{seed}"
    if cfg.evaluator_start == "seeker":   # another network: never the scratch judge's run
        name += "-from-seeker"
    if cfg.seeker_architecture != cfg.model:  # the judge has the seeker's architecture
        name += f"-{cfg.seeker_architecture}"
    return dataclasses.replace(cfg, identifier=name, seed=seed, overwrite=False, resume=False, num_trainings=1)


def judge_run(cfg) -> tuple[Run | None, Path]:
    """The judge's run (None with --evaluator_weights) and the weights the benchmark reads."""
    if cfg.evaluator_weights:
        return None, Path(cfg.evaluator_weights)
    (run,) = series(judge_config(cfg), EVALUATOR)
    return run, run.paths.best


def judge_classifier(cfg, run: Run | None, weights: Path, seeker: Path, data, infiller):
    """The EVAL-X classifier at `weights`: trained first on `data`'s randomly masked images, filled by
    `infiller`, unless its `run` is finished (or it was given by --evaluator_weights, `run` None); with
    --evaluator_start seeker it starts from the pretrained `seeker`'s weights."""
    if run is not None and run.paths.status() != "finished":
        start = seeker if cfg.evaluator_start == "seeker" else None
        print(f"training the EVAL-X evaluator in {run.paths.weights} ({cfg.max_epochs} epochs"
              + (f", from the pretrained seeker {start})" if start else ")"))
        judge = judge_config(cfg)
        train_evaluator(data, run, infiller, start=start, **evaluator_arguments(judge))
        if judge.debug:
            raise UsageError("--debug trains an evaluator but keeps nothing to judge with: drop --debug, or pass "
                             "--evaluator_weights")
    return load_seeker(cfg.seeker_architecture, data.image_shape, data.num_classes, weights)
