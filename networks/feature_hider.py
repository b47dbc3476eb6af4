"""A hider that reads the seeker's features (``--hider_features frozen`` or ``live``).

The amortised maskers that work on natural images do not learn to see from scratch: they read the
classifier's own features. Dabkowski & Gal 2017 ("Real time image saliency for black box
classifiers", NeurIPS) build the masking model on the classifier's encoder, frozen, with a U-Net
upsampler; Phang, Park & Geras 2020 ("Investigating and simplifying masking-based saliency methods
for model interpretability", arXiv:2010.09750; ``casme/archs.py`` Masker) read the last two stages of
the classifier being trained, each through a 1x1 convolution.

For a seeker of N stages that each halve the image (``seeker_conv1..N``, `networks.seeker`: 4x4 convolutions
of stride 2 in the small and large seekers, a 3x3 convolution and 2x2 max pooling in the pooling seeker)
and an unmasked image x of H x W pixels, with f_i the output of stage i (H / 2^i pixels per side,
rounded up as 'same' padding does):

    p_i = relu(conv1x1_i(f_i))                                           (hider_feat<i>)
    d_N = p_N
    d_i = relu(conv3x3([up2(d_{i+1}), p_i]))        for i = N-1 .. 1     (hider_upconv<N-i>)
    d_0 = relu(conv3x3([up2(d_1), x]))                                   (hider_upconv<N>)
    e_j = relu(conv3x3(e_{j-1})), e_0 = d_0          for j = 1 .. L      (hider_head<j>, L = ``head_layers``)
    h   = conv1x1(e_L)                                                   (hider_logits: float32, one channel)

up2 is nearest-neighbour upsampling by 2, cropped by one row or column where the finer stage is odd;
[a, b] is concatenation along the channels. The image itself enters the last stage, as in the ``unet``
decoder of `networks.hider`, so that the mask can follow single pixels. Without head layers (L = 0) one
3x3 convolution decides every pixel from the image and from features that are constant over each 2 x 2
block (up2), so a stroke and the unlit pixel beside it in one block are told apart by that layer alone;
the L head layers give the decision more depth and a (2L + 3)-pixel field at full resolution. As every
hider it ends in one channel of logits, optionally averaged over the cells of ``mask_grid``
(`networks.hider.grid_head`).

Where f_i comes from (``features``):

- ``frozen`` (Dabkowski & Gal): a copy of the seeker's stages (``hider_enc_conv<i>``, each of its stage's
  class and config) holding the pretrained seeker's weights when the hider is built, non-trainable. It
  belongs to the hider, so its weights travel in the hider's and the HnS weights files, and never change
  while the co-trained seeker goes on learning.
- ``live`` (Phang et al.): the co-trained seeker's own convolutions, with stop_gradient(f_i): the
  hider's loss never reaches the seeker through them, the seeker learns only from its own terms.
  The hider holds no reference Keras tracks (`SeekerFeatures`), so the seeker's weights are the
  seeker's alone: trained once, and written once to a weights file (under the hider's path, where the
  files have always held them).
"""
from __future__ import annotations

import math

import keras
from keras import layers, ops

from networks.hider import grid_head

FEATURE_WIDTH = {"small": 16, "large": 32}  # channels of each projection and decoder stage


def seeker_convs(seeker: keras.Model) -> list:
    """The seeker's stages, ``seeker_conv1..N`` in order (small, large and pooling seekers only)."""
    convs = [layer for layer in seeker.layers if layer.name.startswith("seeker_conv")]
    if not convs:
        raise ValueError(f"{seeker.name} has no seeker_conv layers: the feature hider reads the small, large or "
                         "pooling seeker only")
    return sorted(convs, key=lambda layer: int(layer.name.removeprefix("seeker_conv")))


class ReadOnly:
    """Layers another model owns, held in a plain object: Keras tracks the layers, variables, metrics and seed
    generators set as a layer's attributes, and the lists, tuples and dicts of them, but not a plain object, so a
    layer holding this one neither owns, saves nor trains the layers inside."""

    def __init__(self, layers_read):
        self.layers = tuple(layers_read)


class SeekerFeatures(layers.Layer):
    """The outputs of the seeker's convolutions on the image, each behind stop_gradient (``live``).

    The convolutions are read, not owned (`ReadOnly`): this layer holds no variables, and the seeker's are trained
    once, as the seeker's.
    """

    def __init__(self, convs, **kwargs):
        super().__init__(**kwargs)
        self.stages = ReadOnly(convs)

    @property
    def _convs(self) -> tuple:
        """The convolutions where Keras' weights files have always found them: saving and loading walk a layer's
        attributes, and the first path to reach a layer holds its weights, so a HideAndSeek file holds the
        seeker's stages once, under this layer (the walk reaches the hider before the seeker)."""
        return self.stages.layers

    def call(self, x):
        features = []
        for conv in self.stages.layers:
            x = conv(x)
            features.append(ops.stop_gradient(x))
        return features

    def compute_output_spec(self, x):
        features = []
        for conv in self.stages.layers:
            x = conv.compute_output_spec(x)
            features.append(x)
        return features


def _stage_sizes(size: int, stages: int) -> list[int]:
    """Side of each stage's output, finest (the image) first: 'same' padding of stride 2 rounds up."""
    sizes = [size]
    for _ in range(stages):
        sizes.append(math.ceil(sizes[-1] / 2))
    return sizes


def _up(x, i: int, size_from: int, size_to: int):
    x = layers.UpSampling2D(2, interpolation="nearest", name=f"hider_resize{i}")(x)
    extra = 2 * size_from - size_to
    return layers.Cropping2D(((0, extra), (0, extra)), name=f"hider_crop{i}")(x) if extra else x


def build_feature_hider(seeker: keras.Model, image_shape, features: str, width: int = 16,
                        mask_grid=None, head_layers: int = 0) -> keras.Model:
    """The hider of the module docstring on `seeker`'s convolutions, `features` 'frozen' or 'live'.

    With 'frozen' the copy takes `seeker`'s weights as they are now: load the pretrained seeker first.
    `width`: channels of each projection and decoder stage; `head_layers`: the L of the module docstring.
    Square images only (as the data pipeline's).
    """
    if features not in ("frozen", "live"):
        raise ValueError(f"features must be 'frozen' or 'live', got {features!r}")
    convs = seeker_convs(seeker)
    inputs = keras.Input(tuple(image_shape), name="image")
    if features == "live":
        maps = SeekerFeatures(convs, name="hider_seeker_features")(inputs)
    else:
        maps, x = [], inputs
        for i, conv in enumerate(convs, 1):
            # the stage's own class and settings: a strided convolution or a convolution with pooling
            copy = type(conv).from_config({**conv.get_config(), "name": f"hider_enc_conv{i}", "trainable": False})
            x = copy(x)
            copy.set_weights(conv.get_weights())
            maps.append(x)
    projected = [layers.Conv2D(width, 1, activation="relu", name=f"hider_feat{i}")(f)
                 for i, f in enumerate(maps, 1)]
    sizes = _stage_sizes(image_shape[0], len(convs))
    x = projected[-1]
    skips = [inputs, *projected[:-1]]  # finest first
    for j, stage in enumerate(range(len(convs), 0, -1), 1):
        x = _up(x, j, sizes[stage], sizes[stage - 1])
        x = layers.Concatenate(name=f"hider_skip{j}")([x, skips[stage - 1]])
        x = layers.Conv2D(width, 3, padding="same", activation="relu", name=f"hider_upconv{j}")(x)
    for k in range(1, head_layers + 1):
        x = layers.Conv2D(width, 3, padding="same", activation="relu", name=f"hider_head{k}")(x)
    x = layers.Conv2D(1, 1, name="hider_logits", dtype="float32")(x)
    x = grid_head(x, image_shape[0], mask_grid)
    return keras.Model(inputs, x, name=f"hider_features_{features}")


def live_recipe(hider: keras.Model) -> dict | None:
    """The `build_feature_hider` arguments (but the seeker) that rebuild `hider`, if it is a ``live`` feature
    hider; else None.

    A live hider reads another model's convolutions (`SeekerFeatures`), which Keras cannot serialise as a
    part of the hider: `networks.hns.HideAndSeek.get_config` stores this recipe instead, and ``from_config``
    rebuilds the hider on the restored seeker. Everything is read from the hider's own layers.
    """
    names = {layer.name: layer for layer in hider.layers}
    if "hider_seeker_features" not in names:
        return None
    image_shape = [int(d) for d in hider.input_shape[1:]]
    pool = names.get("hider_grid_pool")
    return {"image_shape": image_shape, "features": "live", "width": int(names["hider_feat1"].filters),
            "mask_grid": None if pool is None else image_shape[0] // int(pool.pool_size[0]),
            "head_layers": sum(name.startswith("hider_head") for name in names)}
