"""Models of a configuration, built and initialised from weights files (training and evaluation alike)."""
from __future__ import annotations

import keras

from networks.binary import build_neuron
from networks.budget import TopKNeuron
from networks.hider import build_hider
from networks.hns import HideAndSeek
from networks.seeker import build_seeker
from networks.weights import load_weights


def build_hns(cfg, image_shape, num_classes: int, baseline: float | None = None, seed: int | None = None,
              start_weights: bool = True) -> HideAndSeek:
    """The HnS model of `cfg`, compiled; with `start_weights`, from --hider_weights / --seeker_weights.

    The hider's last layer (``hider_logits``) of an autoencoder has as many outputs as input
    channels and the mask has one: on colour data that one layer keeps its initial values,
    and a notice says so. Any other layer that does not fit is an error.
    """
    topk = cfg.mask_mode == "topk"
    # A top-k mask picks whole cells itself (networks.budget); the hider's grid smoothing is for thresholds.
    hider = build_hider(cfg.model, image_shape, out_channels=1, logits=True, decoder=cfg.hider_decoder,
                        mask_grid=None if topk else cfg.mask_grid)
    seeker = build_seeker(cfg.model, image_shape, num_classes)
    if start_weights and cfg.hider_weights:
        for notice in load_weights(hider, cfg.hider_weights, may_differ=("hider_logits",)):
            print(f"note: hider layer {notice}: it keeps its initial values")
    if start_weights and cfg.seeker_weights:
        load_weights(seeker, cfg.seeker_weights)
    seed = cfg.seed if seed is None else seed
    neuron = (TopKNeuron(cfg.start_budget, grid=cfg.mask_grid, name="binary_neuron", dtype="float32") if topk
              else build_neuron(cfg.stochastic, cfg.estimator, seed=seed))
    model = HideAndSeek(hider, seeker, neuron, alpha=1.0 if cfg.alpha is None else cfg.alpha,
                        logit_bound=cfg.logit_bound, logit_penalty=cfg.logit_penalty, baseline=baseline,
                        foreground_threshold=cfg.foreground_threshold,
                        steps_per_execution=cfg.steps_per_execution, seeker_training=cfg.seeker_training,
                        random_mask_rate=cfg.evalx_min_rate, random_mask_grid=cfg.evalx_grid,
                        mask_smoothness=cfg.mask_smoothness, seed=seed,
                        name="hide_and_seek",
                        dtype="float32")  # masks and losses in float32 (utils.training.precision)
    model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate), steps_per_execution=cfg.steps_per_execution)
    model.build((None, *image_shape))
    return model


def load_seeker(model: str, image_shape, num_classes: int, path) -> keras.Model:
    """A seeker with the weights of `path` (a UsageError if they do not fit)."""
    seeker = build_seeker(model, image_shape, num_classes)
    load_weights(seeker, path)
    return seeker


def load_autoencoder(model: str, image_shape, path, decoder: str = "transpose") -> keras.Model:
    """The pretrained hider autoencoder (sigmoid output, as many channels as the input)."""
    autoencoder = build_hider(model, image_shape, out_channels=image_shape[-1], decoder=decoder)
    load_weights(autoencoder, path)
    return autoencoder
