"""The start seeker of Hide-and-Seek is measured once on validation and refused at chance."""
import numpy as np
import pytest

from utils.errors import UsageError
from utils.training.seeker_check import CHANCE_FACTOR, check_seeker_accuracy


def test_refused_within_one_and_a_half_times_chance():
    with pytest.raises(UsageError) as e:
        check_seeker_accuracy(0.15, 10, "s.weights.h5", "mnist-5k")   # 1.5 x 1/10
    assert "at chance (1/10 = 0.100)" in str(e.value) and "pretrain_seeker.py --config mnist-5k" in str(e.value)
    assert "\n" not in str(e.value)
    # more epochs do not teach a Flatten + Dense seeker an object that may be anywhere: the change that does
    # comes first, and is not offered to the seeker that already has it
    assert str(e.value).index("--seeker_model pooling") < str(e.value).index("more --max_epochs")
    with pytest.raises(UsageError) as e:
        check_seeker_accuracy(0.5, 2, "s.weights.h5", "example", model="pooling")
    assert "--seeker_model" not in str(e.value) and "more --max_epochs" in str(e.value)
    check_seeker_accuracy(0.16, 10, "s.weights.h5", "mnist-5k")
    check_seeker_accuracy(CHANCE_FACTOR / 2 + 0.01, 2, "s.weights.h5", "mnist-5k")


@pytest.fixture
def seeker_and_data(tmp_path):
    """A seeker's weights file and data whose validation labels it gets all right or all wrong, by hand."""
    from networks.seeker import build_seeker
    from networks.weights import save_weights
    from utils.data import Data, Split
    from utils.evaluation.prediction import predict_classes

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (12, 16, 16, 1), dtype=np.uint8)
    seeker = build_seeker("small", (16, 16, 1), 10)
    path = tmp_path / "s.weights.h5"
    save_weights(seeker, path)
    preds = predict_classes(seeker, x).astype(np.int32)

    def data(right: bool):
        val = Split(x, preds if right else (preds + 1) % 10)
        return Data(val, val, val, 10)

    return path, data


def _cfg(path, *flags):
    from utils.config import COMMON, HNS, parse_config

    return parse_config(["--seeker_weights", str(path), "--image_size", "16", "--channels", "1", *flags],
                        "collaborative_training.py", "", groups=(COMMON, HNS))


def test_collaborative_training_refuses_a_seeker_at_chance_before_touching_a_run(seeker_and_data, tmp_path,
                                                                                monkeypatch):
    from utils.stages.hns import train_series
    from utils.training.seeker_check import require_trained_seeker

    path, data = seeker_and_data
    monkeypatch.chdir(tmp_path)
    cfg = _cfg(path)
    assert require_trained_seeker(cfg.seeker_weights, cfg.model, data(right=True), cfg.batch_size, cfg.config) == 1.0
    # Without --debug: a refusal after the run was claimed would leave logs/, weights/ or results/ behind.
    wrong = data(right=False)
    with pytest.raises(UsageError, match="validation accuracy 0.000 is at chance") as refused:
        train_series(cfg, wrong)
    assert f"or more than its {len(wrong.train)} training images" in str(refused.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.weights.h5"]
    # The override trains from it anyway (--debug: nothing written).
    (result,) = train_series(_cfg(path, "--debug", "--allow_weak_seeker", "--alpha", "0.5", "--max_epochs", "1",
                                  "--batch_size", "6", "--quiet"), data(right=False))
    assert result.images_per_second > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.weights.h5"]
