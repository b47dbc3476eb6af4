"""Pretraining of the seeker (a classifier) and the hider (an autoencoder) with Keras `fit`."""
from __future__ import annotations

import keras
import tensorflow as tf

from networks.hider import build_hider
from networks.seeker import build_seeker
from utils.callbacks import BestWeights, StopOnNonFinite
from utils.config import Config
from utils.data import Data, epoch_pipeline, load_data, pipeline, steps_per_epoch
from utils.errors import RunError
from utils.io import claim_run
from utils.paths import RunPaths
from utils.weights import load_weights, save_weights


def fit_verbosity(cfg: Config) -> int:
    """Progress bar on a terminal, one line per epoch in logs and pipes, nothing with --quiet."""
    import sys

    return 0 if cfg.quiet else (1 if sys.stdout.isatty() else 2)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and TF, and make TF ops deterministic, so a CPU run repeats exactly."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def tensorboard(paths: RunPaths) -> keras.callbacks.TensorBoard:
    """Batch and epoch scalars under the run's logs folder."""
    return keras.callbacks.TensorBoard(log_dir=str(paths.logs), update_freq="batch", write_graph=False,
                                       profile_batch=0)


def build_pretraining_model(cfg: Config, kind: str, image_shape, num_classes: int) -> keras.Model:
    """A compiled seeker (cross-entropy on logits) or hider autoencoder (binary cross-entropy)."""
    if kind == "seeker":
        model = build_seeker(cfg.model, image_shape, num_classes)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
        start = cfg.seeker_weights
    else:
        model = build_hider(cfg.model, image_shape, out_channels=image_shape[-1])
        loss = keras.losses.BinaryCrossentropy()
        metrics = [keras.metrics.MeanSquaredError(name="mse")]
        start = cfg.hider_weights
    if start:
        load_weights(model, start)
    model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate), loss=loss, metrics=metrics)
    return model


def pretrain(cfg: Config, kind: str, paths: RunPaths) -> tuple[keras.Model, Data]:
    """Train a seeker or a hider; keep the best weights on the validation split and the last ones.

    Writes ``best.weights.h5`` and ``final.weights.h5`` to ``paths.weights`` and TensorBoard
    logs to ``paths.logs`` (nothing with --debug).
    """
    seed_everything(cfg.seed)
    data = load_data(cfg)
    model = build_pretraining_model(cfg, kind, data.image_shape, data.num_classes)
    targets = "labels" if kind == "seeker" else "images"
    train = epoch_pipeline(data.train, cfg.batch_size, cfg.seed, 0, cfg.max_epochs, targets, cfg.augment_shift)
    val = pipeline(data.val, cfg.batch_size, targets=targets)
    monitor, mode = ("val_accuracy", "max") if kind == "seeker" else ("val_loss", "min")
    guard = StopOnNonFinite()
    callbacks = [guard]
    if not cfg.debug:
        claim_run(paths, overwrite=cfg.overwrite)
        paths.make()
        callbacks += [tensorboard(paths), BestWeights(paths.weights / "best.weights.h5", monitor, mode)]
    model.fit(train, steps_per_epoch=steps_per_epoch(data.train, cfg.batch_size), validation_data=val,
              epochs=cfg.max_epochs, callbacks=callbacks, shuffle=False,
              verbose=fit_verbosity(cfg))
    if guard.failed:
        raise RunError(f"training stopped: {guard.failed}; the best weights so far are kept in "
                       f"{paths.weights}. Lower --learning_rate and retry")
    if not cfg.debug:
        save_weights(model, paths.weights / "final.weights.h5")
    return model, data
