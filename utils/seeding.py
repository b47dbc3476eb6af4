"""Reproducibility: one call seeds every generator and makes TensorFlow's ops deterministic."""
from __future__ import annotations

import keras
import tensorflow as tf


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and TF, and make TF ops deterministic, so a CPU run repeats exactly."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
