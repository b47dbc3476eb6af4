"""Explainers by method name, with the settings of a configuration (explain.py, the faithfulness benchmark)."""
from __future__ import annotations

from utils.explainers.cem import ContrastiveExplainer
from utils.explainers.gradients import GradientExplainer, OcclusionExplainer
from utils.explainers.infillers import build_infiller
from utils.explainers.masks import MaskExplainer

# Each method's own learning rate, used unless --learning_rate was typed (the preset's is Adam's).
LEARNING_RATES = {"cem": 1e-2, "fido": 0.05, "bbmp": 0.05}


def method_learning_rate(cfg, method: str) -> float:
    family = method.split("-")[0]
    return cfg.learning_rate if "learning_rate" in cfg.typed else LEARNING_RATES[family]


def cem_settings(cfg, **overrides) -> dict:
    """`ContrastiveExplainer` keyword arguments from a configuration (its defaults: CEM's MNIST settings)."""
    settings = dict(kappa=cfg.kappa, beta=cfg.beta, gamma=0.0 if cfg.no_ae else cfg.gamma, c_init=cfg.c_init,
                    c_steps=cfg.c_steps, max_iterations=cfg.max_iterations,
                    learning_rate_init=method_learning_rate(cfg, "cem"), patience=cfg.cem_patience,
                    c_tolerance=cfg.c_tolerance)
    if cfg.save_every is not None:
        settings["save_every"] = cfg.save_every
    return {**settings, **overrides}


def build_explainer(cfg, method: str, model, train_images=None, autoencoder=None, progress: bool = False):
    """The explainer of `method` on `model` (logits) with `cfg`'s settings.

    `train_images` (float, in [0, 1]) give the data set's mean for the mean and local-mean in-fillers;
    `autoencoder` is CEM's autoencoder term and the autoencoder in-filler.
    """
    family = method.split("-")[0]
    if family == "cem":
        settings = cem_settings(cfg)
        return ContrastiveExplainer(model, mode=method[-2:].upper(), progress=progress,
                                    autoencoder=autoencoder if settings["gamma"] > 0 else None, **settings)
    if family in ("fido", "bbmp"):
        infiller = build_infiller(cfg.infiller, cfg.image_size, train_images, autoencoder)
        return MaskExplainer(model, objective=method.split("-")[1], stochastic=family == "fido", infiller=infiller,
                             grid=cfg.grid, temperature=cfg.temperature, num_samples=cfg.num_samples,
                             reg_coef=cfg.reg_coef, reg_ramp=cfg.reg_ramp,
                             learning_rate=method_learning_rate(cfg, method), epochs=cfg.epochs, seed=cfg.seed,
                             progress=progress)
    if method == "occlusion":
        return OcclusionExplainer(model, patch=cfg.patch, stride=cfg.stride, value=cfg.baseline_value, seed=cfg.seed)
    return GradientExplainer(model, kind=method, steps=cfg.steps, baseline=cfg.baseline_value,
                             samples=cfg.noise_samples, noise=cfg.noise_std, seed=cfg.seed)
