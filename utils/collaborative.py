"""Building and training a Hide-and-Seek model (the logic behind collaborative_training.py)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import keras

from networks.binary import build_neuron
from networks.hider import build_hider
from networks.hns import HideAndSeek
from networks.seeker import build_seeker
from utils.callbacks import AdaptiveAlpha, MaskImages, SlopeAnnealing, StopOnNonFinite
from utils.config import Config, as_dict
from utils.data import Data, pipeline, to_float
from utils.errors import RunError
from utils.paths import RunPaths
from utils.training import fit_verbosity, tensorboard
from utils.weights import load_weights, save_weights


def build_hns(cfg: Config, image_shape, num_classes: int, baseline: float | None = None,
              seed: int | None = None) -> HideAndSeek:
    """The HnS model of `cfg`, compiled, initialised from --hider_weights / --seeker_weights.

    The hider's last layer (``hider_logits``) of an autoencoder has as many outputs as input
    channels and the mask has one: on colour data that one layer keeps its initial values,
    and a notice says so. Any other layer that does not fit is an error.
    """
    hider = build_hider(cfg.model, image_shape, out_channels=1, logits=True)
    seeker = build_seeker(cfg.model, image_shape, num_classes)
    if cfg.hider_weights:
        for notice in load_weights(hider, cfg.hider_weights, may_differ=("hider_logits",)):
            print(f"note: hider layer {notice}: it keeps its initial values")
    if cfg.seeker_weights:
        load_weights(seeker, cfg.seeker_weights)
    neuron = build_neuron(cfg.stochastic, cfg.estimator, seed=cfg.seed if seed is None else seed)
    model = HideAndSeek(hider, seeker, neuron, alpha=1.0 if cfg.alpha is None else cfg.alpha,
                        logit_bound=cfg.logit_bound, logit_penalty=cfg.logit_penalty, baseline=baseline,
                        foreground_threshold=cfg.foreground_threshold, name="hide_and_seek")
    model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate))
    model.build((None, *image_shape))
    return model


@dataclass
class TrainingResult:
    model: HideAndSeek
    paths: RunPaths
    history: dict
    alpha_history: list = field(default_factory=list)
    seconds: float = 0.0
    images_per_second: float = 0.0


def hparams(cfg: Config) -> dict:
    keys = ("model", "stochastic", "estimator", "rate", "alpha", "patience", "monitor", "batch_size",
            "learning_rate", "logit_bound", "logit_penalty", "seed")
    d = as_dict(cfg)
    return {k: ("adaptive" if d[k] is None else d[k]) for k in keys}


def train_hns(cfg: Config, data: Data, paths: RunPaths, baseline: float | None = None,
              seed: int | None = None) -> TrainingResult:
    """Train one HnS model; write per-alpha and final weights and TensorBoard logs to `paths`."""
    seed = cfg.seed if seed is None else seed
    model = build_hns(cfg, data.image_shape, data.num_classes, baseline, seed)
    train = pipeline(data.train, cfg.batch_size, shuffle=True, seed=seed)
    val = pipeline(data.val, cfg.batch_size)
    guard = StopOnNonFinite()
    callbacks = [guard]
    adaptive = None
    if cfg.alpha is None:
        adaptive = AdaptiveAlpha(cfg.patience, cfg.min_delta, cfg.monitor, cfg.alpha_step, cfg.min_alpha,
                                 weights_dir=None if cfg.debug else paths.weights, verbose=not cfg.quiet)
        callbacks.append(adaptive)
    if cfg.stochastic and cfg.estimator == "sa":
        callbacks.append(SlopeAnnealing(model.neuron, cfg.rate))
    if not cfg.debug:
        from tensorboard.plugins.hparams import api as hp

        paths.make()
        callbacks += [tensorboard(paths), MaskImages(paths.logs / "images", to_float(data.val.x[:8])),
                      hp.KerasCallback(str(paths.logs / "hparams"), hparams(cfg))]
    start = time.perf_counter()
    history = model.fit(train, validation_data=val, epochs=cfg.max_epochs, callbacks=callbacks,
                        verbose=fit_verbosity(cfg))
    seconds = time.perf_counter() - start
    if guard.failed:
        raise RunError(f"training stopped: {guard.failed}; checkpoints saved so far are kept in "
                       f"{paths.weights}. Lower --learning_rate or raise --alpha and retry")
    if not cfg.debug:
        save_weights(model, paths.weights / "final.weights.h5")
    epochs = len(history.history.get("loss", []))
    return TrainingResult(model, paths, history.history, adaptive.history if adaptive else [], seconds,
                          epochs * len(data.train) / max(seconds, 1e-9))


def checkpoints(weights_dir: Path) -> list[Path]:
    """The per-alpha checkpoints of a run, highest alpha first, then final.weights.h5."""
    weights_dir = Path(weights_dir)
    per_alpha = sorted(weights_dir.glob("alpha_*.weights.h5"), key=lambda p: -float(p.name[6:10]))
    final = weights_dir / "final.weights.h5"
    return per_alpha + ([final] if final.is_file() else [])
