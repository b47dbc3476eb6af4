"""The models, built and initialised from weights files (training and evaluation alike).

The functions take explicit arguments; turning a configuration into them is the callers' business
(`utils.config.arguments.hns_arguments`).
"""
from __future__ import annotations

import keras

from networks.binary import build_neuron
from networks.budget import TopKNeuron
from networks.feature_hider import FEATURE_WIDTH, build_feature_hider
from networks.hider import build_hider
from networks.hns import HideAndSeek
from networks.seeker import build_seeker
from networks.weights import load_weights
from utils.errors import UsageError


def build_hns(image_shape, num_classes: int, model: str = "small", seeker_model: str | None = None,
              decoder: str = "transpose", mask_grid=None,
              stochastic: bool = False, estimator: str = "st1", learning_rate: float = 1e-3,
              steps_per_execution: int = 1, hider_weights=None, seeker_weights=None, seed: int | None = None,
              mask_mode: str = "threshold", start_budget: float = 0.5, hider_features: str = "none",
              hider_head_layers: int = 0, seeker: keras.Model | None = None, hider_start=None,
              **hns) -> HideAndSeek:
    """The HnS model, compiled with Adam(`learning_rate`); the hider and seeker from their weights files, if given.

    `model`, `decoder` and `mask_grid` choose the networks (`networks.hider`, `networks.seeker`; the seeker is
    `seeker_model` where given, e.g. 'pooling', else `model`'s),
    `stochastic` and `estimator` the neuron (`networks.binary`), or with `mask_mode` 'topk' a budget of
    `start_budget` (`networks.budget.TopKNeuron`, on cells of `mask_grid`); `seed` seeds the neuron and the
    random masks; `hns` are `HideAndSeek`'s other arguments (alpha, logit_bound, baseline, ...).
    The hider's last layer (``hider_logits``) of an autoencoder has as many outputs as input
    channels and the mask has one: on colour data that one layer keeps its initial values,
    and a notice says so. Any other layer that does not fit is an error.

    `hider_features` 'frozen' or 'live' replaces the hider by one that reads the seeker's features
    (`networks.feature_hider`; `decoder` does not apply), built after the seeker has its weights, so
    that a frozen copy holds those of `seeker_weights`; `hider_head_layers` more full-resolution convolutions
    before its logits.

    `seeker` replaces the built seeker by a classifier the caller already has (a frozen one to explain,
    `utils.stages.amortised`: `seeker_weights` then does not apply); `hider_start` is a Hide-and-Seek weights
    file whose hider's weights the hider starts from (instead of `hider_weights`, an autoencoder's).
    """
    topk = mask_mode == "topk"
    # A top-k mask picks whole cells itself (networks.budget); the hider's grid smoothing is for thresholds.
    grid = None if topk else mask_grid
    if hider_features == "none":
        hider = build_hider(model, image_shape, out_channels=1, logits=True, decoder=decoder, mask_grid=grid)
    elif hider_weights or hider_start:
        raise UsageError(f"{hider_weights or hider_start}: a hider to start from does not fit the hider of "
                         f"--hider_features {hider_features}, built on the seeker's features: drop it")
    own_seeker = seeker is None
    seeker = build_seeker(seeker_model or model, image_shape, num_classes) if own_seeker else seeker
    if hider_start:
        load_weights(hider, hider_start, part=hider.name)
    elif hider_weights:
        for notice in load_weights(hider, hider_weights, may_differ=("hider_logits",)):
            print(f"note: hider layer {notice}: it keeps its initial values")
    if seeker_weights and own_seeker:
        load_weights(seeker, seeker_weights)
    if hider_features != "none":
        hider = build_feature_hider(seeker, image_shape, hider_features, FEATURE_WIDTH[model], mask_grid=grid,
                                    head_layers=hider_head_layers)
    neuron = (TopKNeuron(start_budget, grid=mask_grid, name="binary_neuron", dtype="float32") if topk
              else build_neuron(stochastic, estimator, seed=seed))
    hns_model = HideAndSeek(hider, seeker, neuron, seed=seed, name="hide_and_seek",
                            dtype="float32", **hns)  # masks and losses in float32 (utils.training.precision)
    hns_model.compile(optimizer=keras.optimizers.Adam(learning_rate), steps_per_execution=steps_per_execution)
    hns_model.build((None, *image_shape))
    return hns_model


def load_seeker(model: str, image_shape, num_classes: int, path) -> keras.Model:
    """The seeker `model` (a `networks.seeker.build_seeker` name: a configuration's ``seeker_architecture``)
    with the weights of `path` (a UsageError if they do not fit)."""
    seeker = build_seeker(model, image_shape, num_classes)
    load_weights(seeker, path)
    return seeker


def load_autoencoder(model: str, image_shape, path, decoder: str = "transpose") -> keras.Model:
    """The pretrained hider autoencoder (sigmoid output, as many channels as the input)."""
    autoencoder = build_hider(model, image_shape, out_channels=image_shape[-1], decoder=decoder)
    load_weights(autoencoder, path)
    return autoencoder
