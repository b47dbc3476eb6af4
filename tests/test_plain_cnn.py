"""benchmarks/plain_cnn.py: the reference CNN and the seekers, trained alike on a user's folder, side by side."""
import sys

import pytest

from conftest import ROOT
from fixtures.image_folder import write_image_folder

sys.path.insert(0, str(ROOT / "benchmarks"))


def test_the_reference_and_every_seeker_train_on_the_folder_and_are_reported(tmp_path, capsys):
    import plain_cnn
    from utils.config.entry import main_wrapper

    write_image_folder(tmp_path, {"train": 4, "val": 2, "test": 2})
    argv = ["--data_dir", str(tmp_path), "--image_size", "32", "--channels", "1", "--max_epochs", "1",
            "--batch_size", "12", "--seekers", "small,pooling"]
    assert main_wrapper(plain_cnn.main, argv) == 0
    out = capsys.readouterr().out
    assert "12 validation, 12 test images of (32, 32, 1), 6 classes" in out and "1 epochs" in out
    table = out.split("\n\n")[-1].splitlines()
    assert [row.split()[0:2] for row in table[1:]] == [["plain", "CNN"], ["seeker", "small"],
                                                        ["seeker", "pooling"]]
    assert plain_cnn.plain_cnn((16, 16, 1), 6).get_layer("plain_global_pool").output.shape == (None, 64)


@pytest.mark.parametrize("argv, message", [
    (["--seekers", "small,cnn"], "--seekers 'small,cnn': give comma-separated seekers of small, large, resnet, "
                                 "pooling"),
    (["--data_dir", "/no/such/folder"], "--data_dir /no/such/folder: no such folder"),
])
def test_bad_input_is_one_line_exit_2(argv, message, capsys):
    import plain_cnn
    from utils.config.entry import main_wrapper

    assert main_wrapper(plain_cnn.main, argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
