"""Faults at any instant: a write that fails or a kill at every commit of every training, then the same
command again; reports replaced all at once; a run in use refused.

Every file becomes visible through one rename (`utils.runs.atomic.replace`), so the commits are the
instants at which a fault changes what is on the disk. The table makes the n-th commit of a tiny run
fail with ENOSPC in this process, for every n: the script must end with one line naming the file and
the cause, change nothing after the fault, and the same command run again must end bit-identical to an
uninterrupted run. A process killed there leaves the same files (plus a temporary one and a stale
lock); `test_sigkill_at_a_commit_then_the_same_command_finishes_the_run` kills real processes at the
two commits that matter most (writing the first resume state, and between it and the epoch's files).
"""
import errno
import hashlib
import re
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT

TINY = ["--train_images", "120", "--test_images", "40", "--batch_size", "40", "--max_epochs", "2", "--quiet",
        "--seed", "2"]
SCRIPTS = {
    "seeker": ("pretrain_seeker.py", TINY, "weights/mnist-5k/seeker"),
    "judge": ("pretrain_seeker.py", [*TINY, "--random_masks"], "weights/mnist-5k/seeker-random"),
    "hns-alpha": ("collaborative_training.py", [*TINY, "--patience", "1", "--alpha_step", "0.1", "--min_alpha",
                                                 "0.5"],
                  "weights/mnist-5k/hns/deterministic+random-masks+hinge"),
    "hns-budget": ("collaborative_training.py", [*TINY, "--mask_mode", "topk", "--start_budget", "0.5",
                                                  "--final_budget", "0.1", "--budget_epochs", "1", "--no-area_hinge"],
                   "weights/mnist-5k/hns/topk/geometric+random-masks"),
}


class Fault:
    """Replace `utils.runs.atomic.replace`: count the commits, fail the `at`-th with ENOSPC and remember
    what the disk held at that instant."""

    def __init__(self, monkeypatch, at=None):
        from utils.runs import atomic

        self.real, self.at, self.targets, self.disk = atomic.replace, at, [], None
        monkeypatch.setattr(atomic, "replace", self)

    def __call__(self, source, target):
        self.targets.append(Path(target))
        if len(self.targets) == self.at:
            self.disk = snapshot(Path.cwd())
            raise OSError(errno.ENOSPC, "No space left on device")
        self.real(source, target)


def write_points(kind, targets):
    """The 1-based commits to fail: of the seeker's pretraining the first of each kind (the best weights
    staged, the resume state, the best weights moved into place, the final weights: a later epoch's commits
    repeat these); of the other trainings, which share its loop, the commits of a kind the seeker has not
    (an alpha's checkpoint, staged in the middle of an epoch, and the history; a budget's checkpoint moved
    into place; the judge's first resume state), to keep the suite fast."""
    if kind == "seeker":
        kinds = {}
        for n, t in enumerate(targets, 1):
            kinds.setdefault((".staged" in t.parts, t.name), n)
        return sorted(kinds.values())
    firsts = {"hns-alpha": [lambda t: ".staged" in t.parts and t.name.startswith("alpha_"),
                            lambda t: t.name == "history.json"],
              "hns-budget": [lambda t: ".staged" not in t.parts and t.name.startswith("budget_")],
              "judge": [lambda t: t.name == "resume_state.npz"]}[kind]
    return [next(n for n, t in enumerate(targets, 1) if first(t)) for first in firsts]


def snapshot(root):
    """{file: sha1} of the run's files under `root` (the lock and temporaries left out)."""
    return {str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != ".lock" and ".tmp" not in p.name}


def script(name, argv, capsys, out=None):
    """Run a script's main in this process as its command line would; returns (exit code, stderr lines) and
    appends what it printed to `out`."""
    from utils.config.entry import main_wrapper

    main = runpy.run_path(str(ROOT / name))["main"]
    code = main_wrapper(main, argv)
    captured = capsys.readouterr()
    if out is not None:
        out.append(captured.out)
    return code, captured.err.strip().splitlines()


def weights_of(folder):
    from networks.weights import read_weights

    return {p.name: read_weights(p) for p in sorted(Path(folder).glob("*.weights.h5"))}


def history(folder, identifier):
    """The history.json of run `identifier` of the weights `folder` (None for a pretraining: it writes none)."""
    path = Path("results", *Path(folder).parts[1:], identifier, "history.json")
    return path.read_text() if path.is_file() else None


def same_weights(a, b):
    return a.keys() == b.keys() and all(
        x.keys() == y.keys() and all(np.array_equal(u, v) for k in x for u, v in zip(x[k], y[k]))
        for x, y in zip(a.values(), b.values()))


@pytest.fixture(scope="module")
def seeker_reference(tmp_path_factory):
    """The seeker's uninterrupted run "ref", made once for the three tests that start from it: its work folder
    and the commits it made. Each test copies the folder into its own tmp_path (they write beside it), as if it
    had made the run there itself: the same files, byte for byte (the runs are seeded and deterministic, which
    the tests check)."""
    from utils.config.entry import main_wrapper

    name, argv, _ = SCRIPTS["seeker"]
    d = tmp_path_factory.mktemp("seeker-ref")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(d)
        counter = Fault(mp)
        assert main_wrapper(runpy.run_path(str(ROOT / name))["main"], [*argv, "--identifier", "ref"]) == 0
    return d, counter.targets


def reference_run(kind, tmp_path, monkeypatch, capsys, request):
    """Run `kind` uninterrupted as "ref" in tmp_path (the current folder); returns its commits. The seeker's
    run is the shared one, copied in."""
    name, argv, _ = SCRIPTS[kind]
    if kind == "seeker":
        shared, targets = request.getfixturevalue("seeker_reference")
        shutil.copytree(shared, tmp_path, dirs_exist_ok=True)
        return list(targets)
    counter = Fault(monkeypatch)
    assert script(name, [*argv, "--identifier", "ref"], capsys)[0] == 0
    return counter.targets


@pytest.mark.parametrize("kind", list(SCRIPTS))
def test_a_write_that_fails_at_any_commit_names_the_file_and_the_same_command_resumes(
        kind, tmp_path, monkeypatch, capsys, request):
    name, argv, folder = SCRIPTS[kind]
    monkeypatch.chdir(tmp_path)
    targets = reference_run(kind, tmp_path, monkeypatch, capsys, request)
    reference = weights_of(tmp_path / folder / "ref")
    assert {"resume_state.npz", "final.weights.h5"} <= {p.name for p in targets}
    for n in write_points(kind, targets):
        identifier = f"fault{n}"
        fault = Fault(monkeypatch, at=n)
        code, err = script(name, [*argv, "--identifier", identifier], capsys)
        target = fault.targets[-1]
        assert code == 1 and len(err) == 1, (n, target, err)
        assert f"cannot write {target}" in err[0] and "No space left on device (errno 28)" in err[0], err
        assert "run the same command again" in err[0]
        assert snapshot(tmp_path) == fault.disk, (n, target)  # nothing changed after the fault
        monkeypatch.undo()
        monkeypatch.chdir(tmp_path)
        printed = []
        code, err = script(name, [*argv, "--identifier", identifier], capsys, printed)
        assert code == 0, (n, target, err)
        saved = any(t.name == "resume_state.npz" for t in fault.targets[:-1])  # a state reached the disk
        assert ("resuming" in printed[0]) == saved, (n, target)
        assert ("interrupted before its first saved state: starting it again" in printed[0]) == (not saved)
        run = tmp_path / folder / identifier
        assert same_weights(weights_of(run), reference), (n, target)
        assert not (run / "resume_state.npz").exists() and not (run / ".staged").exists()
        assert history(folder, identifier) == history(folder, "ref"), (n, target)


def test_sigkill_at_a_commit_then_the_same_command_finishes_the_run(tmp_path, monkeypatch, capsys, request):
    name, argv, folder = SCRIPTS["seeker"]
    monkeypatch.chdir(tmp_path)
    names = [p.name for p in reference_run("seeker", tmp_path, monkeypatch, capsys, request)]
    reference = weights_of(tmp_path / folder / "ref")
    # killed writing the first epoch's resume state (its temporary file left behind), and after it, before the
    # best weights move into place (the table above covers every kind of commit with an exception)
    for n in (names.index("resume_state.npz") + 1, names.index("resume_state.npz") + 2):
        identifier = f"kill{n}"
        killed = subprocess.run([sys.executable, str(ROOT / "tests" / "faults.py"), "kill", str(n), name, *argv,
                                 "--identifier", identifier], cwd=tmp_path, capture_output=True, text=True,
                                timeout=300)
        assert killed.returncode == 137, killed.stderr
        run = tmp_path / folder / identifier
        assert not (run / "final.weights.h5").exists() and (run / ".lock").exists()
        printed = []
        code, err = script(name, [*argv, "--identifier", identifier], capsys, printed)
        assert code == 0, (n, err)
        first_epoch = n == names.index("resume_state.npz") + 1
        assert ("starting it again" if first_epoch else "resuming") in printed[0], printed
        assert not [p.name for p in run.iterdir() if ".tmp" in p.name]  # no temporary file outlives a run
        assert same_weights(weights_of(run), reference), n
        assert sorted(p.name for p in run.iterdir()) == ["best.weights.h5", "final.weights.h5"]


def test_a_resume_state_cut_short_is_named_with_the_fix_and_nothing_changes(tmp_path, monkeypatch, capsys,
                                                                            request):
    # As a crash of the machine could leave a file written without the toolkit's flush-then-rename.
    name, argv, folder = SCRIPTS["seeker"]
    monkeypatch.chdir(tmp_path)
    targets = reference_run("seeker", tmp_path, monkeypatch, capsys, request)
    Fault(monkeypatch, at=[p.name for p in targets].index("final.weights.h5") + 1)
    assert script(name, [*argv, "--identifier", "cut"], capsys)[0] == 1
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    state = tmp_path / folder / "cut" / "resume_state.npz"
    state.write_bytes(state.read_bytes()[: state.stat().st_size // 2])
    before = snapshot(tmp_path)
    code, err = script(name, [*argv, "--identifier", "cut"], capsys)
    assert code == 2 and len(err) == 1 and f"cannot read the resume state {state.relative_to(tmp_path)}" in err[0]
    assert "--overwrite" in err[0] and snapshot(tmp_path) == before


def test_an_evaluation_of_a_run_still_training_is_refused_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    weights = tmp_path / SCRIPTS["hns-alpha"][2] / "busy"
    weights.mkdir(parents=True)
    (weights / "alpha_1.00.weights.h5").write_bytes(b"written by the training")
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; sys.path.insert(0, sys.argv[1]); "
                               "from utils.runs import RunLock; RunLock(sys.argv[2]).acquire(); print('held', "
                               "flush=True); time.sleep(120)", str(ROOT), str(weights / ".lock")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        before = snapshot(tmp_path)
        code, err = script("evaluation.py", [*TINY, "--identifier", "busy"], capsys)
    finally:
        holder.kill()
        holder.wait()
    assert code == 2 and len(err) == 1 and f"in use by process {holder.pid}" in err[0]
    assert snapshot(tmp_path) == before


def test_the_cause_of_a_failed_write_is_the_systems_in_a_few_words():
    from utils.runs.atomic import describe

    h5py_error = OSError(28, "Can't close file (file write failed: time = Mon Dec  7 06:48:54 2026\n, filename = "
                             "'x.tmp', file descriptor = 9, errno = 28, error message = 'No space left on device', "
                             "buf = 0x55, total write size = 2048)")
    assert describe(h5py_error) == "No space left on device (errno 28)"
    assert describe(OSError(13, "Permission denied")) == "Permission denied (errno 13)"
    assert describe(OSError("Unable to synchronously create file (unable to open file: name = 'w.h5', errno = 30, "
                            "error message = 'Read-only file system', flags = 13)")) == "Read-only file system (errno 30)"
