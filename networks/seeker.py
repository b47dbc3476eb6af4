"""Seeker networks: classifiers of (masked) images, returning logits."""
from __future__ import annotations

import keras
from keras import layers, ops


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


@keras.saving.register_keras_serializable(package="hns")
class PooledConv2D(layers.Conv2D):
    """A convolution followed by max pooling, as one stage: y = maxpool_p(act(conv(x))), p x p windows of
    stride p, 'same' padding (so a side of n pixels becomes ceil(n / p)).

    One layer per stage, so that a pooling seeker's stages are read as the strided ones are: each
    ``seeker_conv<i>`` maps the previous stage's output to the next (`networks.feature_hider`), and a copy
    made from its config is the same stage. Its variables are the convolution's.
    """

    def __init__(self, *args, pool_size: int = 2, **kwargs):
        super().__init__(*args, **kwargs)
        self.pool_size = int(pool_size)

    def call(self, inputs):
        return ops.max_pool(super().call(inputs), self.pool_size, self.pool_size, padding="same")

    def compute_output_shape(self, input_shape):
        batch, h, w, c = super().compute_output_shape(input_shape)
        p = self.pool_size
        return batch, None if h is None else -(-h // p), None if w is None else -(-w // p), c

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size}


def seeker_pooling(image_shape, num_classes: int) -> keras.Model:
    """A seeker that reads the object wherever it is: stages of a 3x3 convolution and 2x2 max pooling, then
    global max pooling before the logits,

        f_0 = x,   f_i = maxpool_2(relu(conv3x3_i(f_{i-1})))   i = 1, 2, 3; 32, 64, 128 filters  (seeker_conv<i>)
        z_c = max_{u,v} f_3[u, v, c]                                                          (seeker_global_pool)
        logits = W z + b                                                                      (seeker_logits)

    The small and large seekers end in Flatten + Dense, whose weights differ at every position, so a
    small object must be learnt anew at every place it can appear; here the convolutions are shared
    over positions and the maximum over them forgets where the detector fired, so one detector serves
    the whole image and any image size. Global pooling before the logits follows Lin, Chen & Yan 2014
    ("Network in Network", ICLR: global average pooling) and its maximum Oquab, Bottou, Laptev & Sivic
    2015 ("Is object localization for free? Weakly-supervised learning with convolutional neural
    networks", CVPR: global max pooling, which scores an object by its best place). Stage i is H / 2^i
    pixels per side (rounded up), as the small seeker's, so the hider of `networks.feature_hider` reads
    it the same way.
    """
    inputs = keras.Input(image_shape, name="image")
    x = inputs
    for i, f in enumerate((32, 64, 128), 1):
        x = PooledConv2D(f, 3, padding="same", activation="relu", pool_size=2, name=f"seeker_conv{i}")(x)
    x = layers.GlobalMaxPooling2D(name="seeker_global_pool")(x)
    x = layers.Dense(num_classes, name="seeker_logits", dtype="float32")(x)
    return keras.Model(inputs, x, name="seeker_pooling")


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
    """The seeker `model` (`networks.choices.SEEKER_MODELS`) for images of `image_shape`, `num_classes` logits."""
    builder = {"small": seeker_small, "large": seeker_large, "resnet": seeker_resnet, "pooling": seeker_pooling}[model]
    return builder(tuple(image_shape), num_classes)
