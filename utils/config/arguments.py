"""A Config turned into the explicit arguments of the library functions, at the edge: the scripts and the
pipeline modules call these, the library never sees a Config."""
from __future__ import annotations

from functools import partial

from utils.config.checks import origin


def data_arguments(cfg) -> dict:
    """`utils.data.load_data` keyword arguments of a configuration."""
    return dict(dataset=cfg.dataset, image_size=cfg.image_size, channels=cfg.channels, seed=cfg.seed,
                train_images=cfg.train_images, test_images=cfg.test_images, validation_split=cfg.validation_split,
                num_classes=cfg.num_classes, data_dir=cfg.data_dir, origin=partial(origin, cfg))


def hns_arguments(cfg, seed: int | None = None, start_weights: bool = True) -> dict:
    """`networks.build.build_hns` keyword arguments of a configuration (`seed` default: cfg.seed); with
    `start_weights`, the --hider_weights / --seeker_weights to start from."""
    return dict(model=cfg.model, decoder=cfg.hider_decoder, mask_grid=cfg.mask_grid, stochastic=cfg.stochastic,
                estimator=cfg.estimator, learning_rate=cfg.learning_rate, steps_per_execution=cfg.steps_per_execution,
                hider_weights=cfg.hider_weights if start_weights else None,
                seeker_weights=cfg.seeker_weights if start_weights else None,
                seed=cfg.seed if seed is None else seed, alpha=1.0 if cfg.alpha is None else cfg.alpha,
                logit_bound=cfg.logit_bound, logit_penalty=cfg.logit_penalty,
                foreground_threshold=cfg.foreground_threshold, seeker_training=cfg.seeker_training,
                random_mask_rate=cfg.evalx_min_rate, random_mask_grid=cfg.evalx_grid,
                mask_smoothness=cfg.mask_smoothness, mask_mode=cfg.mask_mode, start_budget=cfg.start_budget)
