"""EVAL-X (Jethani et al., AISTATS 2021): a classifier trained on randomly masked images, a judge of masks.

For every training image a keep rate r ~ U(min_keep_rate, 1) is drawn, each pixel (or each cell of a
coarse grid, upsampled by nearest neighbour) is kept independently with probability r, and the
rest is in-filled:

    keep_ij ~ Bernoulli(r),   x~ = x * keep + (1 - keep) * G(x, keep),   loss = CE(f(x~), y)

with fresh masks every batch. The masks do not depend on the label, so the evaluator learns to read
any subset of pixels but nothing from the *choice* of subset: judged by it, a mask whose shape
encodes the class gains nothing from that code. The masks come from the model's own seed
generator, whose state is saved with the model, so a resumed training draws the same masks.
Validation uses random masks the same way; `call` classifies the images it is given as they are.
"""
from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from networks.infill import Infiller, Zero, infill


def random_keep(x, seed_generator, min_keep_rate: float = 0.01, grid=None):
    """(n, H, W, 1) masks of the EVAL-X distribution, one keep rate r ~ U(min_keep_rate, 1) per image and
    keep ~ Bernoulli(r) per pixel (or per cell of a `grid` x `grid` grid, upsampled by nearest neighbour)."""
    n, height, width = ops.shape(x)[0], x.shape[1], x.shape[2]
    rate = keras.random.uniform((n, 1, 1, 1), min_keep_rate, 1.0, seed=seed_generator)
    cells = (height, width) if grid is None else (grid, grid)
    u = keras.random.uniform((n, *cells, 1), seed=seed_generator)
    keep = ops.cast(u < rate, x.dtype)
    if grid is not None:
        keep = tf.image.resize(keep, (height, width), method="nearest")
    return keep


@keras.saving.register_keras_serializable("hns")
class RandomMaskClassifier(keras.Model):
    """EVAL-X training of `classifier` (logits) on random masks (see the module docstring).

    Args:
        classifier: the Keras classifier to train (its architecture: the seeker's).
        infiller: an in-filler (`networks.infill`, `utils.explainers.infillers`) for the dropped pixels (default zero).
        min_keep_rate: the smallest keep rate r.
        grid: None to mask pixels, or cells per side of a coarse grid whose cells are masked.
        seed: seed of the masks.
    """

    def __init__(self, classifier, infiller=None, min_keep_rate: float = 0.01, grid=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.classifier, self.infiller = classifier, infiller or Zero()
        self.min_keep_rate, self.grid, self.seed = float(min_keep_rate), grid, seed
        # Named, so that its state has the same path in every process (`utils.training.resume`).
        self.seed_generator = keras.random.SeedGenerator(seed, name="random_masks")
        self.ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.accuracy = keras.metrics.SparseCategoricalAccuracy(name="accuracy")

    def get_config(self):
        return {**super().get_config(), "classifier": keras.saving.serialize_keras_object(self.classifier),
                "infiller": self.infiller.settings(), "min_keep_rate": self.min_keep_rate, "grid": self.grid,
                "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["classifier"] = keras.saving.deserialize_keras_object(config["classifier"])
        config["infiller"] = Infiller.from_settings(config["infiller"])
        return cls(**config)

    def build(self, input_shape):
        self.built = True

    @property
    def metrics(self):
        return [self.loss_tracker, self.accuracy]

    def call(self, x, training=False):
        return self.classifier(x, training=training)

    def random_keep(self, x):
        """(n, H, W, 1) masks, each with its own keep rate r ~ U(min_keep_rate, 1) (`random_keep`)."""
        return random_keep(x, self.seed_generator, self.min_keep_rate, self.grid)

    def _masked(self, x):
        return infill(x, self.random_keep(x), self.infiller)

    def train_step(self, data):
        x, y = data
        x = self._masked(x)
        with tf.GradientTape() as tape:
            logits = self.classifier(x, training=True)
            loss = self.ce(y, logits) / tf.distribute.get_strategy().num_replicas_in_sync
        grads = tape.gradient(loss, self.classifier.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.classifier.trainable_variables))
        return self._update(y, logits, loss)

    def test_step(self, data):
        x, y = data
        logits = self.classifier(self._masked(x), training=False)
        return self._update(y, logits, self.ce(y, logits))

    def _update(self, y, logits, loss):
        self.loss_tracker.update_state(loss)
        self.accuracy.update_state(y, logits)
        return {m.name: m.result() for m in self.metrics}
