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
