"""Seeker networks: classifiers of (masked) images, returning logits."""
from __future__ import annotations

import keras
from keras import layers


def _conv_seeker(image_shape, num_classes, filters, name):
    inputs = keras.Input(image_shape, name="image")
    x = inputs
    for i, f in enumerate(filters, 1):
        x = layers.Conv2D(f, 4, strides=2, padding="same", activation="relu", name=f"seeker_conv{i}")(x)
    x = layers.Flatten(name="seeker_flatten")(x)
    x = layers.Dense(num_classes, name="seeker_logits", dtype="float32")(x)
    return keras.Model(inputs, x, name=name)


def seeker_small(image_shape, num_classes: int) -> keras.Model:
    """Conv 32, 64, 128 (4x4, stride 2, ReLU) -> Flatten -> Dense(num_classes) logits."""
    return _conv_seeker(image_shape, num_classes, (32, 64, 128), "seeker_small")


def seeker_large(image_shape, num_classes: int) -> keras.Model:
    """Conv 32, 64, 128, 256, 256 (4x4, stride 2, ReLU) -> Flatten -> Dense(num_classes) logits."""
    return _conv_seeker(image_shape, num_classes, (32, 64, 128, 256, 256), "seeker_large")


def seeker_resnet(image_shape, num_classes: int) -> keras.Model:
    """ResNet50 without its top, randomly initialised (never weights from a hub), global average
    pooling, Dense(num_classes) logits."""
    inputs = keras.Input(image_shape, name="image")
    backbone = keras.applications.ResNet50(include_top=False, weights=None, input_shape=tuple(image_shape),
                                           pooling="avg", name="seeker_resnet50")
    x = backbone(inputs)
    x = layers.Dense(num_classes, name="seeker_logits", dtype="float32")(x)
    return keras.Model(inputs, x, name="seeker_resnet")


def build_seeker(model: str, image_shape, num_classes: int) -> keras.Model:
    builder = {"small": seeker_small, "large": seeker_large, "resnet": seeker_resnet}[model]
    return builder(tuple(image_shape), num_classes)
