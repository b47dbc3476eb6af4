"""--mixed_precision: bfloat16 compute, float32 variables, logits, losses and masks.

Under Keras' ``mixed_bfloat16`` policy every layer keeps float32 variables and computes in
bfloat16; the layers that end a network (the seeker's logits, the hider's logits and the
autoencoder's sigmoid) and the binary neuron are built float32 (`networks.seeker`,
`networks.hider`, `networks.binary`), so losses, mask probabilities and the binary mask are float32
as in a full-precision run. Weights files hold float32 variables either way: a model trained in
mixed precision is evaluated and explained in either precision (tests/test_hns.py). bfloat16 has float32's
range, so no loss scaling is needed (float16 on GPUs would need it: not offered).
"""
from __future__ import annotations

import contextlib

import keras


@contextlib.contextmanager
def precision_policy(mixed: bool):
    """Build and train the models made inside in mixed bfloat16 (`mixed`) or float32."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16" if mixed else "float32")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
