"""End-to-end: a user's folder of colour images through the `example` preset and the README's commands."""
import json

import numpy as np
import pytest
from PIL import Image

from conftest import run_script
from fixtures.image_folder import write_image_folder
from utils.data import patches


def in_process(script, *args, cwd):
    """A script's main in this process (the same entry point, without a second TensorFlow start-up)."""
    import importlib

    from utils.config.entry import main_wrapper

    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(cwd)
        assert main_wrapper(importlib.import_module(script[:-3]).main, [str(a) for a in args]) == 0


def ok(result):
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def test_the_fixture_writes_class_folders_with_evidence(tmp_path):
    evidence = write_image_folder(tmp_path, {"train": 2, "val": 1, "test": 0})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evidence", "train", "val"]
    assert sorted(p.name for p in (tmp_path / "train").iterdir()) == sorted(patches.CLASSES)
    assert len(evidence) == 3 * len(patches.CLASSES)
    for path, mask in evidence.items():
        image = np.asarray(Image.open(tmp_path / path))
        assert image.shape == (32, 32, 3) and mask.shape == (32, 32)
        assert path.split("/")[1] in patches.CLASSES and mask.sum() > 0   # one glyph of its class
        assert np.array_equal(np.asarray(Image.open(tmp_path / "evidence" / path)) > 0, mask)


@pytest.mark.slow
def test_example_preset_trains_and_explains_a_colour_folder(tmp_path, capsys):
    data = tmp_path / "data"
    write_image_folder(data, {"train": 6, "val": 2, "test": 2})
    run = ["--config", "example", "--data_dir", data, "--identifier", "t", "--quiet", "--max_epochs", "1",
           "--batch_size", "12"]
    d = tmp_path / "work"
    d.mkdir()
    # The pretraining runs as a real process, as the README runs it; the HnS training and the evaluation run in
    # this process through the same entry point, one TensorFlow start-up fewer (test_pipeline.py and
    # test_reliability.py run collaborative_training.py as a process)
    ok(run_script("pretrain_seeker.py", *run, cwd=d))
    # One epoch on 36 images leaves the seeker near chance: allowed here, refused by default.
    capsys.readouterr()
    in_process("collaborative_training.py", *run, "--allow_weak_seeker",
               "--seeker_weights", "weights/example/seeker+pooling/t/best.weights.h5",
               "--budget_epochs", "1", "--max_epochs", "2", cwd=d)
    assert "run length: --max_epochs 2 epochs" in capsys.readouterr().out
    in_process("evaluation.py", *run, "--leakage_epochs", "0", "--cem_images", "0", "--examples", "2", cwd=d)
    variant = "example/hns/topk/geometric+seeker-pooling+random-masks+features-live+head2+out1+seeker-out+fill-mean+nested0.05/t"
    weights = d / "weights" / variant
    assert (weights / "final.weights.h5").is_file()
    results = d / "results" / variant
    report = json.loads((results / "evaluation.json").read_text())
    assert report["test_images"] == 12 and report["val_images"] == 12   # val/ is the validation split
    assert report["settings"]["shift_fill"] == "edge"
    test = report["checkpoints"][0]["test"]
    assert 0 < test["fg_share"] < 0.95          # the textured background is not all foreground
    # the folder's evidence masks (evidence/<split>/...) reach the report: where the masks lie
    assert {"tpr", "pointing", "mask_tpr", "mask_fdr"} <= set(test) and 0 <= test["pointing"] <= 1
    assert any(p.name.startswith("masks_") and p.suffix == ".png" for p in results.iterdir())
