import numpy as np
import pytest

from networks.hider import build_hider
from networks.seeker import build_seeker
from utils.errors import UsageError
from networks.weights import load_weights, save_weights


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
    with pytest.raises(UsageError, match="seeker_logits"):
        load_weights(build_seeker("small", (64, 64, 1), 10), tmp_path / "s.weights.h5")
    with pytest.raises(UsageError, match="missing layers|unknown layers"):
        load_weights(build_hider("small", (28, 28, 1), 1), tmp_path / "s.weights.h5")


def test_corrupt_and_foreign_files(tmp_path):
    path = tmp_path / "s.weights.h5"
    save_weights(build_seeker("small", (28, 28, 1), 10), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(UsageError, match="truncated"):
        load_weights(build_seeker("small", (28, 28, 1), 10), path)
    keras_file = tmp_path / "k.weights.h5"
    build_seeker("small", (28, 28, 1), 10).save_weights(keras_file)
    with pytest.raises(UsageError, match="not a weights file written by this toolkit"):
        load_weights(build_seeker("small", (28, 28, 1), 10), keras_file)
