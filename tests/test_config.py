import pytest

from utils.config import COMMON, EVAL, EXPLAIN, HNS, Config, parse_config
from utils.errors import UsageError


def parse(*argv, groups=(COMMON, HNS), config_file=None, script="test.py"):
    if config_file:
        argv = ("--config_file", str(config_file), *argv)
    return parse_config(list(argv), script, "test", groups=groups)


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
    (["--alpha_step", "0.0000001"], "needs more than 6 decimals"),
    (["--validation_split", "1"], "--validation_split must be in (0, 1), got 1"),
    (["--min_alpha", "1"], "--min_alpha must be in [0, 1), got 1"),
])
def test_bad_flags_raise_one_line_usage_errors(argv, message):
    with pytest.raises(UsageError) as e:
        parse(*argv)
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_hns_flags_only_where_they_belong():
    with pytest.raises(UsageError, match="unrecognized arguments: --alpha"):
        parse("--alpha", "0.5", groups=(COMMON,))


def test_script_only_flags_have_one_default_and_their_checks():
    cfg = parse(groups=(COMMON, HNS, EVAL))
    assert (cfg.min_fidelity, cfg.fidelity_se, cfg.cem_images) == (0.98, 1.0, 10)
    with pytest.raises(UsageError, match=r"--fidelity_se must be in \[0, 10\], got -1"):
        parse("--fidelity_se", "-1", groups=(COMMON, HNS, EVAL))
    with pytest.raises(UsageError, match="exclude each other"):
        parse("--no_ae", "--gamma", "5", groups=(COMMON, EXPLAIN))
    assert parse("--no_ae", groups=(COMMON, EXPLAIN)).gamma == 100.0  # the default gamma is no conflict


def test_typed_flags_are_reported_with_argparse_prefixes():
    assert parse("--learn", "0.1", "--identifier", "learning_rate").typed == {"learning_rate", "identifier"}
    assert parse().typed == frozenset()


def test_script_and_estimator_tables(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text('[p]\nmax_epochs = 3\nrate = 0.5\n'
                    '[p.collaborative_training]\nmax_epochs = 9\nlearning_rate = 5e-4\n'
                    '[p.estimator.sa]\nrate = 0.1\n[p.estimator.reinforce]\nlearning_rate = 1e-4\n')
    assert parse("--config", "p", config_file=toml).max_epochs == 3                       # other scripts
    cfg = parse("--config", "p", config_file=toml, script="collaborative_training.py")
    assert (cfg.max_epochs, cfg.learning_rate, cfg.rate) == (9, 5e-4, 0.5)                # script table
    sa = parse("--config", "p", "--stochastic", "--estimator", "sa", config_file=toml)
    assert sa.rate == 0.1 and sa.max_epochs == 3                                          # estimator table
    assert parse("--config", "p", "--estimator", "sa", config_file=toml).rate == 0.5      # only when stochastic
    typed = parse("--config", "p", "--stochastic", "--estimator", "sa", "--rate", "0.3", config_file=toml)
    assert typed.rate == 0.3                                                              # typed flags win
    rf = parse("--config", "p", "--stochastic", "--estimator", "reinforce", config_file=toml,
               script="collaborative_training.py")
    assert (rf.learning_rate, rf.max_epochs) == (1e-4, 9)                                 # estimator > script


def test_shipped_mnist5k_tables_hold_the_demo_settings():
    cfg = parse(script="collaborative_training.py")
    assert (cfg.learning_rate, cfg.patience, cfg.max_epochs, cfg.batch_size) == (5e-4, 150, 200, 64)
    assert parse(script="pretrain_hider.py").max_epochs == 15
    assert parse(script="pretrain_seeker.py").max_epochs == 30
    # naming an estimator is enough to get the settings that work (README, "Binary neurons")
    assert parse("--stochastic", "--estimator", "sa").rate == 0.1
    assert parse("--stochastic", "--estimator", "reinforce").learning_rate == 5e-4


@pytest.mark.parametrize("content, message", [
    ("[p\nx=1", "not valid TOML"),
    ("[p]\nunknown_key = 1\n", "unknown key 'unknown_key'"),
    ("[p]\nbatch_size = \"big\"\n", "'batch_size' must be a int"),
    ("[p]\nmodel = \"huge\"\n", "'model' must be one of"),
    ("[p.colaborative_training]\nmax_epochs = 3\n", r"unknown table \[p.colaborative_training\]"),
    ("[p.estimator.st9]\nrate = 3\n", "must be named after an estimator"),
    ("[p.explain]\nbogus = 3\n", "unknown key 'bogus'"),
])
def test_bad_config_files(tmp_path, content, message):
    toml = tmp_path / "c.toml"
    toml.write_text(content)
    with pytest.raises(UsageError, match=message):
        parse("--config", "p", config_file=toml)


def test_missing_config_file(tmp_path):
    with pytest.raises(UsageError, match="not found"):
        parse(config_file=tmp_path / "absent.toml")


@pytest.mark.parametrize("script, takes", [("collaborative_training", True), ("pretrain_seeker", True),
                                           ("faithfulness", True), ("evaluation", False), ("explain", False)])
def test_evalx_mask_flags_belong_to_the_scripts_that_draw_random_masks(script, takes, capsys):
    import importlib

    with pytest.raises(SystemExit):
        importlib.import_module(script).main(["--help"])
    out = capsys.readouterr().out
    # each flag on its own: a script that took only one of them would pass a test of both together
    assert ("--evalx_grid EVALX_GRID" in out, "--evalx_min_rate EVALX_MIN_RATE" in out) == (takes, takes)
    if takes:  # and they parse there, with their range checks
        with pytest.raises(UsageError, match="--evalx_min_rate must be in"):
            importlib.import_module(script).main(["--evalx_grid", "7", "--evalx_min_rate", "1.5"])


def test_example_folder_preset_has_the_settings_that_work(tmp_path):
    from utils.config import EVALX

    def example(script):
        return parse("--config", "example", "--data_dir", str(tmp_path), script=script, groups=(COMMON, HNS, EVALX))

    seeker, hns = example("pretrain_seeker.py"), example("collaborative_training.py")
    assert (seeker.seeker_training, seeker.augment_shift, seeker.shift_fill, seeker.evalx_grid) == \
        ("random-masks", 4, "edge", 16)
    assert (hns.learning_rate, hns.max_epochs) == (5e-4, 30)
    assert seeker.seeker_architecture == hns.seeker_architecture == "pooling"  # evidence may be anywhere
    # the pixel budget of patches, where the evidence is one small object anywhere in the image
    assert (hns.mask_mode, hns.start_budget, hns.final_budget, hns.budget_epochs, hns.hider_features) == \
        ("topk", 0.5, 0.03, 20, "live")
    # the in-fill and nested budget chosen on the suite (docs/results/2026-12-07-suite-infill.md), not patches' blur
    assert (hns.masked_out_weight, hns.seeker_masked_out, hns.mask_infill, hns.nested_budget) == \
        (1.0, True, "mean", 0.05)
    assert example("pretrain_hider.py").max_epochs == 15
