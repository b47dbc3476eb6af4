"""Batched, compiled inference over whole arrays: every image exactly once, in order."""
from __future__ import annotations

import weakref

import numpy as np
import tensorflow as tf

_CLASSIFIERS = weakref.WeakKeyDictionary()  # model -> {masked: compiled argmax function}


def as_float_images(x):
    """uint8 images -> float32 in [0, 1]; float images are taken as they are."""
    x = np.asarray(x)
    return x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32, copy=False)


def batched(fn, *arrays, batch_size: int = 256):
    """``fn`` applied to aligned batches of `arrays`; its outputs concatenated.

    `fn` is compiled here unless it is a ``tf.function`` already (compile it once and pass it
    when it is called again and again). The first array holds images (uint8 are scaled to [0, 1]); the others are passed as they are
    (masks, labels). `fn` returns a tensor or a tuple of tensors, each with the batch first;
    the result is the same structure of numpy arrays over all rows.
    """
    arrays = (as_float_images(arrays[0]), *arrays[1:])
    n = len(arrays[0])
    compiled = fn if hasattr(fn, "get_concrete_function") else tf.function(fn, reduce_retracing=True)
    outputs = []
    for start in range(0, n, batch_size):
        out = compiled(*(tf.constant(a[start:start + batch_size]) for a in arrays))
        outputs.append(tuple(np.asarray(o) for o in out) if isinstance(out, (tuple, list)) else np.asarray(out))
    if not outputs:
        raise ValueError("nothing to predict: the batch is empty")
    if isinstance(outputs[0], tuple):
        result = tuple(np.concatenate(parts) for parts in zip(*outputs))
        count = len(result[0])
    else:
        result = np.concatenate(outputs)
        count = len(result)
    if count != n:
        raise AssertionError(f"evaluated {count} images instead of {n}")
    return result


def classifier(model, masked: bool = False):
    """The compiled ``argmax model(x)`` (``argmax model(x * mask)`` if `masked`), made once per model."""
    compiled = _CLASSIFIERS.setdefault(model, {})
    if masked not in compiled:
        if masked:
            compiled[masked] = tf.function(lambda x, m: tf.argmax(model(x * m, training=False), -1),
                                           reduce_retracing=True)
        else:
            compiled[masked] = tf.function(lambda x: tf.argmax(model(x, training=False), -1), reduce_retracing=True)
    return compiled[masked]


def predict_classes(model, images, batch_size: int = 256, masks=None) -> np.ndarray:
    """``argmax model(x)`` (or ``model(x * mask)`` with `masks`, (N, H, W) or (N, H, W, 1)) per image."""
    if masks is None:
        return batched(classifier(model), images, batch_size=batch_size)
    masks = np.asarray(masks, np.float32)
    masks = masks[..., None] if masks.ndim == 3 else masks
    return batched(classifier(model, masked=True), images, masks, batch_size=batch_size)
