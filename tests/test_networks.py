import pytest

from networks.hider import build_hider, hider_large, hider_small
from networks.seeker import build_seeker


@pytest.mark.parametrize("size, channels", [(28, 1), (32, 3), (64, 1)])
def test_small_shapes(size, channels):
    assert build_hider("small", (size, size, channels), channels).output_shape == (None, size, size, channels)
    assert build_hider("small", (size, size, channels), 1, logits=True).output_shape == (None, size, size, 1)
    assert build_seeker("small", (size, size, channels), 7).output_shape == (None, 7)


@pytest.mark.parametrize("size", [32, 64])
def test_large_shapes(size):
    assert build_hider("large", (size, size, 3), 1).output_shape == (None, size, size, 1)
    assert build_seeker("large", (size, size, 3), 10).output_shape == (None, 10)


def test_resnet_builds_without_hub_weights():
    model = build_seeker("resnet", (32, 32, 3), 5)
    assert model.output_shape == (None, 5)


def test_bad_sizes_are_clear():
    with pytest.raises(ValueError, match="multiple of 4"):
        hider_small((30, 30, 1), 1)
    with pytest.raises(ValueError, match="multiple of 32"):
        hider_large((48, 48, 1), 1)


def test_layers_named_for_transfer():
    names = [layer.name for layer in build_hider("small", (28, 28, 1), 1).layers]
    assert names[-1] == "hider_probability" and "hider_logits" in names and "hider_conv1" in names
    assert build_hider("small", (28, 28, 1), 1, logits=True).layers[-1].name == "hider_logits"


@pytest.mark.parametrize("decoder", ["transpose", "resize", "unet"])
def test_every_decoder_gives_back_the_input_size_and_shares_the_encoder(decoder):
    ae = build_hider("small", (32, 32, 3), 3, decoder=decoder)
    assert ae.output_shape == (None, 32, 32, 3)
    names = {layer.name for layer in ae.layers}
    assert {"hider_conv1", "hider_dense2", "hider_logits"} <= names
    assert ("hider_deconv1" in names) == (decoder == "transpose")
    assert ("hider_upconv1" in names) == (decoder != "transpose")
    assert ("hider_skip1" in names) == (decoder == "unet")


def test_mask_grid_is_the_bilinear_upsampling_of_the_cell_means(tmp_path):
    import numpy as np

    from networks.weights import load_weights, save_weights

    fine = build_hider("small", (28, 28, 1), 1, logits=True, decoder="resize")
    coarse = build_hider("small", (28, 28, 1), 1, logits=True, decoder="resize", mask_grid=7)
    save_weights(fine, tmp_path / "h.weights.h5")
    assert load_weights(coarse, tmp_path / "h.weights.h5") == []   # no weights of its own
    x = np.random.default_rng(0).random((3, 28, 28, 1)).astype("float32")
    h = fine(x).numpy()
    cells = h.reshape(3, 7, 4, 7, 4, 1).mean(axis=(2, 4))
    # bilinear with half-pixel centres, by hand: output i reads source (i + 1/2) / 4 - 1/2, clamped
    up = np.zeros((28, 7))
    for i in range(28):
        src = min(max((i + 0.5) / 4 - 0.5, 0.0), 6.0)
        lo = int(src)
        up[i, lo] += 1 - (src - lo)
        up[i, min(lo + 1, 6)] += src - lo
    expected = np.einsum("ia,nabc,jb->nijc", up, cells, up)
    assert np.allclose(coarse(x).numpy(), expected, atol=1e-5)
    # a grid as fine as the image is the per-pixel head
    same = build_hider("small", (28, 28, 1), 1, logits=True, decoder="resize", mask_grid=28)
    assert len(same.layers) == len(fine.layers)


def test_bad_decoder_and_grid_are_clear():
    with pytest.raises(ValueError, match="decoder must be one of"):
        build_hider("small", (28, 28, 1), 1, decoder="pixelshuffle")
    with pytest.raises(ValueError, match="must divide the image size"):
        build_hider("small", (28, 28, 1), 1, logits=True, mask_grid=5)


def test_unet_mask_follows_a_single_pixel_through_its_skips():
    """The skip from the image reaches the last stage: changing one input pixel changes the output
    there even when the bottleneck is cut (the resize decoder without skips cannot)."""
    import numpy as np

    x = np.zeros((1, 28, 28, 1), np.float32)
    y = x.copy()
    y[0, 5, 9, 0] = 1.0
    for decoder, reaches in (("unet", True), ("resize", False)):
        model = build_hider("small", (28, 28, 1), 1, logits=True, decoder=decoder)
        for layer in model.layers:   # non-negative weights: a positive input never dies in a ReLU
            layer.set_weights([np.abs(w) + 0.01 for w in layer.get_weights()])
        dense = model.get_layer("hider_dense2")
        dense.set_weights([np.zeros_like(w) for w in dense.get_weights()])   # nothing through the bottleneck
        changed = np.abs(model(y).numpy() - model(x).numpy())[0, ..., 0] > 0
        assert changed.any() == reaches
        if reaches:
            assert changed[5, 9]


def test_the_random_mask_classifier_survives_a_save_and_load(tmp_path):
    """EVAL-X's model is registered for serialisation: its config rebuilds the classifier, the in-filler and the
    masks' settings, and a saved model loads with the same weights and predictions."""
    import keras
    import numpy as np

    from networks.evalx import RandomMaskClassifier
    from networks.infill import Blur
    from networks.seeker import build_seeker

    keras.utils.set_random_seed(0)
    model = RandomMaskClassifier(build_seeker("small", (8, 8, 1), 3), Blur(1.5), min_keep_rate=0.2, grid=2, seed=4)
    model.compile(optimizer="adam")
    model.build((None, 8, 8, 1))
    x = np.random.default_rng(0).random((4, 8, 8, 1)).astype(np.float32)
    model.fit(x, np.arange(4) % 3, epochs=1, verbose=0)
    model.save(tmp_path / "evalx.keras")
    loaded = keras.models.load_model(tmp_path / "evalx.keras")
    assert (loaded.min_keep_rate, loaded.grid, loaded.seed) == (0.2, 2, 4)
    assert loaded.infiller.settings() == model.infiller.settings()
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(loaded.optimizer.variables,
                                                                     model.optimizer.variables))
