"""Bad input, interruptions and reproducibility, through the real scripts in subprocesses."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, die_after_epoch, run_script, tree

pytestmark = pytest.mark.slow
TINY = ["--train_images", "300", "--test_images", "100", "--batch_size", "32", "--quiet"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A work folder with an earlier run's outputs and files users get wrong."""
    from networks.hider import build_hider
    from networks.seeker import build_seeker
    from networks.weights import save_weights

    d = tmp_path_factory.mktemp("bad")
    save_weights(build_seeker("small", (28, 28, 1), 10), d / "seeker.weights.h5")
    save_weights(build_seeker("small", (64, 64, 1), 10), d / "seeker64.weights.h5")
    save_weights(build_hider("small", (28, 28, 1), 1), d / "hider.weights.h5")
    data = (d / "seeker.weights.h5").read_bytes()
    (d / "truncated.weights.h5").write_bytes(data[: len(data) // 3])
    (d / "bad.toml").write_text("[mnist-5k\nbatch_size = 3\n")
    (d / "baseline.txt").write_text("not a number\n")
    (d / "empty").mkdir()
    one = d / "oneclass" / "train" / "a"
    one.mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(one / "x.png")
    broken = d / "broken"
    for split in ("train", "test"):
        for c in ("a", "b"):
            (broken / split / c).mkdir(parents=True)
            (broken / split / c / "x.png").write_bytes(b"garbage")
    # an earlier run whose files must survive every bad invocation
    for kind in ("weights", "results", "logs"):
        p = d / kind / "mnist-5k" / "seeker" / "default"
        p.mkdir(parents=True)
        (p / "keep.txt").write_text("earlier run")
    return d


FOLDER = ["--dataset", "folder", "--image_size", "16", "--channels", "1"]
CASES = [
    ("pretrain_seeker.py", ["--config_file", "bad.toml"], "not valid TOML"),
    ("pretrain_hider.py", ["--config", "nope"], "unknown preset 'nope'"),
    ("baseline.py", ["--bogus"], "unrecognized arguments: --bogus"),
    ("pretrain_seeker.py", ["--batch_size", "ten"], "invalid int value"),
    ("collaborative_training.py", ["--alpha", "1.5"], "--alpha must be in [0, 1]"),
    ("collaborative_training.py", ["--patience", "0"], "--patience must be >= 1"),
    ("pretrain_hider.py", ["--batch_size", "0"], "--batch_size must be >= 1"),
    ("collaborative_training.py", ["--image_size", "30"], "use a multiple of 4"),
    ("collaborative_training.py", ["--rate", "-0.5"], "--rate must be >= 0"),
    ("pretrain_seeker.py", ["--augment_shift", "-1"], "--augment_shift must be >= 0"),
    ("evaluation.py", ["--fidelity_se", "-1"], "--fidelity_se must be in [0, 10]"),
    ("evaluation.py", ["--seeker_weights", "missing.weights.h5"], "no such file"),
    ("baseline.py", ["--seeker_weights", "hider.weights.h5"], "does not fit model 'seeker_small'"),
    ("baseline.py", ["--seeker_weights", "seeker64.weights.h5"], "saved from seeker_small for 64x64x1 inputs"),
    ("baseline.py", ["--seeker_weights", "truncated.weights.h5"], "is truncated"),
    ("collaborative_training.py", ["--seeker_weights", "hider.weights.h5", "--identifier", "x"], "does not fit"),
    ("collaborative_training.py", ["--baseline", "baseline.txt", "--identifier", "x"], "baseline.txt is not valid JSON"),
    ("pretrain_seeker.py", [*FOLDER, "--data_dir", "empty", "--identifier", "x"], "no such folder"),
    ("pretrain_seeker.py", [*FOLDER, "--data_dir", "oneclass", "--identifier", "x"], "1 class folder"),
    ("pretrain_seeker.py", [*FOLDER, "--data_dir", "broken", "--identifier", "x"], "cannot decode image"),
    ("pretrain_seeker.py", ["--config", "mnist", "--identifier", "x"], "mnist.npz"),
    ("collaborative_training.py", ["--alpha_step", "0.0000001"], "needs more than 6 decimals"),
    ("evaluation.py", ["--identifier", "never_trained"], "no checkpoints in"),
    ("pretrain_seeker.py", [], "a run already exists"),
    ("collaborative_training.py", ["--mask_grid", "5"], "--mask_grid 5 does not divide the image size 28"),
    ("collaborative_training.py", ["--seeker_training", "frozen", "--identifier", "x"],
     "--seeker_training frozen needs --seeker_weights"),
    ("pretrain_hider.py", ["--hider_decoder", "pixelshuffle"], "invalid choice: 'pixelshuffle'"),
    ("collaborative_training.py", ["--hider_decoder", "resize", "--hider_weights", "hider.weights.h5",
                                   "--identifier", "x"], "hider_upconv1"),
    ("pretrain_seeker.py", ["--seeker_weights", "hider.weights.h5", "--overwrite"], "does not fit"),
]


# These run as real processes (exit code, one stderr line with TensorFlow's start-up noise filtered,
# a fresh interpreter for the offline download); the others run in this process through the same
# entry wrapper, which is what turns every error into one line and an exit code.
IN_A_PROCESS = {"not valid TOML", "does not fit model 'seeker_small'"}


def run_in_process(script, args, cwd, monkeypatch, capsys):
    import importlib

    from utils.config.entry import main_wrapper

    monkeypatch.chdir(cwd)
    capsys.readouterr()
    code = main_wrapper(importlib.import_module(script[:-3]).main, list(args))
    return code, capsys.readouterr().err


@pytest.mark.parametrize("script, args, message", CASES, ids=[f"{c[0]}:{c[2][:25]}" for c in CASES])
def test_bad_input_one_line_exit_2_nothing_written(files, script, args, message, monkeypatch, capsys):
    def outputs():  # Keras writes its own config to KERAS_HOME: not ours to judge
        return {k: v for k, v in tree(files).items() if not k.startswith("keras_home")}

    before = outputs()
    monkeypatch.setenv("KERAS_HOME", str(files / "keras_home"))
    if message == "mnist.npz":  # the download fails as it does offline, on any machine
        import urllib.error

        import keras

        def unreachable(*args, **kwargs):
            raise urllib.error.URLError("[Errno 101] Network is unreachable (simulated)")

        # An empty cache folder (KERAS_HOME above) and a loader that fails as it does offline, so that a
        # cached ~/.keras cannot answer
        monkeypatch.setattr(keras.datasets.mnist, "load_data", unreachable)
    if message in IN_A_PROCESS:
        # A proxy on a closed local port makes every download fail, online or offline.
        offline = {"KERAS_HOME": str(files / "keras_home"), "https_proxy": "http://127.0.0.1:9",
                   "HTTPS_PROXY": "http://127.0.0.1:9", "no_proxy": "", "NO_PROXY": ""}
        result = run_script(script, *args, cwd=files, env=offline)
        code, stderr = result.returncode, result.stderr
    else:
        code, stderr = run_in_process(script, args, files, monkeypatch, capsys)
    lines = stderr.strip().splitlines()
    assert code == 2, stderr
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in stderr, stderr
    assert outputs() == before


def test_verbose_shows_the_traceback(files, monkeypatch, capsys):
    code, err = run_in_process("baseline.py", ["--seeker_weights", "hider.weights.h5", "--verbose"], files,
                               monkeypatch, capsys)
    assert code == 2 and "Traceback" in err


def test_nan_loss_stops_with_a_clear_message_and_no_weights_that_lie(tmp_path, monkeypatch, capsys):
    from networks.weights import read_weights

    code, err = run_in_process("pretrain_seeker.py", [*TINY, "--learning_rate", "1e9", "--max_epochs", "3"], tmp_path,
                               monkeypatch, capsys)
    assert code == 1, err
    (line,) = err.strip().splitlines()
    assert ("nan" in line.lower() or "inf" in line.lower()) and ("last finite state" in line or "no weights" in line)
    for path in tmp_path.rglob("*.weights.h5"):
        read_weights(path)  # a UsageError if any value is NaN or infinite


# --- interruptions and reproducibility ------------------------------------------------------

HNS = [*TINY, "--stochastic", "--estimator", "sa", "--rate", "0.2", "--patience", "5", "--alpha_step", "0.005",
       "--min_alpha", "0.1", "--max_epochs", "6", "--seed", "3"]


def hns_dir(cwd, identifier, kind="weights"):
    return cwd / kind / "mnist-5k" / "hns" / "stochastic" / "sa" / "rate_0.2+random-masks+hinge" / identifier


def start(cwd, identifier):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen([sys.executable, str(ROOT / "collaborative_training.py"), *HNS, "--identifier", identifier],
                            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_epoch(cwd, identifier, epoch, proc, timeout=300, folder=None, poll=0.2):
    path = (folder or hns_dir(cwd, identifier)) / "resume_state.npz"
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if path.is_file():
            with np.load(path) as f:
                if json.loads(bytes(f["meta"]).decode())["epoch"] >= epoch:
                    return
        time.sleep(poll)
    raise AssertionError(f"epoch {epoch} never saved (exit {proc.poll()})")


def final_weights(cwd, identifier):
    from networks.weights import read_weights

    return read_weights(hns_dir(cwd, identifier) / "final.weights.h5")


def history(cwd, identifier):
    return json.loads((hns_dir(cwd, identifier, "results") / "history.json").read_text())


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    d = tmp_path_factory.mktemp("hns")
    result = run_script("collaborative_training.py", *HNS, "--identifier", "ref", cwd=d)
    assert result.returncode == 0, result.stderr
    return d


def test_an_alpha_step_of_0005_keeps_every_checkpoint(reference):
    names = sorted(p.name for p in hns_dir(reference, "ref").glob("alpha_*"))
    steps = history(reference, "ref")["alpha_steps"]
    assert len(names) == len(steps) >= 2  # one file per plateau, none replaced: the schedule moved
    assert "alpha_1.000.weights.h5" in names and "alpha_0.995.weights.h5" in names


def test_sigkill_then_resume_matches_an_uninterrupted_run(reference):
    # Also the same-seed guarantee: the killed and resumed run must equal the reference exactly.
    proc = start(reference, "killed")
    wait_for_epoch(reference, "killed", 2, proc)
    proc.send_signal(signal.SIGSTOP)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (hns_dir(reference, "killed") / "final.weights.h5").exists()
    result = run_script("collaborative_training.py", *HNS, "--identifier", "killed", cwd=reference)
    assert result.returncode == 0, result.stderr
    assert "resuming" in result.stdout
    assert history(reference, "killed") == history(reference, "ref")
    a, b = final_weights(reference, "killed"), final_weights(reference, "ref")
    assert a.keys() == b.keys() and all(np.array_equal(x, y) for k in a for x, y in zip(a[k], b[k]))


def test_sigint_finishes_the_step_saves_and_explains_and_a_second_process_is_refused(reference, monkeypatch, capsys):
    proc = start(reference, "stopped")
    wait_for_epoch(reference, "stopped", 1, proc)
    proc.send_signal(signal.SIGSTOP)  # still working on the run (and holding its lock) while a second one tries
    try:  # the second process is this one, through the scripts' entry point: no second TensorFlow start-up
        code, err = run_in_process("collaborative_training.py", [*HNS, "--identifier", "stopped"], reference,
                                   monkeypatch, capsys)
    finally:
        proc.send_signal(signal.SIGCONT)
    assert code == 2
    (line,) = err.strip().splitlines()
    assert f"in use by process {proc.pid}" in line and ".lock" in line
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    (line,) = err.strip().splitlines()
    assert "SIGINT" in line and "resume" in line
    w = hns_dir(reference, "stopped")
    assert (w / "interrupted.weights.h5").is_file() and (w / "resume_state.npz").is_file()
    assert not (w / "final.weights.h5").exists() and not (w / ".lock").exists()
    result = run_script("collaborative_training.py", *HNS, "--identifier", "stopped", "--resume", cwd=reference)
    assert result.returncode == 0, result.stderr
    assert (w / "final.weights.h5").is_file() and not (w / "resume_state.npz").exists()
    assert history(reference, "stopped") == history(reference, "ref")  # nothing the second process did mattered
    # a finished run is not resumed again nor overwritten (asked in this process too)
    code, err = run_in_process("collaborative_training.py", [*HNS, "--identifier", "stopped"], reference,
                               monkeypatch, capsys)
    assert code == 2 and "already exists" in err


def batch_steps(log_dir):
    """{event file: sorted steps of its batch_loss scalars}."""
    import tensorflow as tf

    out = {}
    for path in sorted(log_dir.rglob("events.out.tfevents*")):
        steps = [e.step for e in tf.compat.v1.train.summary_iterator(str(path))
                 for v in e.summary.value if v.tag == "batch_loss"]
        if steps:
            out[path] = sorted(steps)
    return out


def test_pretraining_resumes_exactly(tmp_path, monkeypatch):
    # The same resumable fit as collaborative training (whose SIGKILL case runs above in a real
    # process): here the run dies right after its second epoch's state reached the disk.
    from networks.weights import read_weights
    from utils.config import parse_config
    from utils.stages.pretraining import pretrain
    from utils.training.resume import ResumeState

    monkeypatch.chdir(tmp_path)
    args = ["--train_images", "500", "--test_images", "100", "--batch_size", "32", "--quiet", "--max_epochs", "5",
            "--seed", "1"]
    pretrain(parse_config([*args, "--identifier", "ref"], "pretrain_seeker.py", ""), "seeker")
    save = die_after_epoch(monkeypatch, 2)
    cfg = parse_config([*args, "--identifier", "killed"], "pretrain_seeker.py", "")
    with pytest.raises(RuntimeError, match="killed"):
        pretrain(cfg, "seeker")
    killed = tmp_path / "weights" / "mnist-5k" / "seeker" / "killed"
    assert (killed / "resume_state.npz").is_file() and not (killed / "final.weights.h5").exists()
    monkeypatch.setattr(ResumeState, "on_epoch_end", save)
    pretrain(cfg, "seeker")
    for name in ("final", "best"):
        a = read_weights(killed / f"{name}.weights.h5")
        b = read_weights(tmp_path / "weights" / "mnist-5k" / "seeker" / "ref" / f"{name}.weights.h5")
        assert a.keys() == b.keys() and all(np.array_equal(x, y) for k in a for x, y in zip(a[k], b[k]))
    # TensorBoard: the resumed run logs batch steps from where the saved epoch ended.
    steps_per_epoch = -(-450 // 32)  # 500 images, 10% of them validation
    first, resumed = batch_steps(tmp_path / "logs" / "mnist-5k" / "seeker" / "killed").values()
    assert first[0] == 1  # (its last steps may not have reached the disk when it died)
    assert resumed[0] == 2 * steps_per_epoch + 1 and resumed[-1] == 5 * steps_per_epoch
