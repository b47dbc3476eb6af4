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
import tensorflow as tf

BATCH = 128


class LeakageProbe:
    """A small CNN that classifies masks alone (see the module docstring).

    Built and compiled once; every `score` call starts it again from the same initial weights
    and a fresh optimizer state, so each checkpoint gets an identical, independent probe
    without recompiling. Its training is one compiled loop over the masks in memory (Adam 2e-3,
    batches of 128, the masks shuffled each epoch by a generator seeded with `seed`): the same
    steps as Keras' ``fit`` without its per-call set-up: 0.3 s a call here against 1.0-1.5 s with
    ``fit`` (docs/results/2026-12-08-demo-speed.md).
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
        self._train = self._build_training()

    def _build_training(self):
        model, optimizer = self.model, self.model.optimizer
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        variables = model.trainable_variables

        @tf.function(input_signature=[tf.TensorSpec((None, *model.input_shape[1:]), tf.float32),
                                      tf.TensorSpec((None,), tf.int32), tf.TensorSpec((None, None), tf.int32)])
        def train(x, labels, batches):
            """One optimizer step per row of `batches` (indices into x, -1 pads the last batch of an epoch)."""
            for i in tf.range(tf.shape(batches)[0]):
                rows = tf.boolean_mask(batches[i], batches[i] >= 0)
                with tf.GradientTape() as tape:
                    value = loss(tf.gather(labels, rows), model(tf.gather(x, rows), training=True))
                optimizer.apply_gradients(zip(tape.gradient(value, variables), variables))
        return train

    def _batches(self, n: int) -> np.ndarray:
        """(steps, 128) indices of `epochs` shuffled passes over n masks, each epoch's last batch padded with -1."""
        rng, per_epoch = np.random.default_rng(self.seed), -(-n // BATCH)
        rows = []
        for _ in range(self.epochs):
            order = np.full(per_epoch * BATCH, -1, np.int32)
            order[:n] = rng.permutation(n)
            rows.append(order.reshape(per_epoch, BATCH))
        return np.concatenate(rows)

    def predict(self, train_masks, train_labels, test_masks, repeat: int = 1) -> np.ndarray:
        """Classes of `test_masks` after training on the training masks for `epochs` epochs.

        With `repeat` > 1 each epoch passes over the training masks `repeat` times (shuffled
        together): the same number of steps as `repeat` times more epochs on a few masks, without
        the per-epoch overhead.
        """
        keras.utils.set_random_seed(self.seed)   # what runs after a probe draws the same numbers, however it trained
        for v, value in zip(self.variables, self.initial):
            v.assign(value)
        x = np.tile(train_masks[..., None].astype(np.float32), (repeat, 1, 1, 1))
        self._train(x, np.tile(np.asarray(train_labels, np.int32), repeat), self._batches(len(x)))
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
