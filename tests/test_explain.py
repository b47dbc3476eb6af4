"""Tests of explain.py and its reports, and of the CEM comparison: checks, IoU, the files, the script's errors."""
from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from utils.errors import UsageError
from utils.evaluation.contrastive import compare_pp_pn, summarize, support_iou
from utils.explainers.base import Explanation
from utils.reporting.explanations import contrastive_figures
from utils.reporting.plotting import page_paths

SHAPE = (8, 8, 1)
FAST = dict(kappa=0.0, beta=0.05, gamma=1.0, c_init=10.0, c_steps=3, max_iterations=30, learning_rate_init=1e-1)


def _randomize(model, seed):
    """Every weight N(0, 0.3^2): predictions that depend on the input (the default init leaves them to
    the biases), and non-zero biases, without which a ReLU net has zero gradient at the empty image
    where every PP search starts."""
    rng = np.random.default_rng(seed)
    for v in model.weights:
        v.assign(rng.normal(0.0, 0.3, v.shape).astype(np.float32))
    return model


@pytest.fixture(scope="module")
def tiny():
    """seeker_small, hider autoencoder and a deterministic HnS model on 8x8x1 images, 3 classes, untrained."""
    from networks.binary import build_neuron
    from networks.hider import build_hider
    from networks.hns import HideAndSeek
    from networks.seeker import build_seeker

    keras.utils.set_random_seed(3)
    seeker = _randomize(build_seeker("small", SHAPE, 3), 0)
    autoencoder = build_hider("small", SHAPE, out_channels=1)
    hns = HideAndSeek(_randomize(build_hider("small", SHAPE, out_channels=1, logits=True), 1),
                      _randomize(build_seeker("small", SHAPE, 3), 2), build_neuron(False))
    hns.build((None, *SHAPE))
    x = np.random.default_rng(0).uniform(0.0, 1.0, (5, *SHAPE)).astype(np.float32)
    return seeker, autoencoder, hns, x


def test_support_iou_matches_hand_computed_values():
    pp = np.zeros((4, 2, 2, 1), np.float32)
    mask = np.zeros((4, 2, 2, 1), np.float32)
    pp[0, 0, 0] = pp[0, 0, 1] = 0.5            # S = {a, b}
    mask[0, 0, 1] = mask[0, 1, 1] = 1.0        # K = {b, d}: IoU 1/3
    pp[1, 0, 0] = 0.04                         # below the threshold: S empty, K = {a}: IoU 0
    mask[1, 0, 0] = 1.0
    found = [True, True, True, False]          # image 2: both empty -> 1; image 3: not found -> None
    assert support_iou(pp, found, mask, threshold=0.05) == [pytest.approx(1 / 3), 0.0, 1.0, None]


def test_summarize_counts_a_pn_that_keeps_the_prediction_as_a_failure():
    # Logits = x itself: the class is the largest of the 3 features.
    model = keras.Sequential([keras.Input((3,)), keras.layers.Identity()])
    x = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0]], np.float32)
    pn = np.array([[1, 2, 0], [1, 0.5, 0], [0, 1, 0]], np.float32)  # changes, keeps (bad), not found
    exp = Explanation("cem-pn", np.zeros((3, 3)), np.array([0, 0, 1]), 0.0, extras=dict(
        mode="PN", X_pred=np.array([0, 0, 1]), found=np.array([True, True, False]), c=np.ones(3),
        l0=np.array([1, 1, 0]), l1=np.array([2.0, 0.5, 0.0]), l2=np.array([2.0, 0.5, 0.0]), PN=pn,
        PN_pred=np.array([1, 0, -1])))
    s = summarize(model, exp)
    assert (s["found"], s["verified"], s["failures"]) == (2, 1, [1])
    assert s["found_rate"] == pytest.approx(2 / 3)
    assert s["mean_l0"] == 1.0 and s["mean_l1"] == pytest.approx(1.25)
    assert s["nonzero_share"] == pytest.approx(1 / 3)


def test_page_paths_split_rows():
    one = page_paths("d", "e", 3, per_page=10)
    assert [(p.name, r) for p, r in one] == [("e.png", slice(0, 3))]
    many = page_paths("d", "e", 25, per_page=10)
    assert [(p.name, r) for p, r in many] == [("e_1.png", slice(0, 10)), ("e_2.png", slice(10, 20)),
                                              ("e_3.png", slice(20, 25))]


def test_compare_pp_pn_sane_numbers_and_figures(tiny, tmp_path):
    seeker, autoencoder, hns, x = tiny
    labels = np.array([0, 1, 2, 0, 1])
    report, views = compare_pp_pn({"pretrained": seeker, "hns": hns.seeker}, autoencoder, hns, x, labels, FAST)
    mask, _, _ = hns.mask(x)
    assert report["hns"]["kept_share"] == pytest.approx(float(np.mean(mask)))
    assert report["settings"]["max_iterations"] == 30
    for name, model in (("pretrained", seeker), ("hns", hns.seeker)):
        r = report["seekers"][name]
        for mode in ("PP", "PN"):
            exp = views["explanations"][name][mode]
            s = r[mode]
            # found counts the rows flagged found, each checked here by the model itself
            e = exp.extras
            rerun = np.argmax(model(e[mode]), -1)
            valid = rerun != e["X_pred"] if mode == "PN" else rerun == e["X_pred"]
            assert s["found"] == int(e["found"].sum()) and s["images"] == 5
            # CEM only returns iterates it judged valid: the re-run must agree on every one.
            assert np.all(valid[e["found"]]) and s["verified"] == s["found"] and s["failures"] == []
        assert r["PN"]["found"] > 0, "an untrained 3-class net should be easy to flip"
        ious = r["iou"]["per_image"]
        assert len(ious) == 5
        assert sum(v is not None for v in ious) == r["PP"]["found"]
        assert all(0.0 <= v <= 1.0 for v in ious if v is not None)
        if r["PP"]["found"]:
            assert r["iou"]["mean"] == pytest.approx(np.mean([v for v in ious if v is not None]))
    assert report["seekers"]["pretrained"]["pred"] == np.argmax(seeker(x), -1).tolist()
    report["checkpoint"] = "alpha_0.50.weights.h5"
    written = contrastive_figures(report, views, x, tmp_path)
    assert sorted(written) == sorted(str(tmp_path / f"contrastive_{n}.png") for n in ("pretrained", "hns"))
    assert all((tmp_path / f"contrastive_{n}.png").stat().st_size > 0 for n in ("pretrained", "hns"))
    assert not list(tmp_path.glob(".*tmp*"))


def test_compare_pp_pn_computes_without_writing(tiny, tmp_path, monkeypatch):
    seeker, _, hns, x = tiny
    monkeypatch.chdir(tmp_path)
    compare_pp_pn({"s": seeker}, None, hns, x[:2], [0, 1], {**FAST, "gamma": 0.0, "c_steps": 1})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv, match", [
    (["--n", "0"], "--n must be >= 1"),
    (["--sample_from_class", "10"], r"--sample_from_class must be a class index >= 0 \(at most 9\)"),
    (["--no_ae", "--gamma", "5"], "exclude each other"),
    (["--c_steps", "0"], "--c_steps must be >= 1"),
    (["--beta", "-1"], "--beta must be"),
    (["--save_every", "50", "--max_iterations", "20"], "--save_every must be in"),
    (["--identifier", "absent"], "run pretrain_seeker.py --config mnist-5k --identifier absent"),
    (["--method", "lime"], "invalid choice: 'lime'"),
    (["--infiller", "gan"], "invalid choice: 'gan'"),
    (["--grid", "5"], "--grid 5 does not divide the image size 28"),
    (["--temperature", "0"], "--temperature must be > 0"),
    (["--learning_rate", "-0.1"], "--learning_rate must be > 0"),
    (["--reg_coef", "-1"], "--reg_coef must be >= 0"),
    (["--budget", "1.5"], r"--budget must be in \(0, 1\]"),
    (["--method", "occlusion", "--patch", "29"], "--patch 29 is larger than the image"),
    (["--method", "occlusion", "--patch", "2", "--stride", "3"], "--stride 3 is larger than the patch"),
])
def test_bad_input_is_a_usage_error_before_anything_is_written(argv, match, tmp_path, monkeypatch):
    import explain

    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match=match):
        explain.main(argv)
    assert list(tmp_path.iterdir()) == []


def test_only_a_typed_learning_rate_is_cems():
    from utils.config import COMMON, EXPLAIN, parse_config
    from utils.config.arguments import cem_arguments
    from utils.explainers.choices import LEARNING_RATES

    CEM_LEARNING_RATE = LEARNING_RATES["cem"]

    def lr(*argv, script="explain.py"):
        return cem_arguments(parse_config(list(argv), script, "", groups=(COMMON, EXPLAIN)))["learning_rate_init"]

    assert lr() == CEM_LEARNING_RATE
    assert lr("--learning_rate", "0.1") == lr("--learn", "0.1") == 0.1  # argparse takes unique prefixes
    # the preset's learning rate is Adam's (5e-4 for collaborative training): never CEM's
    assert lr(script="collaborative_training.py") == CEM_LEARNING_RATE


@pytest.mark.parametrize("argv, fix", [(["--method", "cem-pp"], "or use --no_ae"),
                                       (["--infiller", "autoencoder"], "or choose another --infiller")])
def test_missing_autoencoder_names_the_fix(tmp_path, monkeypatch, argv, fix):
    import explain
    from networks.seeker import build_seeker
    from networks.weights import save_weights

    monkeypatch.chdir(tmp_path)
    save_weights(build_seeker("small", (28, 28, 1), 10), tmp_path / "s.weights.h5")
    with pytest.raises(UsageError, match=f"pretrain_hider.py .* {fix}"):
        explain.main(["--seeker_weights", str(tmp_path / "s.weights.h5"), "--identifier", "absent", *argv])
    assert [p.name for p in tmp_path.iterdir()] == ["s.weights.h5"]


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    from networks.hider import build_hider
    from networks.seeker import build_seeker
    from networks.weights import save_weights

    d = tmp_path_factory.mktemp("explain")
    keras.utils.set_random_seed(0)
    save_weights(_randomize(build_seeker("small", (28, 28, 1), 10), 0), d / "s.weights.h5")
    save_weights(build_hider("small", (28, 28, 1), out_channels=1), d / "h.weights.h5")
    return d


def test_explain_cem_end_to_end(weights, monkeypatch, capsys):
    import explain

    args = list(map(str, ["--seeker_weights", weights / "s.weights.h5", "--hider_weights", weights / "h.weights.h5",
                          "--method", "cem-pn", "--max_iterations", "20", "--c_steps", "2", "--n", "3",
                          "--identifier", "t", "--save_every", "10", "--sample_from_class", "7"]))
    monkeypatch.chdir(weights)
    explain.main(args)
    done = capsys.readouterr()
    out = weights / "results" / "mnist-5k" / "explanations" / "cem-pn" / "t"
    report = json.loads((out / "explanations.json").read_text())
    assert [r["label"] for r in report["images"]] == [7, 7, 7]
    # The preset's Adam learning rate (1e-3) must not leak into CEM's own default.
    assert report["settings"]["learning_rate_init"] == 0.01
    assert report["config"]["learning_rate"] == 0.01  # the file records the rate CEM used, not Adam's for training
    assert report["settings"]["max_iterations"] == 20 and report["settings"]["gamma"] == 100.0
    s = report["summary"]["cem"]
    assert s["verified"] == s["found"] == sum(r["found"] for r in report["images"])
    assert f"CEM: found for {s['found']}/3" in done.out
    assert (out / "explanations.png").stat().st_size > 0
    with np.load(out / "savepoints.npz") as saved:
        assert saved["iterations"].tolist() == [10, 20, 30, 40]
        assert saved["iterates"].shape == (4, 3, 28, 28, 1)
    before = (out / "explanations.json").read_text()
    with pytest.raises(UsageError, match="--overwrite"):
        explain.main(args)
    assert (out / "explanations.json").read_text() == before


@pytest.mark.parametrize("method", ["fido-ssr", "integrated-gradients"])
def test_explain_post_hoc_end_to_end(weights, method, monkeypatch):
    import explain

    monkeypatch.chdir(weights)
    explain.main(["--seeker_weights", str(weights / "s.weights.h5"), "--method", method, "--epochs", "20",
                  "--steps", "8", "--n", "4", "--budget", "0.05", "--identifier", "t", "--quiet"])
    out = weights / "results" / "mnist-5k" / "explanations" / method / "t"
    report = json.loads((out / "explanations.json").read_text())
    assert report["method"] == method and len(report["images"]) == 4
    for r in report["images"]:
        assert r["kept_at_budget"] == 39 and 0 <= r["pred_filled"] <= 9 and r["seconds"] > 0   # 5% of 784
        assert (r["loss"] is None) == (method != "fido-ssr") and (r["kept"] is None) == (method != "fido-ssr")
    assert report["settings"]["budget"] == 0.05 and (out / "explanations.png").stat().st_size > 0
    if method == "fido-ssr":
        assert report["config"]["learning_rate"] == 0.05  # FIDO's own, which it used
    assert report["legend"]["kept"].startswith("pixels in the sufficient" if method == "fido-ssr" else "null")


@pytest.mark.parametrize("objective", ["own", "topk"])
def test_explain_refines_the_hns_run_s_logits_end_to_end(weights, objective, monkeypatch):
    import explain
    from networks.build import build_hns
    from networks.weights import save_weights
    from utils.config import COMMON, EXPLAIN, HNS, parse_config
    from utils.config.arguments import hns_arguments
    from utils.stages.runs import hns_model_type, series

    monkeypatch.chdir(weights)
    argv = ["--seeker_weights", str(weights / "s.weights.h5"), "--method", "bbmp-ssr", "--start", "hns", "--steps",
            "3", "--refine_objective", objective, "--n", "4", "--identifier", "t", "--quiet"]
    cfg = parse_config(argv, "explain.py", "", groups=(COMMON, HNS, EXPLAIN))
    final = series(cfg, hns_model_type(cfg))[0].paths.final   # the HnS run the flags name, found as faithfulness.py
    if not final.is_file():
        keras.utils.set_random_seed(1)
        final.parent.mkdir(parents=True, exist_ok=True)
        save_weights(build_hns(cfg.image_shape, 10, **hns_arguments(cfg, start_weights=False)), final)
    explain.main(argv)
    name = "hns+refine3" if objective == "topk" else "hns+refine3-bbmp-ssr"
    report = json.loads((weights / "results" / "mnist-5k" / "explanations" / name / "t" / "explanations.json")
                        .read_text())
    settings = report["settings"]
    assert report["method"] == name and settings["steps"] == settings["epochs"] == 3
    assert settings["start_checkpoint"] == str(final) and settings["objective"] == ("topk" if objective == "topk"
                                                                                     else "ssr")
    assert all(r["seconds"] >= settings["start_seconds_per_image"] for r in report["images"])
    if objective == "topk":   # the refined top-k mask keeps each image's HnS pixels (at least one)
        assert [r["kept"] for r in report["images"]] == [max(1, k) for k in settings["hns_kept"]]
        assert report["legend"]["kept"].startswith("the HnS mask's pixels")


def test_a_start_without_an_hns_run_names_the_training_command(weights, monkeypatch):
    import explain

    monkeypatch.chdir(weights)
    with pytest.raises(UsageError, match="collaborative_training.py"):
        explain.main(["--seeker_weights", str(weights / "s.weights.h5"), "--method", "bbmp-ssr", "--start", "hns",
                      "--identifier", "no-hns-run"])
