import h5py
import numpy as np
import pytest

from networks.hider import build_hider
from networks.seeker import build_seeker
from utils.errors import UsageError
from networks.weights import NonFiniteWeights, load_weights, save_weights


def test_roundtrip_by_name(tmp_path):
    a = build_seeker("small", (28, 28, 1), 10)
    b = build_seeker("small", (28, 28, 1), 10)
    save_weights(a, tmp_path / "s.weights.h5")
    assert load_weights(b, tmp_path / "s.weights.h5") == []
    for wa, wb in zip(a.weights, b.weights):
        assert np.array_equal(wa.numpy(), wb.numpy())


def test_autoencoder_into_mask_hider_reports_the_last_layer(tmp_path):
    ae = build_hider("small", (32, 32, 3), out_channels=3)
    mask = build_hider("small", (32, 32, 3), out_channels=1, logits=True)
    save_weights(ae, tmp_path / "ae.weights.h5")
    before = mask.get_layer("hider_logits").kernel.numpy().copy()
    skipped = load_weights(mask, tmp_path / "ae.weights.h5", may_differ=("hider_logits",))
    assert len(skipped) == 1 and skipped[0].startswith("hider_logits")
    assert np.array_equal(mask.get_layer("hider_conv1").kernel.numpy(), ae.get_layer("hider_conv1").kernel.numpy())
    assert np.array_equal(mask.get_layer("hider_logits").kernel.numpy(), before)
    # without leave to differ, the same file is an error naming the layer
    with pytest.raises(UsageError, match="hider_logits"):
        load_weights(build_hider("small", (32, 32, 3), 1, logits=True), tmp_path / "ae.weights.h5")


def test_wrong_architecture_or_size_is_named(tmp_path):
    save_weights(build_seeker("small", (28, 28, 1), 10), tmp_path / "s.weights.h5")
    with pytest.raises(UsageError, match="saved from seeker_small for 28x28x1 inputs; this seeker_small takes 64x64x1"):
        load_weights(build_seeker("small", (64, 64, 1), 10), tmp_path / "s.weights.h5")
    # at 32 pixels every layer's shape agrees (4 x 4 x 128 flattened features): only the record tells
    with pytest.raises(UsageError, match="takes 32x32x1"):
        load_weights(build_seeker("small", (32, 32, 1), 10), tmp_path / "s.weights.h5")
    with pytest.raises(UsageError, match="seeker_logits"):  # other classes: the last layer's shape
        load_weights(build_seeker("small", (28, 28, 1), 6), tmp_path / "s.weights.h5")
    with pytest.raises(UsageError, match="missing layers|unknown layers"):
        load_weights(build_hider("small", (28, 28, 1), 1), tmp_path / "s.weights.h5")


def test_corrupt_and_foreign_files(tmp_path):
    path = tmp_path / "s.weights.h5"
    save_weights(build_seeker("small", (28, 28, 1), 10), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(UsageError, match=r"is truncated \(\d+ of its \d+ bytes\)"):
        load_weights(build_seeker("small", (28, 28, 1), 10), path)
    keras_file = tmp_path / "k.weights.h5"
    build_seeker("small", (28, 28, 1), 10).save_weights(keras_file)
    with pytest.raises(UsageError, match="not a weights file written by this toolkit"):
        load_weights(build_seeker("small", (28, 28, 1), 10), keras_file)


def test_files_without_the_input_record_still_load_with_their_layer_shapes_checked(tmp_path):
    path = tmp_path / "old.weights.h5"
    save_weights(build_seeker("small", (28, 28, 1), 10), path)
    with h5py.File(path, "a") as f:
        del f.attrs["models"]
    assert load_weights(build_seeker("small", (28, 28, 1), 10), path) == []
    with pytest.raises(UsageError, match="seeker_logits"):
        load_weights(build_seeker("small", (64, 64, 1), 10), path)


def test_non_finite_weights_are_never_written_nor_read(tmp_path):
    seeker = build_seeker("small", (28, 28, 1), 10)
    path = tmp_path / "s.weights.h5"
    save_weights(seeker, path)
    before = path.read_bytes()
    kernel = seeker.get_layer("seeker_logits").kernel
    kernel.assign(np.where(np.arange(kernel.shape[0])[:, None] == 3, np.nan, kernel.numpy()))
    with pytest.raises(NonFiniteWeights, match="not writing .*seeker_logits are NaN or infinite"):
        save_weights(seeker, path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["s.weights.h5"]
    with h5py.File(path, "a") as f:  # a file from before this rule, or written by hand
        f["seeker_conv1/0"][0, 0, 0, 0] = np.inf
    with pytest.raises(UsageError, match=r"holds NaN or infinite weights \(in seeker_conv1\).*retrain"):
        load_weights(build_seeker("small", (28, 28, 1), 10), path)
