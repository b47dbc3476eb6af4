"""Training the EVAL-X evaluator: a seeker-architecture classifier on randomly masked images.

The run lives at ``weights/<config>/evalx/<evaluator>/`` like any other (best and final weights of
the classifier alone, resumable after a kill); `networks.evalx` holds the model and its masks.
"""
from __future__ import annotations

import dataclasses

import keras

from networks.evalx import RandomMaskClassifier
from networks.seeker import build_seeker
from utils.data import Data, epoch_pipeline, pipeline, steps_per_epoch
from utils.runs import Run, claimed
from utils.seeding import seed_everything
from utils.training.callbacks import BestWeights
from utils.training.distribute import distributed
from utils.training.loop import fit_run


def evaluator_config(cfg):
    """The configuration of `cfg`'s evaluator run: its own identifier and seed."""
    return dataclasses.replace(cfg, identifier=cfg.evaluator or cfg.identifier,
                               seed=cfg.seed if cfg.evaluator_seed is None else cfg.evaluator_seed,
                               overwrite=False, resume=False)


def train_evaluator(cfg, data: Data, run: Run, infiller) -> keras.Model:
    """Train (or continue) the evaluator of `run`; returns the trained classifier."""
    seed_everything(run.seed)
    with distributed(cfg) as cfg:
        return _train(cfg, data, run, infiller)


def _train(cfg, data: Data, run: Run, infiller) -> keras.Model:
    classifier = build_seeker(cfg.model, data.image_shape, data.num_classes)
    model = RandomMaskClassifier(classifier, infiller, cfg.evalx_min_rate, cfg.evalx_grid, seed=run.seed,
                                 name="evalx", dtype="float32")  # masks in float32 (utils.training.precision)
    model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate), steps_per_execution=cfg.steps_per_execution)
    model.build((None, *data.image_shape))
    with claimed(cfg, "evalx", [run]) as todo:
        for run, resuming in todo:
            best = BestWeights(run.paths.best, "val_accuracy", "max", target=classifier)
            fit_run(model, cfg, run.paths, resuming,
                    train=lambda first, last: epoch_pipeline(data.train, cfg.batch_size, run.seed, first, last,
                                                             shift=cfg.augment_shift),
                    steps=steps_per_epoch(data.train, cfg.batch_size), validation=pipeline(data.val, cfg.batch_size),
                    callbacks=[] if cfg.debug else [best], stateful={"best": best}, saved=classifier)
    return classifier
