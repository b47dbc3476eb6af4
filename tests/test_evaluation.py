import numpy as np
import pytest

from utils.errors import UsageError
from utils.evaluation import (aggregate_runs, batched, fidelity_standard_error, figures_of_merit, leakage_accuracy,
                              load_baseline, predict_classes, recommend)
from utils.evaluation.metrics import fir
from utils.runs import checkpoint_alpha


def test_figures_on_hand_made_masks():
    # 2 images of 2x2 pixels; foreground marked by hand.
    masks = np.array([[[1, 0], [0, 0]], [[1, 1], [0, 0]]], bool)       # kept: 1 + 2 of 8 pixels
    fg = np.array([[[1, 1], [0, 0]], [[0, 0], [1, 0]]], bool)          # 3 foreground pixels
    preds, labels = np.array([3, 1]), np.array([3, 2])                 # accuracy 0.5
    out = figures_of_merit(preds, labels, masks, fg, baseline=0.8)
    assert out["images"] == 2
    assert out["accuracy"] == 0.5
    assert out["I"] == pytest.approx(5 / 8)
    assert out["I_fg"] == pytest.approx(2 / 3)        # fg hidden: (0,1) of image 0 and (1,0) of image 1
    assert out["F"] == pytest.approx(0.625)
    assert out["FIR"] == pytest.approx(0.625 / (0.625 + 5 / 8))
    assert out["FII"] == pytest.approx(0.625 * 5 / 8)
    assert out["FII_fg"] == pytest.approx(0.625 * 2 / 3)
    assert out["kept_pixels"] == pytest.approx(1.5)
    assert out["all_fg_hidden"] == pytest.approx(0.5)  # image 1 keeps none of its foreground
    assert out["fg_share"] == pytest.approx(3 / 8)
    # kept {(0,0)} and {(0,0), (0,1)}: IoU 1/2 each way round
    assert out["mask_agreement"] == pytest.approx(0.5)
    assert "F" not in figures_of_merit(preds, labels, masks, fg, baseline=None)


def test_figures_where_the_evidence_is_known():
    masks = np.array([[[1, 0], [0, 0]], [[1, 1], [0, 0]]], bool)
    fg = np.ones((2, 2, 2), bool)
    evidence = np.array([[[1, 1], [0, 0]], [[0, 0], [0, 1]]], bool)    # |E| = 2 and 1
    scores = np.array([[[0.9, 0.1], [0.5, 0.0]], [[0.2, 0.8], [0.1, 0.3]]])
    out = figures_of_merit(np.zeros(2), np.zeros(2), masks, fg, 0.8, evidence, scores)
    # top-2 of image 0: (0,0), (1,0): 1 of 2 on E; top-1 of image 1: (0,1), not E
    assert out["tpr"] == pytest.approx((1 / 2 + 0) / 2)
    assert out["pointing"] == pytest.approx(0.5)             # image 0's top pixel (0,0) is E, image 1's is not
    assert out["mask_tpr"] == pytest.approx((1 / 2 + 0) / 2)  # the masks keep (0,0) of E_0 and none of E_1
    assert out["mask_fdr"] == pytest.approx((0 + 1) / 2)      # all of mask 0 on E, none of mask 1
    assert "tpr" not in figures_of_merit(np.zeros(2), np.zeros(2), masks, fg, 0.8)


def test_mask_agreement_tells_a_fixed_mask_from_masks_that_follow_their_image():
    from utils.evaluation.metrics import fixed_mask_warning, mask_agreement

    eye = np.eye(4, dtype=bool).reshape(4, 2, 2)                     # each image keeps another pixel
    assert mask_agreement(eye) == 0.0
    same = np.tile(np.array([[1, 0], [0, 1]], bool), (4, 1, 1))      # one pattern for every image
    assert mask_agreement(same) == 1.0
    # images 0-2 keep pixel 0, image 3 keeps pixels 0 and 1: pairs (0,1) (1,2) (2,3) (3,0), the last wrapping
    # round: IoU 1, 1, 1/2, 1/2
    mixed = np.zeros((4, 2, 2), bool)
    mixed[:, 0, 0] = True
    mixed[3, 0, 1] = True
    assert mask_agreement(mixed) == pytest.approx((1 + 1 + 0.5 + 0.5) / 4)
    assert mask_agreement(np.zeros((3, 2, 2), bool)) == 1.0           # empty masks are all alike
    assert np.isnan(mask_agreement(same[:1]))
    assert fixed_mask_warning({"mask_agreement": 1.0}, "test split").startswith("test split: the masks")
    assert fixed_mask_warning({"mask_agreement": 0.5}, "test split") is None
    assert fixed_mask_warning({"mask_agreement": float("nan")}, "test split") is None


def test_foreground_is_what_stands_out_from_the_border_colour():
    import tensorflow as tf

    from utils.evaluation.metrics import foreground_pixels

    # Colour: a uniform background, a 2x2 square of another colour and one pixel of a slightly other shade.
    x = np.tile(np.array([0.5, 0.2, 0.8], np.float32), (1, 6, 6, 1))
    x[0, 2:4, 1:3] = [0.5, 0.9, 0.8]        # differs by 0.7 in the green channel only
    x[0, 4, 4] = [0.55, 0.25, 0.75]         # within 0.1 of the background: not foreground
    x[0, 0, 0] = [0.0, 0.0, 0.0]            # one dark border pixel does not move the median
    expected = np.zeros((1, 6, 6), bool)
    expected[0, 2:4, 1:3] = True
    expected[0, 0, 0] = True
    assert np.array_equal(np.asarray(foreground_pixels(x, 0.1)), expected)
    assert np.array_equal(np.asarray(foreground_pixels(tf.constant(x), 0.1)), expected)  # tensors alike
    assert (x.max(axis=-1) > 0.1).sum() == 35   # the former rule: all but the black pixel
    # Black background (MNIST-like): exactly the former rule, largest channel above the threshold.
    g = np.random.default_rng(0).random((3, 8, 8, 1)).astype(np.float32)
    g[:, [0, -1]], g[:, :, [0, -1]] = 0, 0
    assert np.array_equal(np.asarray(foreground_pixels(g, 0.1)), g[..., 0] > 0.1)


def test_every_image_predicted_exactly_once_in_order():
    # Each image carries its own index in its pixels: the outputs must be 0 .. n-1, in order,
    # across full batches and the partial last one.
    import tensorflow as tf

    n = 1003
    idx = np.arange(n)
    images = np.zeros((n, 4, 4, 1), np.float32)
    images[:, 0, 0, 0], images[:, 0, 1, 0] = idx // 100, idx % 100
    seen = batched(lambda x: tf.cast(x[:, 0, 0, 0] * 100 + x[:, 0, 1, 0], tf.int64), images, batch_size=256)
    assert np.array_equal(seen, idx)
    firsts, pairs = batched(lambda x: (x[:, 0, 0, 0], x[:, 0, 1, :]), images, batch_size=100)
    assert firsts.shape == (n,) and pairs.shape == (n, 1) and np.array_equal(pairs[:, 0], idx % 100)


def test_predict_classes_with_and_without_masks():
    import keras

    # logits = the mean of the first and of the second half of the pixels: masks decide the class
    model = keras.Sequential([keras.Input((2, 2, 1)), keras.layers.Reshape((2, 2)),
                              keras.layers.Lambda(lambda x: keras.ops.mean(x, axis=-1))])
    x = np.array([[[1, 1], [0, 0]], [[0, 0], [1, 1]]], np.uint8)[..., None] * 255
    assert predict_classes(model, x).tolist() == [0, 1]
    masks = np.array([[[0, 0], [1, 1]], [[1, 1], [0, 0]]], bool)  # keep the other half: a tie -> class 0
    assert predict_classes(model, x, masks=masks).tolist() == [0, 0]
    assert predict_classes(model, x, masks=masks[..., None]).tolist() == [0, 0]


def test_fir_on_tensors_equals_fir_on_floats():
    import tensorflow as tf

    assert float(fir(tf.constant(0.9), tf.constant(0.3))) == pytest.approx(fir(0.9, 0.3)) == pytest.approx(0.75)
    assert fir(0.0, 0.0) == 0.0 and float(fir(tf.constant(0.0), tf.constant(0.0))) == 0.0


def _row(name, val_acc, val_ifg, test_acc, test_ifg, base=0.9, n=400):
    f = lambda acc, i: {"images": n, "accuracy": acc, "F": acc / base, "I_fg": i,  # noqa: E731
                        "FII_fg": acc / base * i}
    return {"checkpoint": name, "val": f(val_acc, val_ifg), "test": f(test_acc, test_ifg)}


def test_selection_uses_validation_only():
    rows = [_row("a", 0.90, 0.9, 0.50, 0.1),   # best on validation, terrible on test
            _row("b", 0.60, 0.1, 0.99, 0.99)]  # best on test
    best, rule = recommend(rows, min_fidelity=0.9, have_baseline=True)
    assert best == 0 and "validation" in rule


def test_selection_fidelity_floor():
    rows = [_row("keeps", 0.89, 0.5, 0.9, 0.5), _row("hides", 0.60, 0.99, 0.6, 0.99)]
    assert recommend(rows, 0.95, True)[0] == 0           # "hides" has F 0.67 < 0.95
    assert recommend(rows, 0.5, True)[0] == 1            # both qualify: higher FII_fg wins
    best, rule = recommend([_row("x", 0.1, 0.5, 0.1, 0.5)], 0.95, True)
    assert best == 0 and "no checkpoint reached" in rule


def test_fidelity_standard_error_is_the_binomial_one():
    val = _row("x", 0.855, 0.5, 0.0, 0.0, base=0.9, n=400)["val"]
    # sqrt(0.855 * 0.145 / 400) / 0.9 = 0.0176051 / 0.9
    assert fidelity_standard_error(val) == pytest.approx(0.0195612, abs=1e-6)


def test_selection_allows_one_standard_error_below_the_floor():
    # F = 0.866 / 0.9 = 0.9622, 0.018 below the 0.98 floor; on 400 images
    # SE(F) = sqrt(0.866 * 0.134 / 400) / 0.9 = 0.0189, so F + SE = 0.9812 qualifies
    rows = [_row("keeps", 0.9, 0.3, 0.9, 0.3), _row("hides", 0.866, 0.9, 0.86, 0.9)]
    assert recommend(rows, 0.98, True, tolerance_se=0.0)[0] == 0
    best, rule = recommend(rows, 0.98, True)
    assert best == 1 and "F + 1 SE >= 0.98" in rule
    # on 4,000 images the same F is about 3 standard errors below the floor
    big = [_row("keeps", 0.9, 0.3, 0.9, 0.3, n=4000), _row("hides", 0.866, 0.9, 0.86, 0.9, n=4000)]
    assert recommend(big, 0.98, True)[0] == 0


def _label_masks(labels, rng, informative):
    masks = rng.random((len(labels), 12, 12)) < 0.1
    if informative:
        for i, c in enumerate(labels):  # the class is where a 3x3 block is kept
            r, col = divmod(int(c), 4)
            masks[i, 3 * r:3 * r + 3, 3 * col:3 * col + 3] = True
    return masks


@pytest.mark.parametrize("informative, low, high", [(False, 0.0, 0.2), (True, 0.95, 1.0)])
def test_leakage_classifier(informative, low, high):
    rng = np.random.default_rng(1)
    ytr, yte = rng.integers(0, 10, 1500), rng.integers(0, 10, 500)
    acc = leakage_accuracy(_label_masks(ytr, rng, informative), ytr, _label_masks(yte, rng, informative), yte,
                           num_classes=10, epochs=4)
    assert low <= acc <= high


def test_aggregate_runs_mean_and_spread():
    runs = [[{"checkpoint": "a", "alpha": 0.5, "test": {"accuracy": 0.8, "I_fg": 0.5}}],
            [{"checkpoint": "a", "alpha": 0.5, "test": {"accuracy": 0.6, "I_fg": 0.7}}]]
    (s,) = aggregate_runs(runs)
    assert s["runs"] == 2 and s["accuracy_mean"] == pytest.approx(0.7) and s["accuracy_std"] == pytest.approx(0.1)


def test_checkpoint_alpha_and_baseline_files(tmp_path):
    assert checkpoint_alpha("x/alpha_0.35.weights.h5") == 0.35 and checkpoint_alpha("final.weights.h5") is None
    (tmp_path / "b.json").write_text('{"accuracy": 0.97, "val_accuracy": 0.96}')
    (tmp_path / "b.txt").write_text("0.95\n")
    (tmp_path / "bad.txt").write_text("hello")
    assert (load_baseline(tmp_path / "b.json").test, load_baseline(tmp_path / "b.json").val) == (0.97, 0.96)
    assert (load_baseline(tmp_path / "b.txt").test, load_baseline(tmp_path / "b.txt").val) == (0.95, None)
    with pytest.raises(UsageError, match="bad.txt is not valid JSON"):
        load_baseline(tmp_path / "bad.txt")


def test_leakage_probe_restarts_identically_for_each_checkpoint():
    from utils.evaluation.leakage import LeakageProbe

    rng = np.random.default_rng(2)
    ytr, yte = rng.integers(0, 10, 600), rng.integers(0, 10, 200)
    a, b = _label_masks(ytr, rng, True), _label_masks(yte, rng, True)
    probe = LeakageProbe((12, 12), 10, epochs=2)
    first = probe.score(a, ytr, b, yte)
    probe.score(_label_masks(ytr, rng, False), ytr, b, yte)  # a different checkpoint in between
    assert probe.score(a, ytr, b, yte) == first


def test_leakage_probe_steps_once_per_batch_over_each_shuffled_epoch():
    """The compiled loop takes Keras fit's steps: per epoch ceil(n / 128) batches that hold every mask once."""
    from utils.evaluation.leakage import LeakageProbe

    probe = LeakageProbe((12, 12), 10, epochs=3, seed=4)
    batches = probe._batches(300)
    assert batches.shape == (3 * 3, 128)
    for epoch in batches.reshape(3, -1):
        assert sorted(epoch[epoch >= 0]) == list(range(300)) and (epoch < 0).sum() == 3 * 128 - 300
    assert not np.array_equal(batches[:3], batches[3:6])   # reshuffled each epoch
    rng = np.random.default_rng(3)
    y = rng.integers(0, 10, 100)
    probe.predict(_label_masks(y, rng, True), y, _label_masks(y[:5], rng, True), repeat=3)
    assert int(probe.model.optimizer.iterations) == 3 * 3   # 3 epochs of 300 masks
