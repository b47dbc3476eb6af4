"""Label leakage: can the class be read from a mask alone, without a single pixel?

A small CNN (`LeakageProbe`) is trained on the training split's masks alone and scored on the
test masks; chance is 1 / num_classes. A high score means the mask's *shape* tells the class.
On MNIST a mask that keeps exactly the strokes is itself a digit, so a high score is expected
there: compare methods at the same budget and with random-foreground masks, and with the
accuracy of an independently trained classifier on the masked images.
"""
from __future__ import annotations

import keras
import numpy as np


class LeakageProbe:
    """A small CNN that classifies masks alone (see the module docstring).

    Built and compiled once; every `score` call starts it again from the same initial weights
    and a fresh optimizer state, so each checkpoint gets an identical, independent probe
    without recompiling.
    """

    def __init__(self, mask_shape, num_classes: int, epochs: int = 3, seed: int = 0):
        keras.utils.set_random_seed(seed)
        self.epochs = epochs
        self.model = keras.Sequential([
            keras.Input((*mask_shape, 1)),
            keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu"),
            keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(num_classes),
        ])
        self.model.compile(keras.optimizers.Adam(2e-3),
                           keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        self.model.optimizer.build(self.model.trainable_variables)
        self.variables = [*self.model.variables, *self.model.optimizer.variables]
        self.initial = [v.numpy() for v in self.variables]
        self.seed = seed

    def predict(self, train_masks, train_labels, test_masks, repeat: int = 1) -> np.ndarray:
        """Classes of `test_masks` after training on the training masks for `epochs` epochs.

        With `repeat` > 1 each epoch passes over the training masks `repeat` times (shuffled
        together): the same number of steps as `repeat` times more epochs on a few masks, without
        the per-epoch overhead.
        """
        keras.utils.set_random_seed(self.seed)
        for v, value in zip(self.variables, self.initial):
            v.assign(value)
        x = np.tile(train_masks[..., None].astype(np.float32), (repeat, 1, 1, 1))
        self.model.fit(x, np.tile(train_labels, repeat), batch_size=128, epochs=self.epochs, verbose=0, shuffle=True)
        test = test_masks[..., None].astype(np.float32)
        logits = np.concatenate([self.model(test[i:i + 512], training=False) for i in range(0, len(test), 512)])
        return np.argmax(logits, -1)

    def score(self, train_masks, train_labels, test_masks, test_labels) -> float:
        """Test accuracy after training on the training masks for `epochs` epochs."""
        return float(np.mean(self.predict(train_masks, train_labels, test_masks) == test_labels))


def leakage_accuracy(train_masks, train_labels, test_masks, test_labels, num_classes: int,
                     epochs: int = 3, seed: int = 0) -> float:
    """Test accuracy of a fresh `LeakageProbe` trained on `train_masks`."""
    probe = LeakageProbe(train_masks.shape[1:], num_classes, epochs, seed)
    return probe.score(train_masks, train_labels, test_masks, test_labels)
