"""A Config turned into the explicit arguments of the library functions, at the edge: the scripts and the
pipeline modules call these, the library never sees a Config."""
from __future__ import annotations

from functools import partial

from networks.term_keys import KEYS as TERM_KEYS
from utils.config.checks import origin
from utils.explainers.choices import LEARNING_RATES


def data_arguments(cfg) -> dict:
    """`utils.data.load_data` keyword arguments of a configuration."""
    return dict(dataset=cfg.dataset, image_size=cfg.image_size, channels=cfg.channels, seed=cfg.seed,
                train_images=cfg.train_images, test_images=cfg.test_images, validation_split=cfg.validation_split,
                num_classes=cfg.num_classes, data_dir=cfg.data_dir, origin=partial(origin, cfg))


def hns_arguments(cfg, seed: int | None = None, start_weights: bool = True) -> dict:
    """`networks.build.build_hns` keyword arguments of a configuration (`seed` default: cfg.seed); with
    `start_weights`, the --hider_weights / --seeker_weights to start from; the objective terms' keys as they are
    (`networks.term_keys.KEYS`)."""
    return dict(model=cfg.model, seeker_model=cfg.seeker_architecture, decoder=cfg.hider_decoder,
                mask_grid=cfg.mask_grid, stochastic=cfg.stochastic, estimator=cfg.estimator,
                learning_rate=cfg.learning_rate, steps_per_execution=cfg.steps_per_execution,
                hider_weights=cfg.hider_weights if start_weights else None,
                seeker_weights=cfg.seeker_weights if start_weights else None,
                seed=cfg.seed if seed is None else seed, alpha=1.0 if cfg.alpha is None else cfg.alpha,
                foreground_threshold=cfg.foreground_threshold, seeker_training=cfg.seeker_training,
                min_keep_rate=cfg.evalx_min_rate, random_mask_grid=cfg.evalx_grid,
                mask_mode=cfg.mask_mode, start_budget=cfg.start_budget,
                hider_features=cfg.hider_features, hider_head_layers=cfg.hider_head_layers,
                mask_infill=cfg.mask_infill, **{name: getattr(cfg, name) for name in TERM_KEYS})


def method_learning_rate(cfg, method: str) -> float:
    """The learning rate of `method`: a typed --learning_rate, else the method's own
    (`utils.explainers.choices.LEARNING_RATES`; the preset's is Adam's, not the method's)."""
    return cfg.learning_rate if "learning_rate" in cfg.typed else LEARNING_RATES[method.split("-")[0]]


def cem_arguments(cfg, **overrides) -> dict:
    """`ContrastiveExplainer` keyword arguments of a configuration (its defaults: CEM's MNIST settings)."""
    settings = dict(kappa=cfg.kappa, beta=cfg.beta, gamma=0.0 if cfg.no_ae else cfg.gamma, c_init=cfg.c_init,
                    c_steps=cfg.c_steps, max_iterations=cfg.max_iterations,
                    learning_rate_init=method_learning_rate(cfg, "cem"), patience=cfg.cem_patience,
                    c_tolerance=cfg.c_tolerance)
    if cfg.save_every is not None:
        settings["save_every"] = cfg.save_every
    return {**settings, **overrides}


def explainer_arguments(cfg, method: str) -> dict:
    """`utils.explainers.factory.build_explainer` keyword arguments of a configuration for `method`."""
    family = method.split("-")[0]
    if family == "cem":
        return cem_arguments(cfg)
    if family in ("fido", "bbmp"):
        return dict(infiller=cfg.infiller, image_size=cfg.image_size, grid=cfg.grid, temperature=cfg.temperature,
                    num_samples=cfg.num_samples, reg_coef=cfg.reg_coef, reg_ramp=cfg.reg_ramp,
                    learning_rate=method_learning_rate(cfg, method), epochs=cfg.epochs, seed=cfg.seed)
    if method == "occlusion":
        return dict(patch=cfg.patch, stride=cfg.stride, value=cfg.baseline_value, seed=cfg.seed)
    if method == "sobel":  # model-free, nothing to set
        return {}
    return dict(steps=cfg.steps, baseline=cfg.baseline_value, samples=cfg.noise_samples, noise=cfg.noise_std,
                seed=cfg.seed)


def fit_arguments(cfg) -> dict:
    """`utils.training.loop.fit_run` keyword arguments of a configuration."""
    return dict(max_epochs=cfg.max_epochs, debug=cfg.debug, quiet=cfg.quiet)
