"""What a mask puts in place of the pixels it drops: the blend every masked model and explainer uses.

With a keep mask z in [0, 1] (1 = observed) of shape (n, H, W, 1) and an in-filler G,

    x~ = x * z + (1 - z) * G(x, round(z))

As in FIDO's code, G sees the rounded mask and carries no gradient: the gradient reaches z
through the blend only. An in-filler is a callable ``G(x, z, seeds, iteration)`` on batches;
`seeds` and `iteration` draw per-image noise where it has any. The in-fillers that need neither
data nor a model (zero, local-mean, blur, noise, and mean once its colour is given) live here, so that
HideAndSeek can fill its masks with them; `utils.explainers.infillers` documents them all and adds those fitted on data.

With `Zero`, `infill` is exactly x * z: the same arithmetic as the plain product, so models that
fill with zeros train as they did before in-fillers existed.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

# FIDO's settings for 224-pixel images, scaled to the image size.
FIDO_SIZE, FIDO_WINDOW, FIDO_SIGMA = 224, 15, 10.0


def infill(x, z, infiller, seeds=None, iteration=0):
    """x~ = x * z + (1 - z) * G(x, round(z)), with no gradient through G (exactly x * z with `Zero`)."""
    if isinstance(infiller, Zero):
        return tf.multiply(x, z)
    hard = tf.stop_gradient(tf.round(z))
    fill = tf.stop_gradient(infiller(x, hard, seeds, iteration))
    return x * z + (1.0 - z) * fill


class Infiller:
    """Every subclass is known by its ``name`` (`from_settings`); its ``settings`` are its constructor's arguments."""

    name = "infiller"
    kinds: dict = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        Infiller.kinds[cls.name] = cls

    def __call__(self, x, z, seeds=None, iteration=0):
        raise NotImplementedError

    def settings(self) -> dict:
        return {"infiller": self.name}

    @staticmethod
    def from_settings(settings: dict) -> "Infiller":
        """The in-filler that `settings` (of ``settings()``) describe; a ValueError for one that holds a model."""
        settings = dict(settings)
        kind = Infiller.kinds.get(settings.pop("infiller"))
        try:
            return kind(**settings)
        except TypeError:
            raise ValueError(f"the in-filler {kind.name!r} cannot be rebuilt from its settings {settings} (it holds "
                             "a model or data): build the model with it again") from None


class Zero(Infiller):
    name = "zero"

    def __call__(self, x, z, seeds=None, iteration=0):
        return tf.zeros_like(x)


def default_window(image_size: int) -> int:
    """FIDO's 15 x 15 window at 224 pixels, scaled to `image_size` and made odd (at least 3)."""
    w = max(3, int(round(FIDO_WINDOW * image_size / FIDO_SIZE)))
    return w if w % 2 else w + 1


def default_sigma(image_size: int) -> float:
    """FIDO's blur sigma (10 at 224 pixels), scaled to `image_size`."""
    return FIDO_SIGMA * image_size / FIDO_SIZE


def _per_image(draw, seeds, iteration, shape, stream: int):
    iteration = tf.cast(iteration, tf.int32)

    def one(s):
        key = tf.stack([s, iteration])
        if stream:
            key = tf.random.experimental.stateless_fold_in(key, stream)
        return draw(shape, seed=key)

    return tf.vectorized_map(one, seeds, fallback_to_while_loop=True, warn=False)


def per_image_uniform(seeds, iteration, shape, stream: int = 0):
    """U(0, 1) noise of `shape` per image, drawn from (seed of the image, iteration, stream) alone
    (stateless).

    Each image's noise does not depend on the rest of the batch, so batched and one-at-a-time
    explanations agree. Different `stream`s are independent draws for the same (seed, iteration):
    the concrete sampler uses stream 0, the noise in-filler streams 1 (colour) and 2 (noise).
    """
    return _per_image(tf.random.stateless_uniform, seeds, iteration, shape, stream)


def per_image_normal(seeds, iteration, shape, stream: int = 0):
    """N(0, 1) noise of `shape` per image, as `per_image_uniform`."""
    return _per_image(tf.random.stateless_normal, seeds, iteration, shape, stream)


def _box(x, window: int):
    """Sum over a window x window box around each pixel (zero outside the image), per channel."""
    kernel = tf.ones((window, window, x.shape[-1], 1), x.dtype)
    return tf.nn.depthwise_conv2d(x, kernel, [1, 1, 1, 1], "SAME")


class LocalMean(Infiller):
    name = "local-mean"

    def __init__(self, window: int, mean=0.0):
        if window < 1 or window % 2 == 0:
            raise ValueError(f"the local-mean window must be an odd number of pixels >= 1, got {window}")
        self.window, self.mean = int(window), np.atleast_1d(np.asarray(mean, np.float32))

    def __call__(self, x, z, seeds=None, iteration=0):
        z = tf.broadcast_to(z, tf.shape(x))
        total, count = _box(x * z, self.window), _box(z, self.window)
        fallback = tf.zeros_like(x) + tf.constant(self.mean)
        return tf.where(count > 0.5, total / tf.maximum(count, 1.0), fallback)

    def settings(self) -> dict:
        return {"infiller": self.name, "window": self.window, "mean": self.mean.tolist()}


class Blur(Infiller):
    name = "blur"

    def __init__(self, sigma: float):
        if not sigma > 0:
            raise ValueError(f"the blur sigma must be > 0, got {sigma}")
        self.sigma = float(sigma)
        radius = max(1, int(np.ceil(3 * self.sigma)))
        t = np.arange(-radius, radius + 1, dtype=np.float32)
        g = np.exp(-0.5 * (t / self.sigma) ** 2)
        self.taps = (g / g.sum()).astype(np.float32)

    def _blur(self, x):
        channels = x.shape[-1]
        k = tf.constant(self.taps)
        rows = tf.tile(tf.reshape(k, (-1, 1, 1, 1)), [1, 1, channels, 1])
        cols = tf.tile(tf.reshape(k, (1, -1, 1, 1)), [1, 1, channels, 1])
        x = tf.nn.depthwise_conv2d(x, rows, [1, 1, 1, 1], "SAME")
        return tf.nn.depthwise_conv2d(x, cols, [1, 1, 1, 1], "SAME")

    def __call__(self, x, z, seeds=None, iteration=0):
        return self._blur(x) / self._blur(tf.ones_like(x[:1]))

    def settings(self) -> dict:
        return {"infiller": self.name, "sigma": self.sigma}


class Noise(Infiller):
    name = "noise"

    def __init__(self, std: float = 0.2):
        self.std = float(std)

    def __call__(self, x, z, seeds=None, iteration=0):
        n = tf.shape(x)[0]
        if seeds is None:
            seeds = tf.range(n, dtype=tf.int32)
        shape = x.shape[1:]
        colour = per_image_uniform(seeds, iteration, (1, 1, shape[-1]), stream=1)  # not the sampler's stream 0
        noise = per_image_normal(seeds, iteration, shape, stream=2)
        return tf.clip_by_value(colour + self.std * noise, 0.0, 1.0)

    def settings(self) -> dict:
        return {"infiller": self.name, "std": self.std}


class Mean(Infiller):
    """The data set's mean colour. `mean`: one value per channel (or one for all), or a Keras variable holding them
    (HideAndSeek's ``mean`` in-fill: its layer ``fill_value``, so that the run's weights files keep the colour)."""

    name = "mean"

    def __init__(self, mean):
        self.mean = mean if isinstance(mean, keras.Variable) else np.atleast_1d(np.asarray(mean, np.float32))

    @classmethod
    def fit(cls, images):
        """The per-channel mean of training images (n, H, W, C) in [0, 1]."""
        return cls(np.asarray(images, np.float32).mean(axis=(0, 1, 2)))

    def __call__(self, x, z, seeds=None, iteration=0):
        return tf.zeros_like(x) + tf.cast(self.mean, x.dtype)

    def settings(self) -> dict:
        return {"infiller": self.name, "mean": np.asarray(self.mean, np.float32).tolist()}


def data_free_infiller(name: str, image_size: int) -> Infiller:
    """The in-filler `name` among those that need no data and no model (`networks.choices.MASK_INFILLS`), with
    FIDO's settings scaled to `image_size` (local-mean falls back to 0 where its window sees no kept pixel)."""
    makers = {"zero": Zero, "local-mean": lambda: LocalMean(default_window(image_size)),
              "blur": lambda: Blur(default_sigma(image_size)), "noise": Noise}
    if name not in makers:
        raise ValueError(f"unknown in-filler {name!r} for a mask: choose one of {', '.join(makers)}")
    return makers[name]()
