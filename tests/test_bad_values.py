"""Bad values that used to pass every check: each class answered by every script with exit 2, one line
naming the problem and the fix, nothing written. In this process, through the scripts' entry wrapper;
one subprocess checks that the values checkable while parsing are refused before TensorFlow starts."""
import json
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, tree

NAN_WEIGHTS = "nan.weights.h5"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A work folder with an earlier run's outputs and the files of each class of bad value."""
    from networks.seeker import build_seeker
    from networks.weights import save_weights
    from utils.config import parse_config
    from utils.stages.runs import hns_model_type, run_paths

    d = tmp_path_factory.mktemp("values")
    for name in ("seeker.weights.h5", NAN_WEIGHTS):
        save_weights(build_seeker("small", (28, 28, 1), 10), d / name)
    with h5py.File(d / NAN_WEIGHTS, "a") as f:  # as a diverged training wrote them before
        f["seeker_logits/0"][0, 0] = np.nan
    (d / "garbage.weights.h5").write_bytes(b"<html>not found</html>")
    (d / "nan.toml").write_text('[p]\nevalx_min_rate = nan\n')
    (d / "script_nan.toml").write_text('[p]\n[p.collaborative_training]\nlearning_rate = inf\n')
    (d / "latin1.toml").write_bytes('[p]\nidentifier = "café"\n'.encode("latin-1"))
    records = {"val5": {"accuracy": 0.9, "val_accuracy": 5}, "high": {"accuracy": 0.9, "val_accuracy": "high"},
               "noacc": {"val_accuracy": 0.9}}
    for name, record in records.items():
        (d / f"{name}.json").write_text(json.dumps(record))
    for folder, counts in {"short": {"a": 3, "b": 1}, "bomb": {"a": 2, "b": 2}}.items():
        for split in ("train", "test"):
            for c, n in counts.items():
                (d / folder / split / c).mkdir(parents=True)
                for i in range(n):
                    Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(d / folder / split / c / f"{i}.png")
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(d / "bomb" / "train" / "b" / "1.png")
    # an HnS run whose evaluation.json was cut short (a full disk)
    faith = parse_config([], "faithfulness.py", "", groups=("common", "hns", "explain", "faith"))
    hns = run_paths(faith, hns_model_type(faith), root=d)
    hns.make()
    save_weights(build_seeker("small", (28, 28, 1), 10), hns.final)
    hns.evaluation.write_text('{"recommended": {"checkpoint": "fin')
    (d / "weights" / "mnist-5k" / "seeker" / "default").mkdir(parents=True)
    (d / "weights" / "mnist-5k" / "seeker" / "default" / "keep.txt").write_text("earlier run")
    return d


BAD_TF_CONFIG = json.dumps({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 2}})
MW = ["--strategy", "multiworker"]
FOLDER = ["--dataset", "folder", "--image_size", "8", "--channels", "1"]
CASES = [
    # 1. demo.py answers inside the entry wrapper, like every script
    ("demo.py", ["--config", "nope"], "unknown preset 'nope'"),
    ("demo.py", ["--identifier", "a/b"], "--identifier must be a plain name, got 'a/b'"),
    ("demo.py", ["--seed", "x"], "argument --seed: invalid int value: 'x'"),
    # 2. NaN and infinity, from flags and from presets (and their per-script tables)
    ("collaborative_training.py", ["--min_delta", "nan"], "--min_delta must be a finite number >= 0, got nan"),
    ("pretrain_seeker.py", ["--learning_rate", "inf"], "--learning_rate must be a finite number > 0, got inf"),
    ("collaborative_training.py", ["--alpha", "nan"], "--alpha must be a finite number in [0, 1]"),
    ("explain.py", ["--temperature", "inf"], "--temperature must be a finite number"),
    ("explain.py", ["--baseline_value", "nan"], "--baseline_value must be a finite number, got nan"),
    ("pretrain_hider.py", ["--config_file", "nan.toml", "--config", "p"], "'evalx_min_rate' must be a finite number"),
    ("pretrain_hider.py", ["--config_file", "script_nan.toml", "--config", "p"],
     "[p.collaborative_training] in script_nan.toml: 'learning_rate' must be a finite number"),
    # 3. weights with a NaN in them are refused
    ("baseline.py", ["--seeker_weights", NAN_WEIGHTS], "holds NaN or infinite weights (in seeker_logits)"),
    # 4. the data checks hold for every dataset, the generated one included
    ("pretrain_seeker.py", ["--config", "patches", "--num_classes", "10"], "but dataset 'patches' has 6 classes"),
    ("pretrain_seeker.py", [*FOLDER, "--data_dir", "short", "--identifier", "x"],
     "num_classes = 10 in preset [mnist-5k] of"),
    ("pretrain_seeker.py", ["--config", "patches", "--train_images", "1"], "use at least 12"),
    ("pretrain_seeker.py", ["--train_images", "10"], "--train_images 10 leaves some of the 10 classes"),
    ("pretrain_seeker.py", [*FOLDER, "--data_dir", "short", "--num_classes", "2", "--identifier", "x"],
     "1 of 2 classes (b) have fewer than 2 training images"),
    # 5. weights saved for other inputs
    ("baseline.py", ["--seeker_weights", "seeker.weights.h5", "--image_size", "32"],
     "saved from seeker_small for 28x28x1 inputs; this seeker_small takes 32x32x1"),
    # 6. values read from run files
    ("collaborative_training.py", ["--baseline", "val5.json"], "val5.json: 'val_accuracy' must be in (0, 1], got 5"),
    ("evaluation.py", ["--baseline", "high.json"], "high.json: 'val_accuracy' must be a finite number, got 'high'"),
    ("evaluation.py", ["--baseline", "noacc.json"], "noacc.json has no key 'accuracy'"),
    ("faithfulness.py", [], "evaluation.json is not valid JSON (Unterminated string"),
    # 7. every name that becomes a path
    ("faithfulness.py", ["--evaluator", "a/b"], "--evaluator must be a plain name, got 'a/b'"),
    ("faithfulness.py", ["--checkpoint", "../../x.weights.h5"], "--checkpoint must be a plain name"),
    ("explain.py", ["--identifier", ".."], "--identifier must be a plain name, got '..'"),
    # 8. messages that name the file or flag and the fix
    ("pretrain_seeker.py", ["--config_file", "latin1.toml", "--config", "p"], "is not UTF-8 text (byte 0xe9"),
    ("pretrain_seeker.py", [*FOLDER, "--data_dir", "bomb", "--num_classes", "2", "--identifier", "x"],
     "1.png is too large to decode safely"),
    ("pretrain_seeker.py", ["--seed", "-1"], "--seed must be in [0, 2147483647], got -1"),
    ("baseline.py", ["--seeker_weights", "garbage.weights.h5"], "is not an HDF5 file (it starts with b'<htm')"),
    ("pretrain_seeker.py", ["--evalx_grid", "5"], "--evalx_grid 5 does not divide the image size 28"),
    ("pretrain_seeker.py", MW, "TF_CONFIG task index 2 is out of range"),
    # 9. HideAndSeek's optional objectives where they cannot act (issue #21)
    ("collaborative_training.py", ["--seeker_masked_out", "--seeker_training", "frozen"],
     "--seeker_masked_out trains the seeker, which --seeker_training frozen never updates"),
    ("collaborative_training.py", ["--random_mask_shape", "budget", "--seeker_training", "random-masks"],
     "--random_mask_shape budget draws masks of the top-k budget: it needs --mask_mode topk"),
    ("collaborative_training.py", ["--random_mask_shape", "budget", "--mask_mode", "topk", "--seeker_training", "joint"],
     "--random_mask_shape budget shapes the masks of --seeker_training random-masks: add it"),
    ("collaborative_training.py", ["--area_hinge", "--mask_mode", "topk"],
     "--area_hinge hinges the mask-size penalty of --mask_mode threshold"),
    ("collaborative_training.py", ["--nested_budget", "0.3"],
     "--nested_budget 0.3 cuts the ranking of a top-k mask lower; a thresholded mask has none"),
    ("collaborative_training.py", ["--nested_budget", "1", "--mask_mode", "topk"], "--nested_budget"),
]


@pytest.mark.parametrize("script, args, message", CASES, ids=[f"{c[0]}:{c[2][:30]}" for c in CASES])
def test_bad_values_one_line_exit_2_nothing_written(files, script, args, message, monkeypatch, capsys):
    import importlib

    from PIL import Image as PILImage

    from utils.config.entry import main_wrapper

    monkeypatch.chdir(files)
    monkeypatch.setenv("KERAS_HOME", str(files / "keras_home"))
    monkeypatch.setenv("TF_CONFIG", BAD_TF_CONFIG)
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 32 * 32)  # the 64 x 64 image is the bomb
    def written():
        # folders too: `tree` lists files only, and an empty run folder is a half-written run
        folders = {str(p.relative_to(files)) for p in files.rglob("*") if p.is_dir()}
        return ({k: v for k, v in tree(files).items() if not k.startswith("keras_home")},
                {f for f in folders if not f.startswith("keras_home")})

    before = written()
    capsys.readouterr()
    code = main_wrapper(importlib.import_module(script[:-3]).main, list(args))
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in err, err
    assert written() == before


# pretrain_seeker.py used to start TensorFlow (or train) with each of these
PARSE_TIME = [["--seed", "-1"], ["--learning_rate", "inf"], ["--config_file", "nan.toml", "--config", "p"],
              ["--config", "patches", "--num_classes", "10"], ["--train_images", "10"], ["--baseline", "val5.json"],
              ["--identifier", ".."], ["--config_file", "latin1.toml", "--config", "p"],
              ["--evalx_grid", "5"], MW, ["--seeker_weights", NAN_WEIGHTS],
              ["--hider_weights", "garbage.weights.h5"]]


def test_values_checkable_while_parsing_are_refused_before_tensorflow_starts(files):
    code = ("import json, sys\nfrom utils.config.entry import main_wrapper\nimport pretrain_seeker\n"
            "codes = [main_wrapper(pretrain_seeker.main, a) for a in json.loads(sys.argv[1])]\n"
            "print(json.dumps([codes, 'tensorflow' in sys.modules]))")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CONFIG": BAD_TF_CONFIG}
    result = subprocess.run([sys.executable, "-c", code, json.dumps(PARSE_TIME)], cwd=files, env=env,
                            capture_output=True, text=True, timeout=120)
    codes, tf_started = json.loads(result.stdout.strip().splitlines()[-1])
    assert codes == [2] * len(PARSE_TIME) and not tf_started, result.stderr
    assert len(result.stderr.strip().splitlines()) == len(PARSE_TIME), result.stderr


@pytest.mark.parametrize("when", ["epoch_begin", "last_batch"])
def test_a_diverged_training_keeps_its_last_finite_state_and_says_where(tmp_path, monkeypatch, when):
    """The weights turn infinite in the second epoch: at its start (the loss turns NaN) or after its last
    update (every loss finite). best.weights.h5 and the resume state keep the first epoch's finite state."""
    import keras
    import tensorflow as tf

    from networks.weights import read_weights
    from utils.config import parse_config
    from utils.errors import RunError
    from utils.stages.runs import run_paths
    from utils.training.callbacks import BestWeights
    from utils.training.loop import fit_run

    monkeypatch.chdir(tmp_path)
    cfg = parse_config(["--quiet", "--max_epochs", "3"], "pretrain_seeker.py", "")
    paths = run_paths(cfg, "toy")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, name="toy_logits")], name="toy")
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    data = tf.data.Dataset.from_tensor_slices((np.eye(2, dtype=np.float32).repeat(8, 0), np.arange(2).repeat(8)))

    class Diverge(keras.callbacks.Callback):
        def diverge(self):
            kernel = self.model.get_layer("toy_logits").kernel
            kernel.assign(np.full(kernel.shape, np.inf, np.float32))

        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1 and when == "epoch_begin":
                self.diverge()

        def on_train_batch_end(self, batch, logs=None):
            if self.params["steps"] == batch + 1 and len(self.model.history.epoch) == 1 and when == "last_batch":
                self.diverge()

    best = BestWeights(paths.best, "loss", "min")
    with pytest.raises(RunError) as e:
        fit_run(model, paths, False, train=lambda first, last: data.batch(4).repeat(), steps=4, validation=None,
                max_epochs=cfg.max_epochs, debug=cfg.debug, quiet=cfg.quiet, callbacks=[Diverge(), best],
                stateful={"best": best})
    cause = "loss became nan" if when == "epoch_begin" else "the weights became NaN or infinite in epoch 2"
    assert cause in str(e.value) and f"last finite state is kept in {paths.weights}" in str(e.value)
    assert "best.weights.h5" in str(e.value) and "\n" not in str(e.value)
    assert np.isfinite(read_weights(paths.best)["toy_logits"][0]).all()  # read_weights refuses non-finite values
    with np.load(paths.state) as f:
        assert json.loads(bytes(f["meta"]).decode())["epoch"] == 1
        assert all(np.isfinite(f[k]).all() for k in f.files if k != "meta")
    assert not paths.final.exists()


def test_the_budget_figure_of_hns_alone_warns_nothing(tmp_path):
    """faithfulness.py --methods hns: the binary mask has no fixed-budget rows, so no curve to put in a legend."""
    import warnings

    from utils.reporting.plotting import budget_curves

    row = {"method": "hns", "budget": "hns", **{f"{k}_{j}": [0.5, 0.01] for k in ("keep", "remove")
                                               for j in ("evalx", "seeker")}}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        budget_curves({"methods": {"hns": {}}, "rows": [row]}, tmp_path / "b.png")
    assert (tmp_path / "b.png").is_file()
