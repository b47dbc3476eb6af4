import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def run_script(script, *args, cwd, timeout=600, env=None):
    """Run one of the top-level scripts in a subprocess from `cwd`; returns CompletedProcess."""
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    return subprocess.run([sys.executable, str(ROOT / script), *map(str, args)], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def tree(path):
    """{relative path: (size, mtime_ns)} of every file under `path` (empty if absent)."""
    path = Path(path)
    if not path.exists():
        return {}
    return {str(p.relative_to(path)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(path.rglob("*")) if p.is_file()}


def die_after_epoch(monkeypatch, epochs: int):
    """Make every fit in this test raise RuntimeError("killed") right after epoch `epochs` (1-based) wrote
    its resume state, as a process killed then would; returns the real `ResumeState.on_epoch_end`."""
    from utils.training.resume import ResumeState

    save = ResumeState.on_epoch_end

    def dies(self, epoch, logs=None):
        save(self, epoch, logs)
        if epoch == epochs - 1:
            raise RuntimeError("killed")

    monkeypatch.setattr(ResumeState, "on_epoch_end", dies)
    return save


@pytest.fixture
def workdir(tmp_path):
    return tmp_path


@pytest.fixture
def tiny_images():
    rng = np.random.default_rng(0)
    return rng.random((6, 28, 28, 1)).astype(np.float32)


def refused_in_one_line(main, args, message, folder, monkeypatch, capsys):
    """`main(args)` run in the empty `folder` ends with exit code 2 and one line holding `message`, writing nothing."""
    from utils.config.entry import main_wrapper

    monkeypatch.chdir(folder)
    capsys.readouterr()
    code = main_wrapper(main, args)
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, err
    assert list(Path(folder).iterdir()) == []
