"""The one-pass explainer of a fixed classifier from a configuration (train_explainer.py; explain.py and
faithfulness.py --method amortised): its run, its training and the explainer it gives.

The classifier is --classifier (a Keras model file that returns logits) or else the pretrained seeker of
--seeker_weights / the preset's. Training is a Hide-and-Seek run whose seeker is that classifier, frozen
(``seeker_training="frozen"``), with the budget mode's exact top-k mask at --explainer_budget, every image's
target the class the classifier predicts for it (what BBMP explains), and the preset's in-fill and objective
terms (`utils.explainers.amortised` has the objective). The hider starts from the HnS run's hider
(--explainer_start hns: the checkpoint the HnS flags name, as for faithfulness.py), the pretrained hider
autoencoder (autoencoder) or random weights (scratch). The classifier's weights never change (checked after
training). The run: weights/<config>/amortised[+<variant>]/<identifier>/, its final weights the whole model's.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from networks.build import build_hns, load_seeker
from networks.weights import load_weights
from utils.config.arguments import hns_arguments
from utils.data import Data
from utils.errors import RunError, UsageError
from utils.evaluation.prediction import predict_classes
from utils.explainers.amortised import AmortisedExplainer
from utils.seeding import seed_everything
from utils.stages.evaluation import hns_checkpoint
from utils.stages.hns import train_hns
from utils.stages.runs import (amortised_model_type, claimed, default_hider_weights, default_seeker_weights,
                               hns_model_type, series, training_config)


def load_classifier(cfg, data):
    """The classifier the explainer explains: the --classifier file, else the pretrained seeker."""
    if cfg.classifier:
        # deferred: TensorFlow start-up
        import keras

        path = Path(cfg.classifier)
        if not path.is_file() or path.suffix != ".keras":
            raise UsageError(f"--classifier {path}: not a Keras model file (.keras): save your classifier with "
                             "model.save('NAME.keras')")
        model = keras.saving.load_model(path, compile=False)
        expected = (None, *data.image_shape)
        if tuple(model.input_shape) != expected or tuple(model.output_shape) != (None, data.num_classes):
            raise UsageError(f"--classifier {path} maps {model.input_shape} to {model.output_shape}; the data need "
                             f"{expected} to (None, {data.num_classes}) logits: pass --image_size, --channels and "
                             "--num_classes of the data it was trained on")
        return model
    weights = Path(cfg.seeker_weights) if cfg.seeker_weights else default_seeker_weights(cfg)
    if not weights.is_file():
        raise UsageError(f"no seeker weights at {weights}: the explainer explains the pretrained seeker; run "
                         f"pretrain_seeker.py --config {cfg.config} --identifier {cfg.identifier}, pass "
                         "--seeker_weights, or pass your own model with --classifier NAME.keras")
    return load_seeker(cfg.seeker_architecture, data.image_shape, data.num_classes, weights)


def hider_start(cfg) -> tuple[dict, str]:
    """(`build_hns` keyword arguments of the hider's start, a line saying which)."""
    if cfg.explainer_start == "hns":
        checkpoint, how = hns_checkpoint(cfg, series(cfg, hns_model_type(cfg))[0])
        return {"hider_start": checkpoint}, f"the hider starts from the HnS run's {checkpoint} ({how})"
    if cfg.explainer_start == "autoencoder":
        weights = Path(cfg.hider_weights) if cfg.hider_weights else default_hider_weights(cfg)
        if not weights.is_file():
            raise UsageError(f"no hider autoencoder at {weights} (--explainer_start autoencoder): run "
                             f"pretrain_hider.py --config {cfg.config} --identifier {cfg.identifier}, pass "
                             "--hider_weights, or choose --explainer_start scratch")
        return {"hider_weights": weights}, f"the hider starts from the autoencoder {weights}"
    return {}, "the hider starts from random weights"


def predicted(classifier, split, batch_size: int):
    """`split` with its labels replaced by the class `classifier` predicts for each image."""
    return dataclasses.replace(split, y=predict_classes(classifier, split.x, batch_size=batch_size).astype(
        split.y.dtype))


def train_amortised(cfg, data: Data, report=print):
    """train_explainer.py: train the explainer's run of `cfg` (new, interrupted or finished: `utils.runs.claim`)."""
    start, line = hider_start(cfg)
    classifier = load_classifier(cfg, data)
    before = [w.copy() for w in classifier.get_weights()]
    targets = dataclasses.replace(data, train=predicted(classifier, data.train, cfg.batch_size),
                                  val=predicted(classifier, data.val, cfg.batch_size))
    agree = float(np.mean(targets.train.y == data.train.y))
    report(f"{line}; targets: the classifier's own classes (it agrees with the labels on {agree:.3f} of the "
           "training images)")
    train = training_config(cfg)
    model_type = amortised_model_type(cfg)
    results = []
    with claimed(cfg, model_type, series(cfg, model_type)) as todo:
        for run, resuming in todo:
            seed_everything(run.seed)
            model = build_hns(data.image_shape, data.num_classes, seeker=classifier,
                              **{**hns_arguments(train, run.seed, start_weights=False), **start})
            result = train_hns(train, targets, run, resuming, model=model)
            report(f"trained in {result.seconds:.0f} s ({result.images_per_second:.0f} images/s)"
                   + ("" if cfg.debug else f"; weights: {run.paths.weights}"))
            results.append(result)
    if any(not np.array_equal(a, b) for a, b in zip(before, classifier.get_weights())):
        raise RunError("the classifier's weights changed while its explainer trained: report this as a bug")
    return results


def amortised_weights(cfg) -> Path:
    """The final weights of the explainer's run that train_explainer.py trained with the flags of `cfg`; a
    UsageError if it has not finished."""
    (run,) = series(dataclasses.replace(cfg, num_trainings=1), amortised_model_type(cfg))
    if not run.paths.final.is_file():
        raise UsageError(f"no one-pass explainer at {run.paths.final}: run train_explainer.py --config {cfg.config} "
                         f"--identifier {cfg.identifier} with the same flags first")
    return run.paths.final


def load_amortised(cfg, data, classifier) -> tuple[AmortisedExplainer, Path]:
    """The explainer of `classifier` that train_explainer.py trained with the flags of `cfg`, and its weights."""
    weights = amortised_weights(cfg)
    before = [w.copy() for w in classifier.get_weights()]
    model = build_hns(data.image_shape, data.num_classes, seeker=classifier,
                      **hns_arguments(training_config(cfg), start_weights=False))
    load_weights(model, weights)   # the whole run's file: the hider, and the classifier it was trained against
    if any(not np.array_equal(a, b) for a, b in zip(before, classifier.get_weights())):
        raise UsageError(f"the one-pass explainer at {weights} was trained against another classifier than the one "
                         "given (--classifier or the seeker weights): train it for this one with train_explainer.py "
                         "--overwrite, or pass the classifier it was trained against")
    return AmortisedExplainer(classifier, model.hider, seed=cfg.seed), weights
