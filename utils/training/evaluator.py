"""Training a seeker-architecture classifier on randomly masked images (EVAL-X, `networks.evalx`).

Two uses, two runs that must never be the same network: the *judge* of the faithfulness benchmark at
``weights/<config>/evalx/<evaluator>/`` (seed --evaluator_seed, default --seed + 1), and the frozen
seeker of REAL-X training (``--seeker_training frozen``) at ``weights/<config>/seeker-random/<identifier>/``
(pretrain_seeker.py --random_masks, seed --seed). Each holds best and final weights of the classifier
alone and resumes after a kill.
"""
from __future__ import annotations

import dataclasses

import keras

from networks.evalx import RandomMaskClassifier
from networks.seeker import build_seeker
from networks.weights import load_weights
from utils.config.arguments import fit_arguments
from utils.data import Data, epoch_pipeline, pipeline, steps_per_epoch
from utils.runs import EVALUATOR, Run, claimed
from utils.seeding import seed_everything
from utils.training.callbacks import BestWeights
from utils.training.distribute import distributed
from utils.training.loop import fit_run
from utils.training.resume import EpochFiles


def evaluator_config(cfg):
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


def train_evaluator(cfg, data: Data, run: Run, infiller, model_type: str = EVALUATOR, start=None) -> keras.Model:
    """Train (or continue) the random-mask classifier of `run`; returns the trained classifier. `start`: a
    weights file of the seeker architecture to start from (a warm start; default random weights)."""
    seed_everything(run.seed)
    with distributed(cfg) as cfg:
        return _train(cfg, data, run, infiller, model_type, start)


def _train(cfg, data: Data, run: Run, infiller, model_type: str, start=None) -> keras.Model:
    classifier = build_seeker(cfg.seeker_architecture, data.image_shape, data.num_classes)
    if start is not None:
        load_weights(classifier, start)   # a resumed run then loads its own state over these
    # masks in float32 (utils.training.precision)
    model = RandomMaskClassifier(classifier, infiller, min_keep_rate=cfg.evalx_min_rate, grid=cfg.evalx_grid,
                                 seed=run.seed, name="evalx", dtype="float32")
    model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate), steps_per_execution=cfg.steps_per_execution)
    model.build((None, *data.image_shape))
    with claimed(cfg, model_type, [run]) as todo:
        for run, resuming in todo:
            files = EpochFiles(run.paths.weights)
            best = BestWeights(run.paths.best, "val_accuracy", "max", target=classifier, stage=files)
            fit_run(model, run.paths, resuming, files=files,
                    train=lambda first, last: epoch_pipeline(data.train, cfg.batch_size, run.seed, first, last,
                                                             shift=cfg.augment_shift, fill=cfg.shift_fill),
                    steps=steps_per_epoch(data.train, cfg.batch_size), validation=pipeline(data.val, cfg.batch_size),
                    callbacks=[] if cfg.debug else [best], stateful={"best": best}, saved=classifier,
                    **fit_arguments(cfg))
    return classifier
