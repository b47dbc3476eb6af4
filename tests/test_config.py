import pytest

from utils.config import Config, parse_config, COMMON, HNS
from utils.errors import UsageError


def parse(*argv, groups=(COMMON, HNS), config_file=None):
    if config_file:
        argv = ("--config_file", str(config_file), *argv)
    return parse_config(list(argv), "test", "test", groups=groups)[0]


def test_defaults_then_preset_then_flags(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text('[p]\ndataset = "mnist-5k"\nbatch_size = 32\nmax_epochs = 3\n')
    cfg = parse("--config", "p", "--max_epochs", "7", config_file=toml)
    assert cfg.batch_size == 32          # preset beats default
    assert cfg.max_epochs == 7           # flag beats preset
    assert cfg.learning_rate == Config.learning_rate  # default where neither says anything
    assert (cfg.image_size, cfg.channels, cfg.num_classes) == (28, 1, 10)  # native shape filled in


def test_shipped_presets_all_parse():
    for name in ("mnist-5k", "mnist", "fashion", "cifar10", "cifar100"):
        cfg = parse("--config", name)
        assert cfg.config == name and cfg.dataset == name
    with pytest.raises(UsageError, match="data_dir"):  # the example points at a placeholder folder
        parse("--config", "example")


def test_preset_int_coerced_to_float(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text('[p]\nlearning_rate = 1\n')
    assert parse("--config", "p", config_file=toml).learning_rate == 1.0


@pytest.mark.parametrize("argv, message", [
    (["--config", "nope"], "unknown preset 'nope'"),
    (["--bogus", "1"], "unrecognized arguments: --bogus"),
    (["--batch_size", "x"], "invalid int value"),
    (["--batch_size", "0"], "--batch_size must be >= 1"),
    (["--alpha", "1.5"], "--alpha must be in [0, 1]"),
    (["--patience", "0"], "--patience must be >= 1"),
    (["--rate", "-1"], "--rate must be >= 0"),
    (["--image_size", "30"], "does not fit model 'small': use a multiple of 4"),
    (["--model", "large"], "does not fit model 'large': use a multiple of 32"),
    (["--estimator", "st9"], "invalid choice"),
    (["--seeker_weights", "/no/such.weights.h5"], "no such file"),
    (["--overwrite", "--resume"], "exclude each other"),
])
def test_bad_flags_raise_one_line_usage_errors(argv, message):
    with pytest.raises(UsageError) as e:
        parse(*argv)
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_hns_flags_only_where_they_belong():
    with pytest.raises(UsageError, match="unrecognized arguments: --alpha"):
        parse("--alpha", "0.5", groups=(COMMON,))


@pytest.mark.parametrize("content, message", [
    ("[p\nx=1", "not valid TOML"),
    ("[p]\nunknown_key = 1\n", "unknown key 'unknown_key'"),
    ("[p]\nbatch_size = \"big\"\n", "'batch_size' must be a int"),
    ("[p]\nmodel = \"huge\"\n", "'model' must be one of"),
])
def test_bad_config_files(tmp_path, content, message):
    toml = tmp_path / "c.toml"
    toml.write_text(content)
    with pytest.raises(UsageError, match=message):
        parse("--config", "p", config_file=toml)


def test_missing_config_file(tmp_path):
    with pytest.raises(UsageError, match="not found"):
        parse(config_file=tmp_path / "absent.toml")
