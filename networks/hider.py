"""Hider networks: autoencoder-like, one output value per pixel.

The last layer, ``hider_logits``, is a linear 1x1 convolution. Pretrained as an autoencoder
the hider ends in a sigmoid (``hider_probability``) and has as many output channels as the
input; inside Hide-and-Seek it has one channel and its logits h feed a binary neuron, which
computes p = sigmoid(h) itself. Layers are named so that weights transfer by name.

Three decoders (``decoder``):

- ``transpose`` (the original's): 4x4 transposed convolutions of stride 2. Odd and even output
  pixels are made by different taps of the kernel, which leaves a stride-2 checkerboard in the
  output (Odena et al., Distill 2016): the HnS masks come out as dotted outlines.
- ``resize`` (resize-convolution, Odena et al.): nearest-neighbour upsampling by 2, then a 3x3
  convolution of stride 1: every output pixel sees the same number of taps, no checkerboard.
- ``unet``: resize-convolution whose every stage also sees the encoder's features of the same
  resolution (concatenated skip connections, Ronneberger et al. 2015), the last one the image
  itself. The dense bottleneck stays, but where a stroke is no longer has to pass through it, so
  the mask can follow single pixels. As an autoencoder it can copy its input through the skips;
  its pretraining still starts the layers in a useful range.

A mask on a coarse grid (``mask_grid`` = G cells per side, as FIDO's coarse grid): inside
Hide-and-Seek the logits are averaged over each cell of (size / G)^2 pixels and upsampled back
bilinearly, h_grid = up_bilinear(avgpool(h)), so the binary neuron thresholds a smooth field and
the mask is made of blobs no finer than a cell. The pooling and upsampling have no weights: the
autoencoder is pretrained at full resolution and its weights load into either head.
"""
from __future__ import annotations

import keras
from keras import layers

from networks.choices import DECODERS


def _check_size(image_size: int, multiple: int, name: str) -> None:
    if image_size % multiple or image_size < multiple:
        raise ValueError(f"{name} needs an image size that is a multiple of {multiple}, got {image_size}")


def _upsample(x, filters: int, i: int, decoder: str, skip=None):
    if decoder == "transpose":
        return layers.Conv2DTranspose(filters, 4, strides=2, padding="same", activation="relu",
                                      name=f"hider_deconv{i}")(x)
    x = layers.UpSampling2D(2, interpolation="nearest", name=f"hider_resize{i}")(x)
    if decoder == "unet":
        x = layers.Concatenate(name=f"hider_skip{i}")([x, skip])
    return layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"hider_upconv{i}")(x)


def grid_head(x, size: int, mask_grid=None):
    """The logits `x` averaged over each of `mask_grid` x `mask_grid` cells and upsampled back (module docstring);
    `x` itself without a grid."""
    if mask_grid is None or mask_grid >= size:
        return x
    cell = size // mask_grid
    x = layers.AveragePooling2D(cell, name="hider_grid_pool", dtype="float32")(x)
    return layers.UpSampling2D(cell, interpolation="bilinear", name="hider_grid_up", dtype="float32")(x)


def _hider(image_shape, out_channels, filters_down, filters_up, dense_channels, logits, name,
           decoder="transpose", mask_grid=None):
    size = image_shape[0]
    if decoder not in DECODERS:
        raise ValueError(f"decoder must be one of {DECODERS}, got {decoder!r}")
    if mask_grid is not None and (size % mask_grid or not logits):
        raise ValueError(f"mask_grid {mask_grid} needs mask logits and must divide the image size {size}")
    steps = len(filters_down)
    _check_size(size, 2 ** steps, name)
    inputs = keras.Input(image_shape, name="image")
    x = inputs
    features = [inputs]   # the encoder's output at each resolution, finest first
    for i, f in enumerate(filters_down, 1):
        x = layers.Conv2D(f, 4, strides=2, padding="same", activation="relu", name=f"hider_conv{i}")(x)
        features.append(x)
    x = layers.Flatten(name="hider_flatten")(x)
    x = layers.Dense(size * 5, activation="relu", name="hider_dense1")(x)
    bottom = size // 2 ** steps
    x = layers.Dense(bottom * bottom * dense_channels, activation="relu", name="hider_dense2")(x)
    x = layers.Reshape((bottom, bottom, dense_channels), name="hider_reshape")(x)
    for i, f in enumerate(filters_up, 1):
        x = _upsample(x, f, i, decoder, skip=features[steps - i])
    x = layers.Conv2D(out_channels, 1, name="hider_logits", dtype="float32")(x)
    x = grid_head(x, size, mask_grid)
    if not logits:
        x = layers.Activation("sigmoid", name="hider_probability", dtype="float32")(x)
    return keras.Model(inputs, x, name=name)


def hider_small(image_shape, out_channels: int, logits: bool = False, decoder: str = "transpose",
                mask_grid=None) -> keras.Model:
    """Conv 32, 64 (4x4, stride 2) -> Dense(5 * size) -> Dense((size/4)^2 * 16) ->
    up 8, 4 (see the decoders above) -> Conv 1x1. Image size: a multiple of 4."""
    return _hider(image_shape, out_channels, (32, 64), (8, 4), 16, logits, "hider_small", decoder, mask_grid)


def hider_large(image_shape, out_channels: int, logits: bool = False, decoder: str = "transpose",
                mask_grid=None) -> keras.Model:
    """Conv 32, 64, 128, 256, 256 (4x4, stride 2) -> Dense(5 * size) -> Dense((size/32)^2 * 64)
    -> up 64, 32, 16, 8, 4 -> Conv 1x1. Image size: a multiple of 32."""
    return _hider(image_shape, out_channels, (32, 64, 128, 256, 256), (64, 32, 16, 8, 4), 64, logits,
                  "hider_large", decoder, mask_grid)


def build_hider(model: str, image_shape, out_channels: int, logits: bool = False, decoder: str = "transpose",
                mask_grid=None) -> keras.Model:
    """The hider for a configured `model` ('small' -> hider_small, 'large'/'resnet' -> hider_large)."""
    builder = hider_small if model == "small" else hider_large
    return builder(tuple(image_shape), out_channels, logits, decoder, mask_grid)
