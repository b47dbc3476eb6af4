"""utils/training/resume.py: the resume state is keyed by variable path and restored by it."""
import keras
import numpy as np
import pytest

from networks.binary import build_neuron
from networks.hider import build_hider
from networks.hns import HideAndSeek
from networks.seeker import build_seeker
from utils.errors import UsageError
from utils.training.resume import load_state, save_state

SHAPE = (8, 8, 1)


def trained_model(seed, seeker_training="joint"):
    keras.utils.set_random_seed(seed)
    model = HideAndSeek(build_hider("small", SHAPE, 1, logits=True), build_seeker("small", SHAPE, 3),
                        build_neuron(True, "st1", seed=seed), seeker_training=seeker_training, seed=seed)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    rng = np.random.default_rng(seed)
    model.train_on_batch(rng.random((4, *SHAPE)).astype(np.float32), rng.integers(0, 3, 4))
    return model


def test_a_fresh_process_history_restores_every_variable_by_name(tmp_path):
    saved = trained_model(0)
    save_state(saved, tmp_path / "state.npz", 3, {"callbacks": {}})
    with np.load(tmp_path / "state.npz") as f:
        assert {"model/hider_logits/kernel", "model/alpha", "optimizer/iteration"} <= set(f.files)
    # Objects made in between move Keras' automatic numbering (adam_1, seed_generator_2, ...).
    keras.random.SeedGenerator(5)
    keras.optimizers.Adam()
    restored = trained_model(1)
    epoch, extra = load_state(restored, tmp_path / "state.npz")
    assert (epoch, extra) == (3, {"callbacks": {}})
    assert restored.optimizer.name != saved.optimizer.name
    for a, b in [(saved.variables, restored.variables), (saved.optimizer.variables, restored.optimizer.variables)]:
        assert len(a) == len(b) and all(np.array_equal(u.numpy(), v.numpy()) for u, v in zip(a, b))


def test_the_state_of_another_model_is_refused(tmp_path):
    save_state(trained_model(0), tmp_path / "state.npz", 1, {})
    with pytest.raises(UsageError, match="saved by another model or optimizer .*random_masks"):
        load_state(trained_model(0, "random-masks"), tmp_path / "state.npz")
