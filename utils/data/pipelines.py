"""tf.data pipelines over splits: evaluation batches in order, training epochs in a seeded order.

Images become float32 in [0, 1]; labels stay integers.
"""
from __future__ import annotations

from utils.data.splits import Split


def to_float(x):
    """uint8 images -> float32 in [0, 1] (works on numpy arrays and tensors)."""
    # deferred: TensorFlow start-up; `python -m utils.data.suite` imports this package and never needs it
    import tensorflow as tf

    return tf.cast(x, tf.float32) / 255.0


def pipeline(split: Split, batch_size: int, shuffle: bool = False, seed: int = 0,
             targets: str = "labels"):
    """A tf.data pipeline over `split`: (image, label) batches, or (image, image) for autoencoders.

    Training pipelines shuffle with `seed` (a new order each epoch, the same sequence of orders
    for the same seed); evaluation pipelines keep the order and visit every image exactly once.
    """
    # deferred: TensorFlow start-up; `python -m utils.data.suite` imports this package and never needs it
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((split.x, split.y))
    if shuffle:
        ds = ds.shuffle(len(split), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if targets == "images":
        ds = ds.map(lambda x, y: (to_float(x), to_float(x)), num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = ds.map(lambda x, y: (to_float(x), y), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def shift_images(x, offsets, shift: int, fill: str = "zero"):
    """Translate each image of the batch `x` (B, H, W, C) by (dy, dx) = shift - offsets pixels.

    `offsets` is an int32 (B, 2) tensor with entries in [0, 2 * shift]. Pixels moved in from
    outside the image are 0 with `fill` "zero" (the background of MNIST-like data), or repeat the
    image's nearest border pixel with "edge" (colour photographs, whose border is no black frame:
    a black band would be an edge the seeker could learn); nothing wraps around.
    """
    # deferred: TensorFlow start-up; `python -m utils.data.suite` imports this package and never needs it
    import tensorflow as tf

    h, w = x.shape[1], x.shape[2]
    rows = offsets[:, :1] + tf.range(h)[None, :]   # (B, H) rows of the image padded by `shift` to keep
    cols = offsets[:, 1:] + tf.range(w)[None, :]   # (B, W)
    if fill == "zero":
        x = tf.pad(x, [[0, 0], [shift, shift], [shift, shift], [0, 0]])
    elif fill == "edge":  # rows and columns of the image itself, clamped to its border
        rows, cols = tf.clip_by_value(rows - shift, 0, h - 1), tf.clip_by_value(cols - shift, 0, w - 1)
    else:
        raise ValueError(f"fill must be 'zero' or 'edge', got {fill!r}")
    x = tf.gather(x, rows, axis=1, batch_dims=1)
    return tf.gather(x, cols, axis=2, batch_dims=1)


def epoch_pipeline(split: Split, batch_size: int, seed: int, first_epoch: int, epochs: int,
                   targets: str = "labels", shift: int = 0, fill: str = "zero"):
    """Training batches for epochs first_epoch..epochs-1, each in an order fixed by (seed, epoch).

    The order of epoch e does not depend on how many epochs ran before in this process, so a
    run resumed at epoch e sees exactly the batches an uninterrupted run sees. Use with
    ``fit(steps_per_epoch=steps_per_epoch(split, batch_size), initial_epoch=first_epoch)``.

    With `shift` > 0 every image is translated by a random whole number of pixels in
    [-shift, shift] along each axis (augmentation), filled as `fill` says (`shift_images`); the
    offsets are drawn with stateless ops from (seed, epoch, batch), so they too are the same in a
    resumed run. `targets` is
    "labels" for (image, label) batches or "images" for (image, image), as in `pipeline`.
    """
    # deferred: TensorFlow start-up; `python -m utils.data.suite` imports this package and never needs it
    import tensorflow as tf

    n = len(split)
    x, y = tf.constant(split.x), tf.constant(split.y)

    def one_epoch(epoch):
        key = tf.stack([tf.constant(seed, tf.int64), epoch])
        order = tf.random.experimental.index_shuffle(tf.range(n, dtype=tf.int64), key, n - 1)
        batches = tf.data.Dataset.from_tensor_slices(order).batch(batch_size).enumerate()
        return batches.map(lambda b, idx: (epoch, b, idx))

    def load(epoch, batch, idx):
        images = to_float(tf.gather(x, idx))
        if shift > 0:
            offsets = tf.random.stateless_uniform(
                (tf.shape(idx)[0], 2), seed=tf.stack([tf.constant(seed, tf.int64) + 7919, epoch * 100003 + batch]),
                minval=0, maxval=2 * shift + 1, dtype=tf.int32)
            images = shift_images(images, offsets, shift, fill)
        return images, (images if targets == "images" else tf.gather(y, idx))

    ds = tf.data.Dataset.range(first_epoch, epochs).flat_map(one_epoch)
    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def steps_per_epoch(split: Split, batch_size: int) -> int:
    return -(-len(split) // batch_size)
