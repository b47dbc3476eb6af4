"""Hider networks: autoencoder-like, one output value per pixel.

The last layer, ``hider_logits``, is a linear 1x1 convolution. Pretrained as an autoencoder
the hider ends in a sigmoid (``hider_probability``) and has as many output channels as the
input; inside Hide-and-Seek it has one channel and its logits h feed a binary neuron, which
computes p = sigmoid(h) itself. Layers are named so that weights transfer by name.
"""
from __future__ import annotations

import keras
from keras import layers


def _check_size(image_size: int, multiple: int, name: str) -> None:
    if image_size % multiple or image_size < multiple:
        raise ValueError(f"{name} needs an image size that is a multiple of {multiple}, got {image_size}")


def _hider(image_shape, out_channels, filters_down, filters_up, dense_channels, logits, name):
    size = image_shape[0]
    steps = len(filters_down)
    _check_size(size, 2 ** steps, name)
    inputs = keras.Input(image_shape, name="image")
    x = inputs
    for i, f in enumerate(filters_down, 1):
        x = layers.Conv2D(f, 4, strides=2, padding="same", activation="relu", name=f"hider_conv{i}")(x)
    x = layers.Flatten(name="hider_flatten")(x)
    x = layers.Dense(size * 5, activation="relu", name="hider_dense1")(x)
    bottom = size // 2 ** steps
    x = layers.Dense(bottom * bottom * dense_channels, activation="relu", name="hider_dense2")(x)
    x = layers.Reshape((bottom, bottom, dense_channels), name="hider_reshape")(x)
    for i, f in enumerate(filters_up, 1):
        x = layers.Conv2DTranspose(f, 4, strides=2, padding="same", activation="relu",
                                   name=f"hider_deconv{i}")(x)
    x = layers.Conv2D(out_channels, 1, name="hider_logits", dtype="float32")(x)
    if not logits:
        x = layers.Activation("sigmoid", name="hider_probability", dtype="float32")(x)
    return keras.Model(inputs, x, name=name)


def hider_small(image_shape, out_channels: int, logits: bool = False) -> keras.Model:
    """Conv 32, 64 (4x4, stride 2) -> Dense(5 * size) -> Dense((size/4)^2 * 16) ->
    ConvTranspose 8, 4 (4x4, stride 2) -> Conv 1x1. Image size: a multiple of 4."""
    return _hider(image_shape, out_channels, (32, 64), (8, 4), 16, logits, "hider_small")


def hider_large(image_shape, out_channels: int, logits: bool = False) -> keras.Model:
    """Conv 32, 64, 128, 256, 256 (4x4, stride 2) -> Dense(5 * size) -> Dense((size/32)^2 * 64)
    -> ConvTranspose 64, 32, 16, 8, 4 -> Conv 1x1. Image size: a multiple of 32."""
    return _hider(image_shape, out_channels, (32, 64, 128, 256, 256), (64, 32, 16, 8, 4), 64, logits,
                  "hider_large")


def build_hider(model: str, image_shape, out_channels: int, logits: bool = False) -> keras.Model:
    """The hider for a configured `model` ('small' -> hider_small, 'large'/'resnet' -> hider_large)."""
    builder = hider_small if model == "small" else hider_large
    return builder(tuple(image_shape), out_channels, logits)
