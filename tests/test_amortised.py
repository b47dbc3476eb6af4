"""The one-pass explainer of a fixed classifier (utils/explainers/amortised.py, utils/stages/amortised.py,
train_explainer.py): its scores, its objective on a hand-made case, save/load, and a training that never touches
the classifier."""
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from utils.errors import UsageError


def identity_hider(size=2):
    """A hider whose logits are the image itself (h = x): a 1x1 convolution of weight 1, no bias."""
    inputs = keras.Input((size, size, 1))
    conv = keras.layers.Conv2D(1, 1, use_bias=False, kernel_initializer="ones", name="hider_logits")
    return keras.Model(inputs, conv(inputs), name="hider_identity")


def linear_classifier(weights, size=2, name="linear"):
    """logits = flatten(x) @ W, W of shape (size * size, classes), no bias."""
    inputs = keras.Input((size, size, 1))
    dense = keras.layers.Dense(weights.shape[1], use_bias=False, name="logits")
    model = keras.Model(inputs, dense(keras.layers.Flatten()(inputs)), name=name)
    dense.set_weights([weights.astype(np.float32)])
    return model


def test_explain_gives_the_hider_s_logits_for_the_predicted_class_and_survives_save_and_load(tmp_path):
    from utils.explainers.amortised import AmortisedExplainer

    rng = np.random.default_rng(0)
    x = rng.random((5, 2, 2, 1)).astype(np.float32)
    classifier = linear_classifier(rng.normal(size=(4, 3)))
    explainer = AmortisedExplainer(classifier, identity_hider())
    explanation = explainer.explain(x)
    np.testing.assert_allclose(explanation.scores, x[..., 0], rtol=1e-6)
    np.testing.assert_array_equal(explanation.targets, np.asarray(classifier(x)).argmax(axis=1))
    np.testing.assert_allclose(explanation.extras["probability"], 1 / (1 + np.exp(-x[..., 0])), rtol=1e-6)
    assert explanation.kept is None and explanation.method == "amortised"
    loaded = AmortisedExplainer.load(classifier, explainer.save(tmp_path / "hider.keras"))
    np.testing.assert_array_equal(loaded.explain(x).scores, explanation.scores)
    with pytest.raises(ValueError, match="one channel of mask logits"):
        AmortisedExplainer(classifier, classifier)


def test_the_training_objective_is_the_classifier_s_cross_entropy_on_the_top_k_pixels_by_hand():
    """x = [[0.1, 0.9], [0.4, 0.2]], h = x, budget 1/4: k = 1 keeps the pixel 0.9 (index 1) and zeroes the rest.
    W rows (per pixel) w0 = (1, 0), w1 = (0, 2), w2 = (3, 0), w3 = (0, 1): f(x) = (0.1 + 1.2, 1.8 + 0.2)
    = (1.3, 2.0), so the target is class 1; f(masked) = 0.9 w1 = (0, 1.8), CE = log(e^0 + e^1.8) - 1.8."""
    from networks.budget import TopKNeuron
    from networks.hns import HideAndSeek

    x = np.array([[[[0.1], [0.9]], [[0.4], [0.2]]]], np.float32)
    classifier = linear_classifier(np.array([[1, 0], [0, 2], [3, 0], [0, 1]]))
    target = np.asarray(classifier(x)).argmax(axis=1)
    assert target.tolist() == [1]
    model = HideAndSeek(identity_hider(), classifier, TopKNeuron(0.25), seeker_training="frozen", alpha=1.0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    step = model._forward(tf.constant(x), tf.constant(target), training=False)
    np.testing.assert_array_equal(np.asarray(step["y"])[0, ..., 0], [[0, 1], [0, 0]])
    np.testing.assert_allclose(float(step["total"]), np.log(1 + np.exp(1.8)) - 1.8, rtol=1e-5)
    before = [w.copy() for w in classifier.get_weights()]
    model.fit(x, target, epochs=2, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, classifier.get_weights()))  # frozen: bit-identical


def parse(*argv):
    from utils.config import AMORTISED, COMMON, HNS, parse_config

    return parse_config(["--identifier", "t", *map(str, argv)], "train_explainer.py", "",
                        groups=(COMMON, HNS, AMORTISED))


@pytest.fixture(scope="module")
def user_classifier(tmp_path_factory):
    """A user's own Keras classifier of 28 x 28 grey images, saved as a .keras file."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((28, 28, 1))
    h = keras.layers.Conv2D(4, 3, strides=2, activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.GlobalMaxPooling2D()(h)), name="users_cnn")
    path = tmp_path_factory.mktemp("classifier") / "mine.keras"
    model.save(path)
    return path


def test_training_against_a_user_s_keras_file_never_changes_it_and_explain_py_reads_the_run(
        user_classifier, tmp_path, monkeypatch):
    import explain
    import train_explainer
    from utils.stages.amortised import amortised_model_type, train_amortised
    from utils.stages.data import load_data

    monkeypatch.chdir(tmp_path)
    argv = ["--classifier", user_classifier, "--explainer_start", "scratch", "--max_epochs", "1",
            "--train_images", 256, "--quiet"]
    cfg = parse(*argv, "--debug")
    # the preset's random-mask seeker training and area hinge do not apply to a frozen classifier under a budget
    assert amortised_model_type(cfg) == "amortised+classifier-mine"
    (result,) = train_amortised(cfg, load_data(cfg))
    stored = keras.saving.load_model(user_classifier, compile=False).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(stored, result.model.seeker.get_weights()))
    assert not list(tmp_path.iterdir())   # --debug writes nothing
    train_explainer.main(list(map(str, ["--identifier", "t", *argv])))
    explain.main(list(map(str, ["--identifier", "t", "--classifier", user_classifier, "--method", "amortised",
                                "--n", "3", "--budget", "0.05", "--quiet"])))
    report = json.loads((tmp_path / "results" / "mnist-5k" / "explanations" / "amortised" / "t" /
                         "explanations.json").read_text())
    assert report["method"] == "amortised" and [r["kept_at_budget"] for r in report["images"]] == [39] * 3
    # another classifier of the same file name names the same run: the explainer of the first one is refused
    other = tmp_path / "other" / "mine.keras"
    other.parent.mkdir()
    model = keras.saving.load_model(user_classifier, compile=False)
    model.set_weights([w + 1 for w in model.get_weights()])
    model.save(other)
    with pytest.raises(UsageError, match="trained against another classifier"):
        explain.main(list(map(str, ["--identifier", "t", "--classifier", other, "--method", "amortised", "--n", "3",
                                    "--quiet", "--debug"])))


def test_a_missing_explainer_run_or_a_bad_classifier_file_names_the_fix(user_classifier, tmp_path, monkeypatch):
    import explain
    import train_explainer

    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match="run train_explainer.py"):
        explain.main(["--classifier", str(user_classifier), "--method", "amortised", "--identifier", "none"])
    (tmp_path / "model.h5").write_bytes(b"x")
    with pytest.raises(UsageError, match="not a Keras model file"):
        train_explainer.main(["--classifier", str(tmp_path / "model.h5"), "--explainer_start", "scratch"])
    with pytest.raises(UsageError, match="no seeker weights"):
        train_explainer.main(["--identifier", "none", "--explainer_start", "scratch"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.h5"]


def test_the_frontier_figure_joins_each_start_to_its_refinements(tmp_path, monkeypatch):
    import utils.reporting.plotting as plotting

    def summary(ms, keep):
        return {"seconds_per_image": ms / 1e3, "at_hns_budget": {"keep_evalx": (keep, 0.01)}}

    report = {"methods": {"hns": summary(0.1, 0.93), "bbmp-ssr": summary(47, 0.95), "hns+refine30": summary(8.5, 0.96),
                          "hns+refine10": summary(3.9, 0.94), "hns+refine10-bbmp-ssr": summary(3.0, 0.90)}}
    lines = []
    real_subplots = plotting.plt.subplots

    def subplots(*args, **kwargs):
        fig, ax = real_subplots(*args, **kwargs)
        real_plot = ax.plot
        ax.plot = lambda x, y, *a, **k: (lines.append((list(x), list(y))), real_plot(x, y, *a, **k))[1]
        return fig, ax

    monkeypatch.setattr(plotting.plt, "subplots", subplots)
    plotting.frontier(report, tmp_path / "f.png")
    # one chain, from the start through K = 10 and 30 (the SSR-objective row is a point of its own)
    assert len(lines) == 1 and lines[0] == (pytest.approx([0.1, 3.9, 8.5]), [0.93, 0.94, 0.96])
    assert (tmp_path / "f.png").stat().st_size > 0
