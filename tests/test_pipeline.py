"""End-to-end: the real scripts, in subprocesses, on a few hundred embedded digits."""
import csv
import json

import numpy as np
import pytest

from conftest import run_script, tree

pytestmark = pytest.mark.slow
SMALL = ["--config", "mnist-5k", "--identifier", "t", "--train_images", "400", "--test_images", "200",
         "--batch_size", "32", "--quiet"]
HNS = ["--hider_weights", "weights/mnist-5k/hider/t/best.weights.h5",
       "--seeker_weights", "weights/mnist-5k/seeker/t/best.weights.h5",
       "--baseline", "results/mnist-5k/seeker/t/baseline.json",
       "--patience", "4", "--alpha_step", "0.25", "--min_alpha", "0.5", "--max_epochs", "4"]


# The report's PP/PN comparison runs end to end (both seekers, PP and PN, its file and figures), on 2 images
# and one short c step: its defaults (10 images, 5 x 300 iterations) took a minute of the suite's time.
CEM = ["--cem_images", "2", "--cem_c_steps", "1", "--cem_iterations", "20"]


def ok(result):
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def in_process(script, *args, cwd):
    """A script's command line in this process from `cwd`, through the scripts' entry point (exit code 0), without
    a second TensorFlow start-up."""
    import importlib

    from utils.config.entry import main_wrapper

    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(cwd)
        assert main_wrapper(importlib.import_module(script[:-3]).main, list(args)) == 0


@pytest.fixture(scope="module")
def pipeline_dir(tmp_path_factory):
    """The pipeline: the training scripts as real processes, the others in this one (same entry point)."""
    d = tmp_path_factory.mktemp("pipeline")
    ok(run_script("pretrain_seeker.py", *SMALL, "--max_epochs", "2", cwd=d))
    in_process("baseline.py", *SMALL, cwd=d)
    in_process("pretrain_hider.py", *SMALL, "--max_epochs", "1", cwd=d)
    ok(run_script("collaborative_training.py", *SMALL, *HNS, cwd=d))
    in_process("evaluation.py", *SMALL, "--baseline", "results/mnist-5k/seeker/t/baseline.json",
               "--leakage_epochs", "1", "--examples", "2", *CEM, cwd=d)
    return d


def test_pretraining_and_baseline_files(pipeline_dir):
    d = pipeline_dir
    for kind in ("seeker", "hider"):
        for name in ("best", "final"):
            assert (d / f"weights/mnist-5k/{kind}/t/{name}.weights.h5").is_file()
        assert any(p.name.startswith("events.out.tfevents") for p in (d / f"logs/mnist-5k/{kind}/t").rglob("*"))
    baseline = json.loads((d / "results/mnist-5k/seeker/t/baseline.json").read_text())
    assert baseline["test_images"] == 200 and 0.0 < baseline["accuracy"] <= 1.0
    assert float((d / "results/mnist-5k/seeker/t/baseline.txt").read_text()) == baseline["accuracy"]
    assert (d / "results/mnist-5k/hider/t/reconstructions.png").stat().st_size > 1000


def test_collaborative_training_writes_per_alpha_checkpoints(pipeline_dir):
    w = pipeline_dir / "weights/mnist-5k/hns/deterministic+random-masks+hinge/t"
    names = sorted(p.name for p in w.iterdir())
    assert "final.weights.h5" in names and "alpha_1.00.weights.h5" in names
    logs = pipeline_dir / "logs/mnist-5k/hns/deterministic+random-masks+hinge/t"
    assert any(logs.joinpath("hparams").rglob("events.out.tfevents*"))
    assert any(logs.joinpath("images").rglob("events.out.tfevents*"))


def test_evaluation_report(pipeline_dir):
    r = pipeline_dir / "results/mnist-5k/hns/deterministic+random-masks+hinge/t"
    report = json.loads((r / "evaluation.json").read_text())
    checkpoints = sorted(p.name for p in (pipeline_dir / "weights/mnist-5k/hns/deterministic+random-masks+hinge/t").iterdir())
    assert sorted(c["checkpoint"] for c in report["checkpoints"]) == checkpoints
    for row in report["checkpoints"]:
        assert row["test"]["images"] == 200 and 0 <= row["test"]["I_fg"] <= 1 and 0 <= row["leakage"] <= 1
        assert row["test"]["F"] == pytest.approx(row["test"]["accuracy"] / report["baseline"])
    assert report["recommended"]["checkpoint"] in checkpoints and "validation" in report["recommended"]["rule"]
    # the report says when the recommended masks are one mask for every image
    from utils.evaluation.metrics import FIXED_MASK_AGREEMENT

    agreement = report["recommended"]["test"]["mask_agreement"]
    assert 0 <= agreement <= 1 and (agreement > FIXED_MASK_AGREEMENT) == bool(report["warnings"])
    rows = list(csv.DictReader((r / "evaluation.csv").open()))
    assert len(rows) == len(checkpoints)
    for png in ["tradeoff.png", f"masks_{report['recommended']['checkpoint'].replace('.weights.h5', '')}.png"]:
        assert (r / png).stat().st_size > 1000
    # the PP/PN comparison ran with the settings given, at the recommended checkpoint
    contrastive = report["contrastive"]
    assert contrastive["checkpoint"] == report["recommended"]["checkpoint"]
    assert (contrastive["settings"]["c_steps"], contrastive["settings"]["max_iterations"]) == (1, 20)
    assert set(contrastive["seekers"]) == {"pretrained seeker", "HnS seeker"}
    for png in ("contrastive_pretrained_seeker.png", "contrastive_HnS_seeker.png"):
        assert (r / png).stat().st_size > 1000


def test_existing_run_is_never_clobbered(pipeline_dir, monkeypatch, capsys):
    from test_reliability import run_in_process

    before = tree(pipeline_dir)
    code, err = run_in_process("pretrain_seeker.py", [*SMALL, "--max_epochs", "1"], pipeline_dir, monkeypatch, capsys)
    assert code == 2 and "already exists" in err and len(err.strip().splitlines()) == 1
    assert tree(pipeline_dir) == before


def test_debug_writes_nothing(tmp_path, monkeypatch, capsys):
    from test_reliability import run_in_process

    code, err = run_in_process("pretrain_seeker.py", [*SMALL, "--max_epochs", "1", "--train_images", "100", "--debug"],
                               tmp_path, monkeypatch, capsys)
    assert code == 0, err
    assert tree(tmp_path) == {}


FAITH = [*SMALL, "--faith_images", "24", "--methods", "hns,hns-ranked,random-foreground,gradient,bbmp-ssr",
         "--budgets", "0.05,0.2", "--max_epochs", "3", "--epochs", "5", "--probe_epochs", "5", "--leakage_folds", "2"]


@pytest.fixture(scope="module")
def faithfulness_run(pipeline_dir):
    """The benchmark, in this process, with every weights file load recorded."""
    import faithfulness
    import networks.weights

    loads, real = [], networks.weights.load_weights

    def recording(model, path, *args, **kwargs):
        loads.append((model.name, str(path)))
        return real(model, path, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(pipeline_dir)
        mp.setattr(networks.weights, "load_weights", recording)
        for module in ("networks.build", "utils.stages.explain"):
            import importlib

            if hasattr(importlib.import_module(module), "load_weights"):
                mp.setattr(importlib.import_module(module), "load_weights", recording)
        faithfulness.main(FAITH)
    return loads


def test_faithfulness_report(pipeline_dir, faithfulness_run):
    r = pipeline_dir / "results/mnist-5k/hns/deterministic+random-masks+hinge/t"
    report = json.loads((r / "faithfulness.json").read_text())
    assert report["images"] == 24 and set(report["methods"]) == {"hns", "hns-ranked", "random-foreground",
                                                                 "gradient", "bbmp-ssr"}
    budgets = {m: [row["budget"] for row in report["rows"] if row["method"] == m] for m in report["methods"]}
    assert budgets["hns"] == ["hns"] and budgets["gradient"] == ["hns", 0.05, 0.2]
    for row in report["rows"]:
        for judge in ("evalx", "seeker"):
            mean, se = row[f"keep_{judge}"]
            assert 0 <= mean <= 1 and se >= 0
    hns = report["methods"]["hns"]["at_hns_budget"]
    assert "keep_co-trained HnS seeker (not faithfulness)" in hns
    kept = [row["kept_pixels"] for row in report["rows"] if row["budget"] == "hns"]
    assert len(set(kept)) == 1  # every method cut at the same per-image HnS budgets
    assert report["evaluator"]["weights"].endswith("weights/mnist-5k/evalx/t-seed1/best.weights.h5")
    rows = list(csv.DictReader((r / "faithfulness.csv").open()))
    assert len(rows) == len(report["rows"]) and "keep_evalx_se" in rows[0]
    for png in ("faithfulness_budgets.png", "faithfulness_examples.png", "faithfulness_frontier.png"):
        assert (r / png).stat().st_size > 1000
    assert (pipeline_dir / "weights/mnist-5k/evalx/t-seed1/final.weights.h5").is_file()


def test_the_judges_never_load_the_hns_weights(faithfulness_run):
    checkpoint_loads = [(model, path) for model, path in faithfulness_run if "/hns/" in path]
    assert checkpoint_loads and all(model == "hide_and_seek" for model, _ in checkpoint_loads)
    judges = {path for model, path in faithfulness_run if model == "seeker_small"}
    assert judges == {"weights/mnist-5k/seeker/t/best.weights.h5", "weights/mnist-5k/evalx/t-seed1/best.weights.h5"}


@pytest.mark.parametrize("argv, match", [
    (["--evaluator_weights", "weights/mnist-5k/hider/t/best.weights.h5"], "does not fit model 'seeker_small'"),
    (["--checkpoint", "alpha_0.33.weights.h5"], "--checkpoint alpha_0.33.weights.h5: no such file"),
    (["--identifier", "absent"], r"no checkpoint in weights/mnist-5k/hns/deterministic\+random-masks\+hinge/absent"),
])
def test_faithfulness_bad_input(pipeline_dir, faithfulness_run, monkeypatch, argv, match):
    import faithfulness
    from utils.errors import UsageError

    monkeypatch.chdir(pipeline_dir)
    before = tree(pipeline_dir)
    with pytest.raises(UsageError, match=match):
        faithfulness.main([*FAITH, *argv])
    assert tree(pipeline_dir) == before


def test_a_judge_at_chance_is_refused_before_anything_is_written(pipeline_dir, faithfulness_run, monkeypatch):
    import faithfulness
    from networks.seeker import build_seeker
    from networks.weights import save_weights
    from utils.errors import UsageError

    monkeypatch.chdir(pipeline_dir)
    judge = build_seeker("small", (28, 28, 1), 10)
    kernel, bias = judge.get_layer("seeker_logits").get_weights()
    judge.get_layer("seeker_logits").set_weights([np.zeros_like(kernel), np.eye(10, dtype=bias.dtype)[0]])
    save_weights(judge, "constant.weights.h5")   # names class 0 whatever the image: 0.1 of stratified images
    before = tree(pipeline_dir)
    with pytest.raises(UsageError, match=r"reads 0.100 of the whole test images, no better than chance \(0.100"):
        faithfulness.main([*FAITH, "--evaluator_weights", "constant.weights.h5"])
    assert tree(pipeline_dir) == before


def test_mirrored_strategy_on_two_logical_cpus(pipeline_dir):
    # The same collaborative training as the fixture's, on 2 replicas (global batch 32): finite losses, the
    # alpha schedule runs, each file is written once, and the first epoch matches the one-device run closely.
    d = pipeline_dir
    ok(run_script("collaborative_training.py", *SMALL, *HNS, "--identifier", "mirrored",
                  "--strategy", "mirrored", cwd=d, env={"HNS_CPU_DEVICES": "2"}))
    w = d / "weights/mnist-5k/hns/deterministic+random-masks+hinge/mirrored"
    names = sorted(p.name for p in w.iterdir())
    assert names == sorted(p.name for p in (d / "weights/mnist-5k/hns/deterministic+random-masks+hinge/t").iterdir())
    mirrored = json.loads((d / "results/mnist-5k/hns/deterministic+random-masks+hinge/mirrored/history.json").read_text())
    single = json.loads((d / "results/mnist-5k/hns/deterministic+random-masks+hinge/t/history.json").read_text())
    assert mirrored["alpha_steps"] and all(np.isfinite(e["loss"]) for e in mirrored["epochs"])
    assert mirrored["alpha_steps"][0] == single["alpha_steps"][0]
    assert np.isclose(mirrored["epochs"][0]["loss"], single["epochs"][0]["loss"], rtol=0.02)


def test_bad_strategy_settings_fail_cleanly(tmp_path):
    result = run_script("pretrain_seeker.py", *SMALL, "--strategy", "multiworker", cwd=tmp_path,
                        env={"TF_CONFIG": ""})
    assert result.returncode != 0 and "needs TF_CONFIG" in result.stderr and not (tmp_path / "weights").exists()
    result = run_script("pretrain_seeker.py", *SMALL, "--strategy", "mirrored", "--batch_size", "33", cwd=tmp_path,
                        env={"HNS_CPU_DEVICES": "2"})
    assert result.returncode != 0 and "multiple of the 2 replicas" in result.stderr
    assert not (tmp_path / "weights").exists()


def test_realx_pipeline_with_a_unet_hider_and_an_independent_judge(pipeline_dir, monkeypatch):
    """pretrain_seeker.py --random_masks, a unet hider pretrained and trained against that frozen
    seeker, then judged on the validation split by an evaluator of another seed; the benchmark refuses
    to judge with the very seeker the hider was trained against."""
    import faithfulness
    from networks.weights import read_weights
    from utils.errors import UsageError

    d = pipeline_dir
    realx = "weights/mnist-5k/seeker-random/t/best.weights.h5"
    variant = ["--hider_decoder", "unet", "--seeker_training", "frozen"]
    # in this process, through the same entry point (the fixture runs pretrain_seeker.py and
    # collaborative_training.py as real processes)
    in_process("pretrain_seeker.py", *SMALL, "--random_masks", "--max_epochs", "1", cwd=d)
    in_process("pretrain_hider.py", *SMALL, "--hider_decoder", "unet", "--max_epochs", "1", cwd=d)
    hns = [*HNS[4:], "--hider_weights", "weights/mnist-5k/hider-unet/t/best.weights.h5", "--seeker_weights", realx]
    in_process("collaborative_training.py", *SMALL, *variant, *hns, cwd=d)
    w = d / "weights/mnist-5k/hns/deterministic+unet+frozen+hinge/t"
    start, final = read_weights(d / realx), read_weights(w / "final.weights.h5")
    assert all(np.array_equal(start[k][i], final[f"seeker_small/{k}"][i]) for k in start for i in range(len(start[k])))
    monkeypatch.chdir(d)
    with pytest.raises(UsageError, match="is the frozen seeker the hider was trained against"):
        faithfulness.main([*FAITH, *variant, "--methods", "hns", "--evaluator_weights", realx])
    faithfulness.main([*FAITH, *variant, "--methods", "hns,random-foreground", "--faith_split", "validation"])
    report = json.loads((d / "results/mnist-5k/hns/deterministic+unet+frozen+hinge/t/faithfulness.json").read_text())
    assert report["split"] == "validation" and report["images"] == 24
    assert report["evaluator"]["weights"].endswith("evalx/t-seed1/best.weights.h5")
    assert any("frozen random-mask seeker" in note for note in report["notes"])
