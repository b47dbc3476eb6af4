"""Pretraining of the seeker (a classifier) and of the hider (an autoencoder), resumable."""
from __future__ import annotations

import keras

from networks.hider import build_hider
from networks.infill import Zero
from networks.seeker import build_seeker
from networks.weights import load_weights
from utils.config.arguments import data_arguments, fit_arguments
from utils.data import Data, epoch_pipeline, load_data, pipeline, steps_per_epoch
from utils.runs import claimed, hider_model_type, seeker_model_type, series
from utils.seeding import seed_everything
from utils.training.callbacks import BestWeights
from utils.training.distribute import distributed
from utils.training.loop import fit_run
from utils.training.resume import EpochFiles

KINDS = ("seeker", "hider")


def build_pretraining_model(cfg, kind: str, image_shape, num_classes: int) -> keras.Model:
    """A compiled seeker (cross-entropy on logits) or hider autoencoder (binary cross-entropy)."""
    if kind == "seeker":
        model = build_seeker(cfg.seeker_architecture, image_shape, num_classes)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
        start = cfg.seeker_weights
    else:
        model = build_hider(cfg.model, image_shape, out_channels=image_shape[-1], decoder=cfg.hider_decoder)
        loss = keras.losses.BinaryCrossentropy()
        metrics = [keras.metrics.MeanSquaredError(name="mse")]
        start = cfg.hider_weights
    if start:
        load_weights(model, start)
    model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate), loss=loss, metrics=metrics,
                  steps_per_execution=cfg.steps_per_execution)
    return model


def pretrain(cfg, kind: str) -> tuple[keras.Model, Data, object]:
    """Train a seeker or a hider; keep the best weights on the validation split and the last ones.

    Writes ``best.weights.h5`` and ``final.weights.h5`` to the run's weights folder and
    TensorBoard logs (nothing with --debug); a run that was killed continues from its last
    completed epoch. Returns (model, data, run paths).
    """
    seed_everything(cfg.seed)
    data = load_data(**data_arguments(cfg))
    with distributed(cfg) as cfg:
        return _pretrain(cfg, kind, data)


def _pretrain(cfg, kind: str, data: Data):
    model = build_pretraining_model(cfg, kind, data.image_shape, data.num_classes)
    targets = "labels" if kind == "seeker" else "images"
    monitor, mode = ("val_accuracy", "max") if kind == "seeker" else ("val_loss", "min")
    model_type = seeker_model_type(cfg) if kind == "seeker" else hider_model_type(cfg)
    (run,) = series(cfg, model_type)
    with claimed(cfg, model_type, [run]) as todo:
        if not todo:
            return model, data, run.paths
        ((run, resuming),) = todo
        files = EpochFiles(run.paths.weights)
        best = BestWeights(run.paths.best, monitor, mode, stage=files)
        fit_run(model, run.paths, resuming, files=files,
                train=lambda first, last: epoch_pipeline(data.train, cfg.batch_size, cfg.seed, first, last, targets,
                                                         cfg.augment_shift, cfg.shift_fill),
                steps=steps_per_epoch(data.train, cfg.batch_size), validation=pipeline(data.val, cfg.batch_size,
                                                                                       targets=targets),
                callbacks=[] if cfg.debug else [best], stateful={"best": best}, **fit_arguments(cfg))
    return model, data, run.paths


def pretrain_random_masks(cfg) -> tuple[keras.Model, Data, object]:
    """Train the seeker on randomly masked images (EVAL-X, zero in-fill) into seeker-random/<identifier>:
    the frozen seeker of REAL-X training; from --seeker_weights where given (a warm start, as the plain
    seeker's). Returns (classifier, data, run paths)."""
    from utils.training.evaluator import train_evaluator

    model_type = seeker_model_type(cfg, random_masks=True)
    data = load_data(**data_arguments(cfg))
    (run,) = series(cfg, model_type)
    return train_evaluator(cfg, data, run, Zero(), model_type, start=cfg.seeker_weights), data, run.paths
