"""In-fillers: what replaces the pixels a mask drops (FIDO's G, also used by the faithfulness metrics).

With a keep mask z in [0, 1] (1 = observed) of shape (n, H, W, 1), the in-filled input is
(`networks.infill.infill`, with the base `Infiller` and `Zero`)

    x~ = x * z + (1 - z) * G(x, round(z))

As in FIDO's code, G sees the rounded mask and carries no gradient: the gradient reaches z
through the blend only. Every in-filler is a callable ``G(x, z, seeds, iteration)`` on batches;
`seeds` and `iteration` draw the per-image noise of the random one (see
`utils.explainers.base.per_image_uniform`).

=============  ======================================================================
name           G(x, z)
=============  ======================================================================
zero           0
mean           the data set's mean, per channel (`fit` on training images)
local-mean     the mean of the observed pixels in a window w x w around each pixel:
               box_w(x * z) / box_w(z), and the data set's mean where the window
               holds no observed pixel (FIDO: 15 x 15 at 224 pixels; scaled:
               `default_window`)
blur           Gaussian blur of x with standard deviation sigma, normalised at the
               borders: blur(x) / blur(1), so a constant image stays constant (FIDO:
               sigma 10 at 224 pixels; scaled: `default_sigma`)
noise          a random colour c ~ U(0, 1)^C per image plus N(0, 0.2^2) noise per
               element, clipped to [0, 1] (FIDO's RandomColorWithNoise)
autoencoder    AE(x * z): an autoencoder (the pretrained hider, or any model whose output
               has its input's shape) reconstructs the image from the observed pixels;
               it plays the role of FIDO's generative in-filler
=============  ======================================================================
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from networks.infill import Infiller, Zero, infill
from utils.config.schema import INFILLERS
from utils.explainers.base import per_image_normal, per_image_uniform

# FIDO's settings for 224-pixel images, scaled to the image size.
FIDO_SIZE, FIDO_WINDOW, FIDO_SIGMA = 224, 15, 10.0


def default_window(image_size: int) -> int:
    """FIDO's 15 x 15 window at 224 pixels, scaled to `image_size` and made odd (at least 3)."""
    w = max(3, int(round(FIDO_WINDOW * image_size / FIDO_SIZE)))
    return w if w % 2 else w + 1


def default_sigma(image_size: int) -> float:
    """FIDO's blur sigma (10 at 224 pixels), scaled to `image_size`."""
    return FIDO_SIGMA * image_size / FIDO_SIZE


class Mean(Infiller):
    """The data set's mean colour. `mean`: one value per channel (or one for all)."""

    name = "mean"

    def __init__(self, mean):
        self.mean = np.atleast_1d(np.asarray(mean, np.float32))

    @classmethod
    def fit(cls, images):
        """The per-channel mean of training images (n, H, W, C) in [0, 1]."""
        return cls(np.asarray(images, np.float32).mean(axis=(0, 1, 2)))

    def __call__(self, x, z, seeds=None, iteration=0):
        return tf.zeros_like(x) + tf.constant(self.mean)

    def settings(self) -> dict:
        return {"infiller": self.name, "mean": self.mean.tolist()}


def _box(x, window: int):
    """Sum over a window x window box around each pixel (zero outside the image), per channel."""
    kernel = tf.ones((window, window, x.shape[-1], 1), x.dtype)
    return tf.nn.depthwise_conv2d(x, kernel, [1, 1, 1, 1], "SAME")


class LocalMean(Infiller):
    name = "local-mean"

    def __init__(self, window: int, mean=0.0):
        if window < 1 or window % 2 == 0:
            raise ValueError(f"the local-mean window must be an odd number of pixels >= 1, got {window}")
        self.window, self.mean = int(window), np.atleast_1d(np.asarray(mean, np.float32))

    def __call__(self, x, z, seeds=None, iteration=0):
        z = tf.broadcast_to(z, tf.shape(x))
        total, count = _box(x * z, self.window), _box(z, self.window)
        fallback = tf.zeros_like(x) + tf.constant(self.mean)
        return tf.where(count > 0.5, total / tf.maximum(count, 1.0), fallback)

    def settings(self) -> dict:
        return {"infiller": self.name, "window": self.window, "mean": self.mean.tolist()}


class Blur(Infiller):
    name = "blur"

    def __init__(self, sigma: float):
        if not sigma > 0:
            raise ValueError(f"the blur sigma must be > 0, got {sigma}")
        self.sigma = float(sigma)
        radius = max(1, int(np.ceil(3 * self.sigma)))
        t = np.arange(-radius, radius + 1, dtype=np.float32)
        g = np.exp(-0.5 * (t / self.sigma) ** 2)
        self.taps = (g / g.sum()).astype(np.float32)

    def _blur(self, x):
        channels = x.shape[-1]
        k = tf.constant(self.taps)
        rows = tf.tile(tf.reshape(k, (-1, 1, 1, 1)), [1, 1, channels, 1])
        cols = tf.tile(tf.reshape(k, (1, -1, 1, 1)), [1, 1, channels, 1])
        x = tf.nn.depthwise_conv2d(x, rows, [1, 1, 1, 1], "SAME")
        return tf.nn.depthwise_conv2d(x, cols, [1, 1, 1, 1], "SAME")

    def __call__(self, x, z, seeds=None, iteration=0):
        return self._blur(x) / self._blur(tf.ones_like(x[:1]))

    def settings(self) -> dict:
        return {"infiller": self.name, "sigma": self.sigma}


class Noise(Infiller):
    name = "noise"

    def __init__(self, std: float = 0.2):
        self.std = float(std)

    def __call__(self, x, z, seeds=None, iteration=0):
        n = tf.shape(x)[0]
        if seeds is None:
            seeds = tf.range(n, dtype=tf.int32)
        shape = x.shape[1:]
        colour = per_image_uniform(seeds, iteration, (1, 1, shape[-1]), stream=1)  # not the sampler's stream 0
        noise = per_image_normal(seeds, iteration, shape, stream=2)
        return tf.clip_by_value(colour + self.std * noise, 0.0, 1.0)

    def settings(self) -> dict:
        return {"infiller": self.name, "std": self.std}


class Autoencoder(Infiller):
    name = "autoencoder"

    def __init__(self, model):
        if not callable(model):
            raise ValueError("the autoencoder in-filler needs a Keras model whose output has its input's shape")
        self.model = model

    def __call__(self, x, z, seeds=None, iteration=0):
        return tf.cast(self.model(x * z, training=False), x.dtype)


def build_infiller(name: str, image_size: int, train_images=None, autoencoder=None) -> Infiller:
    """The in-filler `name` with FIDO's settings scaled to `image_size`; `train_images` give the mean."""
    if name not in INFILLERS:
        raise ValueError(f"unknown in-filler {name!r}; choose one of {', '.join(INFILLERS)}")
    def mean():
        return Mean.fit(train_images).mean if train_images is not None else np.zeros(1, np.float32)

    if name == "zero":
        return Zero()
    if name == "mean":
        return Mean(mean())
    if name == "local-mean":
        return LocalMean(default_window(image_size), mean())
    if name == "blur":
        return Blur(default_sigma(image_size))
    if name == "noise":
        return Noise()
    if autoencoder is None:
        raise ValueError("the autoencoder in-filler needs an autoencoder (the pretrained hider)")
    return Autoencoder(autoencoder)
