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

# The in-fillers that need no model live in networks.infill, where HideAndSeek can use them.
from networks.infill import (FIDO_SIGMA, FIDO_SIZE, FIDO_WINDOW, Blur, Infiller, LocalMean,  # noqa: F401
                             Mean, Noise, Zero, default_sigma, default_window, infill)
from utils.explainers.choices import INFILLERS


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
