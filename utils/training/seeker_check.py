"""Refuse to start Hide-and-Seek from a seeker that has learnt nothing.

A seeker at chance gives the hider no signal: its cross-entropy is the same whatever the mask,
so the size term alone decides and the run ends hiding everything, with nothing said. One pass
over the validation split tells: the start seeker is refused when

    accuracy <= CHANCE_FACTOR / num_classes

(1.5 times chance: 0.15 for 10 classes), with a one-line error that says how to retrain it. More epochs
rarely help a seeker that ends in Flatten + Dense (small, large) where the evidence is a small object that
may be anywhere: it must learn the object at every place separately, so the error names the seeker that
does not (``--seeker_model pooling``, `networks.seeker.seeker_pooling`) first.
"""
from __future__ import annotations

import numpy as np

from networks.build import load_seeker
from utils.errors import UsageError
from utils.evaluation.prediction import predict_classes

CHANCE_FACTOR = 1.5


def check_seeker_accuracy(accuracy: float, num_classes: int, path: str, config: str,
                          train_images: int | None = None, model: str = "small") -> None:
    """A UsageError when `accuracy` (on validation) is within CHANCE_FACTOR of chance, 1 / num_classes.
    `train_images`, where known, is named in the error: with few of them no number of epochs helps; `model` is
    the seeker's architecture (`networks.seeker.build_seeker`): for the small and large ones, which end in
    Flatten + Dense, the error offers the pooling seeker."""
    chance = 1.0 / num_classes
    if accuracy <= CHANCE_FACTOR * chance:
        more_data = "" if train_images is None else f", or more than its {train_images} training images"
        pooling = ("" if model not in ("small", "large") else
                   f"--seeker_model pooling if the evidence may be anywhere in the image (the {model} seeker "
                   "must learn an object at every place separately; give every stage the flag), or ")
        raise UsageError(
            f"--seeker_weights {path}: validation accuracy {accuracy:.3f} is at chance (1/{num_classes} = "
            f"{chance:.3f}), so the hider would learn nothing from it: retrain it with pretrain_seeker.py "
            f"--config {config} --overwrite and {pooling}more --max_epochs (or a lower --learning_rate{more_data}), "
            "or pass --allow_weak_seeker to start from it anyway")


def require_trained_seeker(path: str, model: str, data, batch_size: int, config: str) -> float:
    """The validation accuracy of the `model` seeker at `path` (--seeker_weights), after `check_seeker_accuracy`;
    `config` is the preset its error names."""
    seeker = load_seeker(model, data.image_shape, data.num_classes, path)
    accuracy = float(np.mean(predict_classes(seeker, data.val.x, batch_size=batch_size) == data.val.y))
    check_seeker_accuracy(accuracy, data.num_classes, path, config, len(data.train), model)
    return accuracy
