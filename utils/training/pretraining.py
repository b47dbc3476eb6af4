"""Pretraining of the seeker (a classifier) and of the hider (an autoencoder), resumable."""
from __future__ import annotations

import keras

from networks.hider import build_hider
from networks.seeker import build_seeker
from networks.weights import load_weights
from utils.data import Data, epoch_pipeline, pipeline, steps_per_epoch
from utils.runs import Run
from utils.training.callbacks import BestWeights
from utils.training.loop import FitOutcome, fit_run
from utils.training.resume import EpochFiles

KINDS = ("seeker", "hider")


def pretraining_model(kind: str, image_shape, num_classes: int, *, seeker_architecture: str, model: str,
                      hider_decoder: str, learning_rate: float, steps_per_execution: int,
                      start: str | None = None) -> keras.Model:
    """A compiled seeker of `seeker_architecture` (cross-entropy on logits) or hider autoencoder of `model`
    and `hider_decoder` (binary cross-entropy), from the weights file `start` where given."""
    if kind == "seeker":
        network = build_seeker(seeker_architecture, image_shape, num_classes)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    else:
        network = build_hider(model, image_shape, out_channels=image_shape[-1], decoder=hider_decoder)
        loss = keras.losses.BinaryCrossentropy()
        metrics = [keras.metrics.MeanSquaredError(name="mse")]
    if start:
        load_weights(network, start)
    network.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss, metrics=metrics,
                    steps_per_execution=steps_per_execution)
    return network


def fit_pretraining(model: keras.Model, kind: str, data: Data, run: Run, resuming: bool, *, batch_size: int,
                    seed: int, augment_shift: int, shift_fill: str, max_epochs: int, debug: bool = False,
                    quiet: bool = False) -> FitOutcome:
    """Fit the seeker (to the labels) or the hider (to the images) `model` in the claimed `run`, keeping the
    best weights on the validation split (accuracy, or loss for the hider) and the last ones
    (``best.weights.h5``, ``final.weights.h5``; nothing with `debug`); with `resuming`, from its last
    completed epoch. The batches: `utils.data.epoch_pipeline` of `batch_size`, `seed`, `augment_shift`,
    `shift_fill`."""
    targets = "labels" if kind == "seeker" else "images"
    monitor, mode = ("val_accuracy", "max") if kind == "seeker" else ("val_loss", "min")
    files = EpochFiles(run.paths.weights)
    best = BestWeights(run.paths.best, monitor, mode, stage=files)
    return fit_run(model, run.paths, resuming, files=files,
                   train=lambda first, last: epoch_pipeline(data.train, batch_size, seed, first, last, targets,
                                                            augment_shift, shift_fill),
                   steps=steps_per_epoch(data.train, batch_size), validation=pipeline(data.val, batch_size,
                                                                                      targets=targets),
                   callbacks=[] if debug else [best], stateful={"best": best}, max_epochs=max_epochs, debug=debug,
                   quiet=quiet)
