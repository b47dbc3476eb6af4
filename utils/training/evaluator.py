"""Training a seeker-architecture classifier on randomly masked images (EVAL-X, `networks.evalx`).

Two uses, two runs that must never be the same network: the *judge* of the faithfulness benchmark at
``weights/<config>/evalx/<evaluator>/`` (seed --evaluator_seed, default --seed + 1), and the frozen
seeker of REAL-X training (``--seeker_training frozen``) at ``weights/<config>/seeker-random/<identifier>/``
(pretrain_seeker.py --random_masks, seed --seed). Each holds best and final weights of the classifier
alone and resumes after a kill.
"""
from __future__ import annotations

import keras

from networks.evalx import RandomMaskClassifier
from networks.seeker import build_seeker
from networks.weights import load_weights
from utils.data import Data, epoch_pipeline, pipeline, steps_per_epoch
from utils.runs import Run, claim, series_lock
from utils.seeding import seed_everything
from utils.training.callbacks import BestWeights
from utils.training.distribute import strategy_scope, writes_files
from utils.training.loop import fit_run
from utils.training.resume import EpochFiles


def train_evaluator(data: Data, run: Run, infiller, *, architecture: str, min_keep_rate: float, grid: int | None,
                    learning_rate: float, steps_per_execution: int, batch_size: int, augment_shift: int,
                    shift_fill: str, max_epochs: int, debug: bool = False, quiet: bool = False,
                    strategy: str = "default", mixed_precision: bool = False, overwrite: bool = False,
                    resume: bool = False, start=None) -> keras.Model:
    """Train (or continue) the random-mask classifier of the lone run `run`; returns the trained classifier.

    Args:
        architecture: the seeker architecture of the classifier (`networks.seeker.build_seeker`).
        min_keep_rate, grid: the random masks (`networks.evalx.RandomMaskClassifier`).
        learning_rate, steps_per_execution: Adam's rate, and the steps of one compiled call.
        batch_size, augment_shift, shift_fill: the training batches (`utils.data.epoch_pipeline`).
        max_epochs, debug, quiet: `utils.training.loop.fit_run`.
        strategy, mixed_precision: the scope it trains in (`utils.training.distribute.strategy_scope`); a
            multi-worker task that is not the chief trains as with `debug`.
        overwrite, resume: how the run is claimed (`utils.runs.claim_series`).
        start: a weights file of the seeker architecture to start from (a warm start; default random weights).
    """
    seed_everything(run.seed)
    with strategy_scope(strategy, batch_size, mixed_precision, quiet) as scope:
        debug = debug or not writes_files(strategy, scope)
        classifier = build_seeker(architecture, data.image_shape, data.num_classes)
        if start is not None:
            load_weights(classifier, start)   # a resumed run then loads its own state over these
        # masks in float32 (utils.training.precision)
        model = RandomMaskClassifier(classifier, infiller, min_keep_rate=min_keep_rate, grid=grid, seed=run.seed,
                                     name="evalx", dtype="float32")
        model.compile(optimizer=keras.optimizers.Adam(learning_rate), steps_per_execution=steps_per_execution)
        model.build((None, *data.image_shape))
        with claim(series_lock([run]), [run], debug=debug, overwrite=overwrite, resume=resume) as todo:
            for run, resuming in todo:
                files = EpochFiles(run.paths.weights)
                best = BestWeights(run.paths.best, "val_accuracy", "max", target=classifier, stage=files)
                fit_run(model, run.paths, resuming, files=files,
                        train=lambda first, last: epoch_pipeline(data.train, batch_size, run.seed, first, last,
                                                                 shift=augment_shift, fill=shift_fill),
                        steps=steps_per_epoch(data.train, batch_size), validation=pipeline(data.val, batch_size),
                        callbacks=[] if debug else [best], stateful={"best": best}, saved=classifier,
                        max_epochs=max_epochs, debug=debug, quiet=quiet)
    return classifier
