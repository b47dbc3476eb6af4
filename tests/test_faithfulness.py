"""Faithfulness: ROAD imputation, judges' metrics, ground truth, the patches data set, the EVAL-X evaluator."""
import dataclasses

import keras
import numpy as np
import pytest

from utils.data import patches
from utils.evaluation.faithfulness import (curve_area, ground_truth, leakage_correct, mask_ground_truth, mean_se,
                                           precision)
from utils.evaluation.road import NEIGHBOURS, impute


def test_road_imputation_satisfies_its_neighbourhood_equations():
    rng = np.random.default_rng(0)
    x = rng.random((2, 6, 5, 2))
    keep = rng.random((2, 6, 5)) < 0.4
    y = impute(x, keep, noise=0.0)
    assert np.array_equal(y[keep], x[keep].astype(np.float32))          # kept pixels untouched
    for i, r, c in zip(*np.nonzero(~keep)):
        total, weighted = 0.0, 0.0
        for dr, dc, w in NEIGHBOURS:
            if 0 <= r + dr < 6 and 0 <= c + dc < 5:
                total += w
                weighted = weighted + w * y[i, r + dr, c + dc]
        assert np.allclose(total * y[i, r, c], weighted, atol=1e-5)      # the weighted mean of its neighbours


def test_road_imputation_by_hand_and_edge_cases():
    # one removed pixel in the middle of a 3 x 3 image: the weighted mean of its 8 kept neighbours
    x = np.arange(9, dtype=np.float64).reshape(1, 3, 3, 1)
    keep = np.ones((1, 3, 3), bool)
    keep[0, 1, 1] = False
    expected = (1 / 6) * (1 + 3 + 5 + 7) + (1 / 12) * (0 + 2 + 6 + 8)
    assert impute(x, keep, noise=0.0)[0, 1, 1, 0] == pytest.approx(expected)
    nothing = impute(np.ones((2, 4, 4, 1)), np.zeros((2, 4, 4), bool), noise=0.0)
    assert np.array_equal(nothing, np.zeros((2, 4, 4, 1)))               # nothing to impute from: zeros
    noisy = impute(x, keep, noise=0.01, seed=1)[0, 1, 1, 0]
    assert noisy != pytest.approx(expected) and abs(noisy - expected) < 0.05


def test_ground_truth_of_the_true_evidence_and_of_a_miss():
    evidence = np.zeros((3, 8, 8), bool)
    evidence[0, 2:4, 2:5] = True
    evidence[1, 0, :] = True
    evidence[2, 7, 7] = True
    perfect = ground_truth(evidence.astype(float), evidence)
    assert np.all(perfect["tpr"] == 1) and np.all(perfect["fdr"] == 0) and np.all(perfect["pointing"])
    miss = ground_truth((~evidence).astype(float), evidence)
    assert np.all(miss["tpr"] == 0) and np.all(miss["fdr"] == 1) and not np.any(miss["pointing"])
    own = mask_ground_truth(evidence | np.eye(8, dtype=bool)[None], evidence)   # the evidence plus a diagonal
    assert np.all(own["tpr"] == 1) and own["fdr"][2] == pytest.approx(7 / 8)


def test_precision_is_the_share_of_the_kept_pixels_on_the_evidence():
    evidence = np.zeros((4, 4, 4), bool)
    evidence[:, :2, :2] = True                      # a 2 x 2 block of evidence in every image
    mask = np.zeros((4, 4, 4), bool)
    mask[0, 0, :] = True                            # the top row: 2 of its 4 pixels on the evidence
    mask[1, 1, 1] = True                            # one pixel, on the evidence
    mask[3] = True                                  # the whole image: 4 of 16; image 2 keeps nothing
    assert precision(mask, evidence).tolist() == [0.5, 1.0, 0.0, 0.25]


def test_every_row_of_the_benchmark_reports_the_precision_of_its_cut():
    from types import SimpleNamespace

    from utils.evaluation.benchmark import score_method
    from utils.explainers.infillers import build_infiller
    from utils.reporting.faithfulness_report import faithfulness_csv, faithfulness_table, line

    # 2 images of 4 x 4. Evidence: image 0 pixels (0, 0), (0, 1); image 1 pixel (3, 3). The HnS mask keeps
    # (0, 0), (2, 2) in image 0 and (3, 3), (0, 0), (1, 1), (2, 2) in image 1: precision 1/2 and 1/4, mean
    # 0.375, standard error std(0.5, 0.25) / sqrt 2 = 0.125. A ranking with the evidence first, cut at those
    # 2 and 4 pixels: 1 and 1/4 (mean 0.625, SE 0.375); at the fixed budget 25% (4 pixels): 2/4 and 1/4.
    evidence = np.zeros((2, 4, 4), bool)
    evidence[0, 0, :2] = evidence[1, 3, 3] = True
    hns = np.zeros((2, 4, 4), bool)
    hns[0, 0, 0] = hns[0, 2, 2] = True
    hns[1, 3, 3] = hns[1, 0, 0] = hns[1, 1, 1] = hns[1, 2, 2] = True
    ranking = evidence + np.arange(16).reshape(4, 4)[::-1, ::-1] / 100
    x = np.random.default_rng(0).random((2, 4, 4, 1)).astype(np.float32)
    labels = np.array([0, 1])
    every = SimpleNamespace(correct=lambda images, y: np.ones(len(y), bool),
                            label_probability=lambda images, y: np.ones(len(y)))
    judges = [SimpleNamespace(name=name, **vars(every)) for name in ("evalx", "seeker")]
    own = SimpleNamespace(name="co-trained HnS seeker (not faithfulness)", **vars(every))
    probe = SimpleNamespace(predict=lambda train, y, test, repeat: np.zeros(len(test), int))
    settings = dict(seed=0, leakage_folds=2, probe_epochs=1)
    args = (own, x, labels, evidence, [0.25], build_infiller("zero", 4), probe)
    summary, rows, _ = score_method("hns", hns.astype(float), 0.0, hns, hns, judges, *args, **settings)
    assert rows[0]["precision"] == (0.375, pytest.approx(0.125))
    ranked, ranked_rows, _ = score_method("sobel", ranking, 0.0, None, hns, judges, *args, **settings)
    assert ranked["at_hns_budget"]["precision"] == (0.625, pytest.approx(0.375))
    assert ranked_rows[1]["budget"] == 0.25 and ranked_rows[1]["precision"] == (0.375, pytest.approx(0.125))
    assert ranked["tpr"][0] == 1.0 and ranked["pointing"][0] == 1.0   # at |evidence|: the evidence first
    assert "precision 0.375+-0.125  TPR" in line("hns", summary)
    assert "precision 0.625+-0.375  TPR 1.000" in line("sobel", ranked)
    report = {"images": 2, "split": "test", "methods": {"hns": summary, "sobel": ranked}}
    assert "share of the kept pixels on the evidence" in faithfulness_table(report)
    header = faithfulness_csv(rows + ranked_rows).splitlines()[0].split(",")
    assert {"precision", "precision_se"} <= set(header)


def test_curve_area_is_the_mean_height_against_log_budget():
    values = np.array([[1.0, 1.0, 1.0], [0.0, 0.5, 1.0]])
    area = curve_area(values, [0.01, 0.1, 1.0])
    assert area[0] == pytest.approx(1.0) and area[1] == pytest.approx(0.5)
    assert mean_se([1, 1, 0, 0]) == (0.5, pytest.approx(np.std([1, 1, 0, 0], ddof=1) / 2))


def test_cross_validated_leakage_reads_an_encoding_and_not_noise():
    from utils.evaluation.leakage import LeakageProbe

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 200)
    noise = rng.random((200, 12, 12)) < 0.2
    code = noise.copy()
    for i, c in enumerate(labels):                      # the class written in the mask's corner
        code[i, :3, 3 * c:3 * c + 3] = True
    probe = LeakageProbe((12, 12), 4, epochs=1, seed=0)
    assert leakage_correct(code, labels, probe, folds=4, epochs=60).mean() > 0.9
    assert leakage_correct(noise, labels, probe, folds=4, epochs=60).mean() < 0.45   # chance 0.25


# --- the patches data set ----------------------------------------------------------------------------

def test_patches_evidence_is_exactly_the_class_object_and_classes_are_balanced():
    x, y, evidence = patches.generate(120, seed=5)
    assert np.array_equal(np.bincount(y), [20] * 6)
    without, _, empty = patches.generate(120, seed=5, with_object=False)
    assert not empty.any()
    changed = np.any(x != without, axis=-1)             # the same image but for the object
    assert np.array_equal(changed, evidence)
    for i in range(6):                                   # the evidence has the shape of the class's glyph
        rows, cols = np.nonzero(evidence[i])
        box = evidence[i, rows.min():rows.min() + 7, cols.min():cols.min() + 7]
        glyph = patches.CLASS_GLYPHS[patches.CLASSES[y[i]]]
        assert box.shape == glyph.shape and np.array_equal(box, glyph[:box.shape[0], :box.shape[1]])
    again, _, _ = patches.generate(120, seed=5)
    assert np.array_equal(again, x)                      # a deterministic data set


def test_without_its_object_an_image_does_not_depend_on_the_class():
    # Everything but the class object is drawn from the image's random stream alone: rendered for any
    # class, the object-free image is the same, pixel for pixel.
    for i in range(20):
        images = [patches.render(label, np.random.default_rng([3, i]), with_object=False)[0] for label in range(6)]
        assert all(np.array_equal(images[0], other) for other in images[1:])


@pytest.mark.slow
def test_distractors_and_background_carry_no_class_information():
    # ... so a classifier shown only the distractors and background is at chance
    # (1/6; 600 held-out images, standard error 0.015).
    from networks.seeker import build_seeker

    blind, y, _ = patches.generate(3000, seed=9, with_object=False)
    x = blind.astype(np.float32) / 255
    keras.utils.set_random_seed(0)
    model = build_seeker("small", x.shape[1:], 6)
    model.compile(keras.optimizers.Adam(2e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(x[:2400], y[:2400], batch_size=64, epochs=12, verbose=0)
    assert abs(model.evaluate(x[2400:], y[2400:], verbose=0)[1] - 1 / 6) < 0.06


# --- the EVAL-X evaluator ----------------------------------------------------------------------------

def test_evalx_masks_follow_their_rates_and_the_grid():
    from networks.evalx import RandomMaskClassifier
    from networks.seeker import build_seeker

    model = RandomMaskClassifier(build_seeker("small", (8, 8, 1), 3), min_keep_rate=0.01, seed=0)
    keep = model.random_keep(np.zeros((4000, 8, 8, 1), np.float32)).numpy()
    assert set(np.unique(keep)) <= {0.0, 1.0}
    rates = keep.mean(axis=(1, 2, 3))
    assert rates.mean() == pytest.approx(0.505, abs=0.02) and rates.min() < 0.1 and rates.max() > 0.9
    coarse = RandomMaskClassifier(build_seeker("small", (8, 8, 1), 3), grid=2, seed=0)
    cells = coarse.random_keep(np.zeros((50, 8, 8, 1), np.float32)).numpy()[..., 0]
    assert np.all(cells[:, :4, :4] == cells[:, :1, :1])   # whole cells of 4 x 4 pixels


def test_evaluator_reads_random_masks_after_a_short_run():
    # mnist-5k, 3 epochs: accuracy on images with a random 30% of the pixels (zero elsewhere) >= 0.6 (chance 0.1)
    from networks.evalx import RandomMaskClassifier
    from networks.seeker import build_seeker
    from utils.config import parse_config
    from utils.config.arguments import data_arguments
    from utils.data import load_data
    from utils.evaluation.faithfulness import Judge, fill
    from utils.evaluation.prediction import as_float_images
    from utils.explainers.infillers import Zero

    keras.utils.set_random_seed(0)
    data = load_data(**data_arguments(parse_config([], "test.py", "")))
    x, y = as_float_images(data.train.x), data.train.y
    model = RandomMaskClassifier(build_seeker("small", (28, 28, 1), 10), seed=0)
    model.compile(keras.optimizers.Adam(1e-3))
    model.fit(x, y, batch_size=64, epochs=3, verbose=0)
    test = as_float_images(data.test.x[:500])
    keep = np.random.default_rng(0).random(test.shape[:3]) < 0.3
    judge = Judge("evalx", model.classifier)
    assert judge.correct(fill(test, keep, Zero(), np.arange(500)), data.test.y[:500]).mean() >= 0.6


def test_one_evaluator_judges_every_run_of_a_series():
    # faithfulness.py --num_trainings 3 scores run 1 with one judge: a lone evaluator run of seed + 1
    from utils.config.schema import Config
    from utils.stages.judge import judge_config
    from utils.stages.runs import series

    judge = judge_config(Config(config="mnist-5k", identifier="t", seed=4, num_trainings=3))
    (run,) = series(judge, "evalx")
    assert run.index is None and run.seed == 5 and run.paths.weights.name == "t-seed5"


def test_the_judge_is_checked_on_its_own_cells_and_on_the_evidence_alone():
    from types import SimpleNamespace

    from utils.data import Split
    from utils.evaluation.benchmark import evaluator_accuracy
    from utils.explainers.infillers import build_infiller

    # 8 images of 8 x 8: image i is bright (255) in its evidence, pixel (i, i), and black elsewhere
    x = np.zeros((8, 8, 8, 1), np.uint8)
    evidence = np.zeros((8, 8, 8), bool)
    for i in range(8):
        x[i, i, i], evidence[i, i, i] = 255, True
    y = np.arange(8) % 2
    judge = SimpleNamespace(correct=lambda images, labels: images.reshape(len(images), -1).max(axis=1) > 0.5)
    data = SimpleNamespace(test=Split(x, y, evidence))
    out = evaluator_accuracy(judge, data, build_infiller("zero", 8), seed=0, grid=4)
    assert out["whole"][0] == 1.0 and out["evidence_only"][0] == 1.0   # the evidence alone keeps every image
    # random cells of 2 x 2 pixels at rate r keep image i's one bright pixel where its cell is kept
    for rate in (0.03, 0.1, 0.3):
        cells = np.random.default_rng(0).random((8, 4, 4)) < rate
        assert out[f"cells4_{rate:g}"][0] == pytest.approx(np.mean([cells[i, i // 2, i // 2] for i in range(8)]))
    data.test.evidence = None
    assert "evidence_only" not in evaluator_accuracy(judge, data, build_infiller("zero", 8), seed=0)


def test_a_judge_is_refused_unless_it_beats_chance_by_three_standard_errors():
    from utils.errors import UsageError
    from utils.evaluation.benchmark import refuse_a_judge_at_chance

    # 10 classes, 100 images: chance 0.1, SE sqrt(0.1 * 0.9 / 100) = 0.03, floor 0.19
    refuse_a_judge_at_chance(0.191, 100, 10, "w.h5")
    for accuracy in (0.189, 0.1, float("nan")):
        with pytest.raises(UsageError, match=r"judge w.h5 reads .* no better than chance \(0.100; floor 0.190\)"):
            refuse_a_judge_at_chance(accuracy, 100, 10, "w.h5")


def test_a_judge_started_from_the_seeker_is_another_run_and_starts_from_its_weights(tmp_path, monkeypatch):
    from networks.seeker import build_seeker
    from networks.weights import read_weights, save_weights
    from utils.config import fill_dataset_defaults
    from utils.config.schema import Config
    from utils.data.splits import Data, Split
    from utils.explainers.infillers import Zero
    from utils.stages.judge import judge_config
    from utils.stages.pretraining import evaluator_arguments
    from utils.stages.runs import series
    from utils.training.evaluator import train_evaluator

    monkeypatch.chdir(tmp_path)
    scratch = judge_config(Config(config="mnist-5k", identifier="t", seed=4))
    judge = judge_config(Config(config="mnist-5k", identifier="t", seed=4, evaluator_start="seeker"))
    assert (scratch.identifier, judge.identifier) == ("t-seed5", "t-seed5-from-seeker")
    seeker = build_seeker("small", (8, 8, 1), 3)
    save_weights(seeker, "seeker.weights.h5")
    rng = np.random.default_rng(0)
    split = Split(rng.integers(0, 256, (16, 8, 8, 1)).astype(np.uint8), (np.arange(16) % 3).astype(np.int32))
    cfg = fill_dataset_defaults(dataclasses.replace(judge, dataset="mnist", image_size=8, channels=1, num_classes=3,
                                                    batch_size=8, max_epochs=1, learning_rate=0.0, quiet=True))
    (run,) = series(cfg, "evalx")
    trained = train_evaluator(Data(split, split, split, 3), run, Zero(), start="seeker.weights.h5",
                              **evaluator_arguments(cfg))
    start = read_weights("seeker.weights.h5")
    # a learning rate of 0: the judge's weights are the seeker's it started from, and its run saved them
    assert all(np.array_equal(start[k][i], v) for k in start for i, v in enumerate(read_weights(run.paths.best)[k]))
    assert trained.name == seeker.name


def test_the_random_mask_seeker_starts_from_seeker_weights_when_given(tmp_path, monkeypatch):
    # pretrain_seeker.py --random_masks --seeker_weights W: a warm start from W, as the plain seeker's (it
    # was ignored, and a random-mask seeker from scratch can stay at chance for many epochs).
    from networks.seeker import build_seeker
    from networks.weights import read_weights, save_weights
    from utils.config import fill_dataset_defaults
    from utils.config.schema import Config
    from utils.stages.pretraining import pretrain_random_masks

    monkeypatch.chdir(tmp_path)
    save_weights(build_seeker("small", (28, 28, 1), 10), "seeker.weights.h5")
    cfg = fill_dataset_defaults(Config(train_images=64, test_images=32, batch_size=32, max_epochs=1,
                                       learning_rate=0.0, seeker_weights="seeker.weights.h5", quiet=True))
    _, _, paths = pretrain_random_masks(cfg)
    start, best = read_weights("seeker.weights.h5"), read_weights(paths.best)
    assert start.keys() == best.keys()
    assert all(np.array_equal(a, b) for k in start for a, b in zip(start[k], best[k]))  # learning rate 0


def test_refinement_rows_are_named_by_start_and_steps_and_include_the_start_s_time():
    from utils.config import COMMON, EVALX, EXPLAIN, FAITH, HNS, parse_config
    from utils.config.checks import parse_refine_objectives, parse_refine_steps
    from utils.stages.faithfulness import refinement_scores
    from utils.evaluation.refinement import refined_name
    from utils.explainers.topk import top_k_mask

    cfg = parse_config(["--refine_steps", "30,3,0,3", "--refine_objectives", "topk,ssr", "--infiller", "zero"],
                       "faithfulness.py", "", groups=(COMMON, HNS, EVALX, EXPLAIN, FAITH))
    assert parse_refine_steps(cfg.refine_steps) == [0, 3, 30] and parse_refine_objectives(cfg.refine_objectives) == [
        "topk", "ssr"]
    assert parse_refine_steps("") == []   # the default: no refinement rows, the tables as before
    assert refined_name("hns", 30) == "hns+refine30" and refined_name("hns", 3, "bbmp-ssr") == "hns+refine3-bbmp-ssr"
    rng = np.random.default_rng(0)
    seeker = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Flatten(), keras.layers.Dense(3)])
    x, start = rng.random((3, 6, 6, 1)).astype(np.float32), rng.normal(size=(3, 6, 6)).astype(np.float32)
    mask = top_k_mask(start, [0, 2, 5]).astype(np.float32)   # an HnS mask keeping 0, 2 and 5 pixels
    scores, seconds, _ = refinement_scores(cfg, 0, "topk", seeker, x, start, 0.25, mask > 0.5, None, None)
    # K = 0: the start's top k_i, k_i = the HnS mask's pixels (at least one); the hider's pass is in the time
    assert np.array_equal(top_k_mask(scores, [1, 2, 5]), top_k_mask(start, [1, 2, 5])) and seconds >= 0.25


def test_a_judge_that_reads_random_pixels_as_well_as_whole_images_is_named_blind():
    from utils.evaluation.benchmark import blind_judge_note
    # blob_count's blur judge (docs/results): whole 0.976, random 3% 0.988 on 500 images
    blur = {"whole": (0.976, 0.007), "random_0.03": (0.988, 0.005)}
    assert "cannot tell masks apart" in blind_judge_note(blur)
    # its mean judge: random 3% at 0.464, far below whole images
    assert blind_judge_note({"whole": (0.966, 0.008), "random_0.03": (0.464, 0.022)}) is None
    # 2 standard errors of the difference: 0.95 vs 0.93 with se 0.01 each is within 2 * 0.0141
    assert blind_judge_note({"whole": (0.95, 0.01), "random_0.03": (0.93, 0.01)}) is not None
    assert blind_judge_note({"whole": (0.95, 0.01), "random_0.03": (0.91, 0.01)}) is None
