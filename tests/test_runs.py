"""Run files: names, the claim/overwrite/resume policy and the lock (fast, no TensorFlow)."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import ROOT
from utils.errors import UsageError
from utils.runs import (EVALUATOR, RunLock, checkpoint_alpha, checkpoint_label, checkpoint_name, checkpoint_stem,
                        checkpoints, claim_series, explanation_model_type, run_folders, series_lock)
from utils.runs.layout import alpha_decimals
from utils.stages.runs import claimed, lock_path, run_paths, series


def cfg(**kw):
    return SimpleNamespace(**{"config": "c", "identifier": "id", "seed": 5, "num_trainings": 1, "debug": False,
                              "overwrite": False, "resume": False, **kw})


def make(run, status):
    """Give `run` the files of a run in `status`."""
    p = run.paths
    if status == "absent":
        return
    p.make()
    (p.logs / "events").write_text("x")
    if status == "finished":
        p.final.write_text("w")
    elif status == "interrupted":
        p.state.write_text("s")
    elif status == "incomplete":  # killed in its first epoch: a staged file, a temporary one, logs
        (p.weights / ".staged" / "0").mkdir(parents=True)
        (p.weights / ".staged" / "0" / "best.weights.h5").write_text("b")
        (p.weights / ".best.weights.h5.abc.tmp").write_text("t")
    elif status == "incomplete, with weights":  # the same, written by a version that did not stage them
        p.best.write_text("b")


def test_paths_and_series(tmp_path):
    c = cfg(num_trainings=3)
    runs = series(c, "hns/deterministic", tmp_path)
    assert [r.index for r in runs] == [1, 2, 3] and [r.seed for r in runs] == [5, 6, 7]
    assert runs[1].paths.weights == tmp_path / "weights/c/hns/deterministic/id/2"
    assert lock_path(c, "hns/deterministic", tmp_path) == tmp_path / "weights/c/hns/deterministic/id/.lock"
    (lone,) = series(cfg(), "seeker", tmp_path)
    assert lone.index is None and lone.paths.final == tmp_path / "weights/c/seeker/id/final.weights.h5"


def test_a_runs_own_lock_is_its_configurations_lock(tmp_path):
    for c, model_type in ((cfg(num_trainings=3), "hns/deterministic"), (cfg(), EVALUATOR)):
        assert series_lock(series(c, model_type, tmp_path)) == lock_path(c, model_type, tmp_path)
    assert run_folders("c", "seeker", "id", None, tmp_path) == run_paths(cfg(), "seeker", None, tmp_path)


def test_checkpoint_names_are_exact_and_listed_highest_alpha_first(tmp_path):
    assert alpha_decimals(0.05) == 2 and alpha_decimals(0.005) == 3 and alpha_decimals(0.5) == 2
    assert checkpoint_name(0.95, alpha_decimals(0.05)) == "alpha_0.95.weights.h5"
    assert checkpoint_name(0.995, alpha_decimals(0.005)) == "alpha_0.995.weights.h5"
    for name in ("alpha_1.000.weights.h5", "alpha_0.995.weights.h5", "alpha_0.990.weights.h5", "final.weights.h5",
                 "alpha_x.weights.h5", "best.weights.h5"):
        (tmp_path / name).write_text("")
    assert [p.name for p in checkpoints(tmp_path)] == ["alpha_1.000.weights.h5", "alpha_0.995.weights.h5",
                                                       "alpha_0.990.weights.h5", "final.weights.h5"]
    assert checkpoint_alpha("alpha_0.995.weights.h5") == 0.995 and checkpoint_alpha("alpha_x.weights.h5") is None
    assert [checkpoint_label(f"w/{n}.weights.h5") for n in ("alpha_0.20", "alpha_0.995", "final", "interrupted")] == [
        "0.20", "0.995", "final", "interrupted"]
    assert checkpoint_stem("w/alpha_0.20.weights.h5") == "alpha_0.20"


def test_reports_and_other_model_types_are_named_here(tmp_path):
    (run,) = series(cfg(), explanation_model_type("fido-ssr"), tmp_path)
    assert run.paths.explanations == tmp_path / "results/c/explanations/fido-ssr/id/explanations.json"
    (seeker,) = series(cfg(), "seeker", tmp_path)
    assert [p.name for p in (seeker.paths.baseline, seeker.paths.evaluation, seeker.paths.faithfulness)] == [
        "baseline.json", "evaluation.json", "faithfulness.json"]
    assert series(cfg(), EVALUATOR, tmp_path)[0].paths.weights == tmp_path / "weights/c/evalx/id"


def test_status_of_a_run(tmp_path):
    for status in ("absent", "incomplete", "interrupted", "finished"):
        (run,) = series(cfg(identifier=status), "seeker", tmp_path)
        make(run, status)
        assert run.paths.status() == status
    (run,) = series(cfg(identifier="locked_only"), "seeker", tmp_path)
    run.paths.weights.mkdir(parents=True)
    (run.paths.weights / ".lock").write_text("")
    assert run.paths.status() == "absent"  # a lock alone is not a run


@pytest.mark.parametrize("status, overwrite, resume, expected", [
    ("absent", False, False, [False]),
    ("absent", False, True, [False]),            # nothing saved yet: it starts
    ("finished", False, False, "a run already exists"),
    ("finished", False, True, "nothing to resume"),
    ("finished", True, False, [False]),
    ("interrupted", False, False, [True]),
    ("interrupted", False, True, [True]),
    ("interrupted", True, False, [False]),
    ("incomplete", False, False, [False]),       # killed before its first resume state: starts again
    ("incomplete", False, True, [False]),
    ("incomplete, with weights", False, False, "already exists at .* holds .*best.weights.h5 but no resume state"),
    ("incomplete, with weights", True, False, [False]),
])
def test_claim_policy_of_one_run(tmp_path, status, overwrite, resume, expected):
    (run,) = series(cfg(), "seeker", tmp_path)
    make(run, status)
    if isinstance(expected, str):
        before = sorted(p for p in tmp_path.rglob("*"))
        with pytest.raises(UsageError, match=expected):
            claim_series([run], overwrite, resume)
        assert sorted(p for p in tmp_path.rglob("*")) == before  # refused: nothing touched
        return
    todo = claim_series([run], overwrite, resume)
    assert [resuming for _, resuming in todo] == expected
    if not expected[0]:  # starting (again): nothing of an earlier run is left
        assert not run.paths.exists()


def test_a_series_killed_between_two_runs_continues(tmp_path):
    runs = series(cfg(num_trainings=3), "hns/deterministic", tmp_path)
    make(runs[0], "finished")
    todo = claim_series(runs)
    assert [(r.index, resuming) for r, resuming in todo] == [(2, False), (3, False)]
    assert runs[0].paths.final.is_file()


def test_an_interrupted_series_continues_where_it_stopped(tmp_path):
    runs = series(cfg(num_trainings=4), "hns/deterministic", tmp_path)
    for run, status in zip(runs, ("finished", "interrupted", "incomplete", "absent")):
        make(run, status)
    todo = claim_series(runs)
    assert [(r.index, resuming) for r, resuming in todo] == [(2, True), (3, False), (4, False)]
    assert runs[0].paths.final.is_file() and runs[1].paths.state.is_file() and not runs[2].paths.exists()


def test_overwrite_keeps_the_lock_of_whoever_clears(tmp_path):
    c = cfg()
    (run,) = series(c, "seeker", tmp_path)
    make(run, "finished")
    with RunLock(lock_path(c, "seeker", tmp_path)) as lock:
        claim_series([run], overwrite=True)
        assert lock.path.is_file() and not run.paths.final.exists()


def _try_lock(path) -> subprocess.CompletedProcess:
    code = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {str(ROOT)!r})
        from utils.runs import RunLock
        from utils.errors import UsageError
        try:
            RunLock({str(path)!r}).acquire()
            print("acquired")
        except UsageError as e:
            print(e)
    """)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_a_second_process_is_refused_while_the_first_holds_the_lock(tmp_path):
    path = tmp_path / "weights" / "run" / ".lock"
    with RunLock(path):
        assert path.read_text().strip() == str(os.getpid())
        out = _try_lock(path).stdout.strip()
        assert f"in use by process {os.getpid()}" in out and str(path) in out and "\n" not in out
    assert not path.exists() and not (tmp_path / "weights").exists()  # nothing left behind
    assert _try_lock(path).stdout.strip() == "acquired"  # that process died holding it: no stale lock


def test_the_stale_lock_of_a_dead_process_is_taken_over(tmp_path, capsys):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    path = tmp_path / ".lock"
    path.write_text(dead.stdout)  # a kill -9 leaves the file; the kernel has dropped the flock
    with RunLock(path) as lock:
        assert lock.taken_over == int(dead.stdout) and path.read_text().strip() == str(os.getpid())
    assert "no longer running" in capsys.readouterr().out and not path.exists()


def test_the_lock_is_reentrant_within_a_process(tmp_path):
    path = tmp_path / ".lock"
    with RunLock(path):
        with RunLock(path):  # e.g. collaborative_training.py --evaluate evaluating its own run
            pass
        assert path.exists()
    assert not path.exists()


def test_release_keeps_folders_that_hold_files(tmp_path):
    c = cfg()
    (run,) = series(c, "seeker", tmp_path)
    with RunLock(lock_path(c, "seeker", tmp_path)):
        run.paths.make()
        run.paths.final.write_text("w")
    assert run.paths.final.is_file() and not (run.paths.weights / ".lock").exists()


def test_debug_claims_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    c = cfg(debug=True)
    runs = series(c, "seeker")
    make(runs[0], "finished")
    with claimed(c, "seeker", runs) as todo:
        assert todo == [(runs[0], False)] and not lock_path(c, "seeker").exists()


def test_demo_reuses_continues_or_restarts_each_stage(tmp_path):
    import demo

    def stage(status):
        (run,) = series(cfg(identifier=status), "seeker", tmp_path)
        make(run, status)
        return demo.Stage(status, "s.py", [], run.paths.final, run.paths)

    assert demo.how(stage("finished"), force=False) is None
    assert demo.how(stage("interrupted"), force=False) == []      # the script resumes it by itself
    assert demo.how(stage("incomplete"), force=False) == ["--overwrite"]
    assert demo.how(stage("absent"), force=False) == []
    assert demo.how(stage("finished"), force=True) == ["--overwrite"]
    assert demo.how(demo.Stage("evaluation", "e.py", [], Path(tmp_path / "none.json")), force=False) == []


def test_demo_passes_a_users_image_folder_to_every_stage(tmp_path):
    import demo

    plan = demo.stages("example", "mine", data_dir=str(tmp_path))
    # the preset's hider reads the seeker's features, so it does not start from the autoencoder; the
    # autoencoder is still pretrained, for CEM's reconstruction term in the faithfulness stage
    names = [s.name for s in plan]
    assert names[:4] == ["pretrain seeker", "baseline", "pretrain hider", "collaborative training"]
    assert "--hider_weights" not in plan[3].argv
    assert "faithfulness" in names and plan[2].done.name == "final.weights.h5"
    for stage in plan:
        assert stage.argv[stage.argv.index("--data_dir") + 1] == str(tmp_path), stage.name
    # The preset's pixel budget: the HnS stage writes into the topk run folder of the example config.
    assert "example/hns/topk/" in str(plan[-3].done)
    mnist = demo.stages("mnist-5k", "default")
    assert "--data_dir" not in mnist[0].argv and mnist[2].name == "pretrain hider"
    # mnist-5k's plain hider starts the one-pass explainer after the evaluation has recommended a checkpoint, and
    # the benchmark adds its row and the refinements from both starts; a hider on the seeker's features has none
    assert [s.name for s in mnist[-3:]] == ["evaluation", "one-pass explainer", "faithfulness"]
    assert "mnist-5k/amortised/default" in str(mnist[-2].done)
    frontier = mnist[-1].argv
    assert [frontier[frontier.index(f) + 1] for f in ("--methods", "--refine_starts", "--refine_steps")] == \
        ["all,amortised", "hns,amortised", "10,30"]
    assert "one-pass explainer" not in names and "--refine_steps" not in plan[-1].argv
    # Every flag of the common group goes to every stage as typed (grey images stay grey, one seeker for all);
    # the demo's own switches are refused.
    force, config, plan = demo.planned(["--config", "example", "--identifier", "mine", "--data_dir", str(tmp_path),
                                        "--image_size", "32", "--channels", "1", "--seeker_model", "pooling",
                                        "--no-mixed_precision", "--force"])
    assert force and config == "example" and len(plan) == len(names)
    for stage in plan:
        flags = stage.argv
        assert [flags[flags.index(f) + 1] for f in ("--data_dir", "--image_size", "--channels", "--seeker_model")] \
            == [str(tmp_path), "32", "1", "pooling"], stage.name
        assert "--no-mixed_precision" in flags and "--force" not in flags and "--overwrite" not in flags
    for switch in ("--overwrite", "--resume", "--debug", "--alpha"):   # --alpha: a flag of HnS alone
        with pytest.raises(UsageError, match=f"unrecognized arguments: {switch}"):
            demo.planned(["--config", "example", "--data_dir", str(tmp_path), switch])
    # --help describes the preset it runs
    assert "image folder of --data_dir" in demo.describe_preset("example", demo.DEFAULT_CONFIG_FILE)
    assert "MNIST" not in demo.describe_preset("example", demo.DEFAULT_CONFIG_FILE)
    assert "MNIST digits" in demo.describe_preset("mnist-5k", demo.DEFAULT_CONFIG_FILE)


def _report(folder, files):
    from utils.runs.reports import report_files

    with report_files(folder, "r.json") as staged:
        for name, text in files.items():
            (staged / name).write_text(text)


def _killed_at(monkeypatch, n):
    """Make the n-th rename of `utils.runs.atomic` raise, as a kill there would stop the writer."""
    from utils.runs import atomic

    real, count = atomic.replace, [0]

    def replace(source, target):
        count[0] += 1
        if count[0] == n:
            raise KeyboardInterrupt("killed")
        real(source, target)

    monkeypatch.setattr(atomic, "replace", replace)
    return count


def test_a_report_is_replaced_all_at_once_whenever_its_writer_is_killed(tmp_path, monkeypatch):
    from utils.runs.reports import recover_report, report_listing

    old = {"r.json": "old", "a.csv": "old", "gone.png": "old"}
    new = {"r.json": "new", "a.csv": "new", "b.png": "new"}
    count = _killed_at(monkeypatch, 0)  # counts, never kills
    _report(tmp_path / "probe", new)
    renames = count[0]
    monkeypatch.undo()
    assert renames == 5  # the journal, three files, the listing
    for n in range(1, renames + 1):
        folder = tmp_path / f"k{n}"
        _report(folder, old)
        _killed_at(monkeypatch, n)
        with pytest.raises(KeyboardInterrupt):
            _report(folder, new)
        monkeypatch.undo()
        visible = {p.name: p.read_text() for p in folder.iterdir() if not p.name.startswith(".")}
        if "r.json" in visible:  # a reader sees a complete report: the old one or the new one, never a mix
            assert visible in (old, new), (n, visible)
        recover_report(folder, "r.json")  # what the next writer does first
        visible = {p.name: p.read_text() for p in folder.iterdir() if not p.name.startswith(".")}
        assert visible == (old if n == 1 else new), (n, visible)
        assert sorted(report_listing(folder, "r.json")) == sorted(visible)
        assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == [".r.json.files"]


def test_a_report_whose_writer_fails_leaves_the_earlier_one(tmp_path):
    from utils.runs.reports import report_files

    _report(tmp_path, {"r.json": "old", "a.csv": "old"})
    with pytest.raises(ValueError):
        with report_files(tmp_path, "r.json") as staged:
            (staged / "a.csv").write_text("new")
            raise ValueError("the figure failed")
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == {"r.json": "old", "a.csv": "old",
                                                                   ".r.json.files": '[\n  "a.csv",\n  "r.json"\n]\n'}


def test_demo_stages_forked_after_the_shared_imports_run_as_their_own_processes(tmp_path):
    """demo.py imports TensorFlow once and forks each stage from it: a stage that trains gives the same weights as
    in a new interpreter, and a stage's exit code, one-line error or traceback come through (a subprocess drives
    the demo's functions: this test process has started TensorFlow's runtime, which a fork must not have)."""
    stage = tmp_path / "train.py"
    stage.write_text(textwrap.dedent("""
        import sys
        import numpy as np
        import keras
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(2)])
        model.compile("adam", "sparse_categorical_crossentropy")
        x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
        model.fit(x, (x[:, 0] > 0).astype("int32"), epochs=2, batch_size=8, verbose=0)
        open(sys.argv[1], "w").write(repr([float(w.sum()) for w in model.get_weights()]))
        """))
    (tmp_path / "refuses.py").write_text("raise SystemExit('refuses.py: error: --x must be positive')\n")
    (tmp_path / "breaks.py").write_text("raise ValueError('broken')\n")
    (tmp_path / "exits.py").write_text("import sys; sys.exit(3)\n")
    driver = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        import demo
        fork = demo.shared_start()
        d = Path({str(tmp_path)!r})
        codes = [demo.run_stage(d / "train.py", [str(d / "forked.txt")], fork),
                 demo.run_stage(d / "train.py", [str(d / "new.txt")], False)]
        codes += [demo.run_stage(d / s, [], fork) for s in ("refuses.py", "breaks.py", "exits.py")]
        print(fork, codes)
        """)
    result = subprocess.run([sys.executable, "-c", driver], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.stdout.strip().splitlines()[-1] == "True [0, 0, 1, 1, 3]", result.stderr[-2000:]
    forked, new = (tmp_path / "forked.txt").read_text(), (tmp_path / "new.txt").read_text()
    assert forked == new and forked.startswith("[")
    assert "refuses.py: error: --x must be positive" in result.stderr
    assert "ValueError: broken" in result.stderr
