"""Pretraining stages of a configuration: the seeker and the hider (pretrain_seeker.py, pretrain_hider.py),
and the seeker on random masks (pretrain_seeker.py --random_masks, the frozen seeker of REAL-X).

`utils.training.pretraining` and `utils.training.evaluator` hold the trainings; this module reads the flags.
"""
from __future__ import annotations

import keras

from networks.infill import Zero
from utils.config.arguments import fit_arguments
from utils.data import Data
from utils.seeding import seed_everything
from utils.stages.data import load_data
from utils.stages.process import distributed
from utils.stages.runs import claimed, hider_model_type, seeker_model_type, series
from utils.training.evaluator import train_evaluator
from utils.training.pretraining import fit_pretraining, pretraining_model


def build_pretraining_model(cfg, kind: str, image_shape, num_classes: int) -> keras.Model:
    """A compiled seeker (cross-entropy on logits) or hider autoencoder (binary cross-entropy), from
    --seeker_weights or --hider_weights where given."""
    return pretraining_model(kind, image_shape, num_classes, seeker_architecture=cfg.seeker_architecture,
                             model=cfg.model, hider_decoder=cfg.hider_decoder, learning_rate=cfg.learning_rate,
                             steps_per_execution=cfg.steps_per_execution,
                             start=cfg.seeker_weights if kind == "seeker" else cfg.hider_weights)


def pretrain(cfg, kind: str) -> tuple[keras.Model, Data, object]:
    """Train a seeker or a hider; keep the best weights on the validation split and the last ones.

    Writes ``best.weights.h5`` and ``final.weights.h5`` to the run's weights folder and
    TensorBoard logs (nothing with --debug); a run that was killed continues from its last
    completed epoch. Returns (model, data, run paths).
    """
    seed_everything(cfg.seed)
    data = load_data(cfg)
    with distributed(cfg) as cfg:
        return _pretrain(cfg, kind, data)


def _pretrain(cfg, kind: str, data: Data):
    model = build_pretraining_model(cfg, kind, data.image_shape, data.num_classes)
    model_type = seeker_model_type(cfg) if kind == "seeker" else hider_model_type(cfg)
    (run,) = series(cfg, model_type)
    with claimed(cfg, model_type, [run]) as todo:
        for run, resuming in todo:
            fit_pretraining(model, kind, data, run, resuming, batch_size=cfg.batch_size, seed=cfg.seed,
                            augment_shift=cfg.augment_shift, shift_fill=cfg.shift_fill, **fit_arguments(cfg))
    return model, data, run.paths


def evaluator_arguments(cfg) -> dict:
    """`utils.training.evaluator.train_evaluator` keyword arguments of a configuration (all but the data, the
    run, the in-filler and the start weights)."""
    return dict(architecture=cfg.seeker_architecture, min_keep_rate=cfg.evalx_min_rate, grid=cfg.evalx_grid,
                learning_rate=cfg.learning_rate, steps_per_execution=cfg.steps_per_execution,
                batch_size=cfg.batch_size, augment_shift=cfg.augment_shift, shift_fill=cfg.shift_fill,
                strategy=cfg.strategy, mixed_precision=cfg.mixed_precision, overwrite=cfg.overwrite,
                resume=cfg.resume, **fit_arguments(cfg))


def pretrain_random_masks(cfg) -> tuple[keras.Model, Data, object]:
    """Train the seeker on randomly masked images (EVAL-X, zero in-fill) into seeker-random/<identifier>:
    the frozen seeker of REAL-X training; from --seeker_weights where given (a warm start, as the plain
    seeker's). Returns (classifier, data, run paths)."""
    model_type = seeker_model_type(cfg, random_masks=True)
    data = load_data(cfg)
    (run,) = series(cfg, model_type)
    classifier = train_evaluator(data, run, Zero(), start=cfg.seeker_weights, **evaluator_arguments(cfg))
    return classifier, data, run.paths
