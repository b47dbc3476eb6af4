import json
import re
from pathlib import Path

import pytest

from fixtures.make_presets_fixture import cases, key, resolved
from utils.config import COMMON, EVALX, HNS, parse_config
from utils.config.presets import load_presets, resolve_preset
from utils.errors import UsageError

BEFORE = json.loads((Path(__file__).parent / "fixtures" / "presets_resolved.json").read_text())


def test_every_preset_gives_every_script_what_it_gave_before_presets_could_extend(tmp_path):
    assert sorted(key(*case) for case in cases()) == sorted(BEFORE)
    for case in cases():
        assert resolved(*case, str(tmp_path)) == BEFORE[key(*case)], key(*case)


def test_example_builds_on_patches_with_only_its_differences():
    presets = load_presets(Path(__file__).resolve().parent.parent / "config.toml")
    assert presets["example"]["extends"] == "patches"
    own = {k for k, v in presets["example"].items() if not isinstance(v, dict)}
    assert own == {"extends", "unset", "dataset", "data_dir", "image_size", "seeker_model", "augment_shift",
                   "evalx_grid", "mask_infill", "nested_budget"}
    # chosen on the suite, not on patches (docs/results/2026-12-07-suite-infill.md)
    assert (presets["example"]["mask_infill"], presets["example"]["nested_budget"]) == ("mean", 0.05)
    assert (presets["patches"]["mask_infill"], presets["patches"]["nested_budget"]) == ("blur", 0.25)
    # patches' script tables serve, but the judge of the faithfulness benchmark (docs/results/2026-12-07-suite-loo.md)
    assert [k for k, v in presets["example"].items() if isinstance(v, dict)] == ["faithfulness"]
    assert presets["example"]["faithfulness"] == {"max_epochs": 30, "evaluator_start": "seeker",
                                                  "judge_infiller": "mean", "infiller": "mean"}
    assert presets["fashion"] == {"extends": "mnist", "dataset": "fashion"}
    assert presets["cifar100"] == {"extends": "cifar10", "dataset": "cifar100", "num_classes": 100}


def test_config_comments_cite_measurements_rather_than_carry_them():
    text = (Path(__file__).resolve().parent.parent / "config.toml").read_text()
    comments = [line.split("#", 1)[1] for line in text.splitlines() if "#" in line]
    assert not [c for c in comments if re.search(r"\b0\.\d\d", c)]     # accuracies, TPRs: docs/results/
    cited = {m for c in comments for m in re.findall(r"docs/results/[\w.-]+\.md", c)}
    assert cited and all((Path(__file__).resolve().parent.parent / path).is_file() for path in cited)


def parse(toml, *argv, script="test.py"):
    return parse_config(["--config_file", str(toml), *argv], script, "test", groups=(COMMON, HNS))


def test_a_preset_extends_another_table_by_table(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text('[base]\nbatch_size = 32\nmax_epochs = 3\naugment_shift = 2\n'
                    '[base.collaborative_training]\nmax_epochs = 9\nlearning_rate = 5e-4\n'
                    '[base.estimator.sa]\nrate = 0.1\n'
                    '[mid]\nextends = "base"\nbatch_size = 16\n[mid.collaborative_training]\nlearning_rate = 1e-4\n'
                    '[top]\nextends = "mid"\nunset = ["augment_shift"]\nmax_epochs = 5\n')
    top = parse(toml, "--config", "top")
    assert (top.batch_size, top.max_epochs, top.augment_shift) == (16, 5, 0)    # own < parent's, unset: default
    hns = parse(toml, "--config", "top", script="collaborative_training.py")
    assert (hns.max_epochs, hns.learning_rate) == (9, 1e-4)    # the script tables merge too, key by key
    assert parse(toml, "--config", "top", "--stochastic", "--estimator", "sa").rate == 0.1
    assert parse(toml, "--config", "top", "--batch_size", "8").batch_size == 8     # typed flags still win
    _, owners = resolve_preset(load_presets(toml), "top", toml)
    assert (owners[("batch_size",)], owners[("collaborative_training", "max_epochs")], owners[("max_epochs",)]) == \
        ("mid", "base", "top")


@pytest.mark.parametrize("content, message", [
    ('[p]\nextends = "nope"\n', r"preset \[p\] in .* extends unknown preset 'nope': name one of q, or remove its "
                                "extends line"),
    ('[p]\nextends = 3\n', "extends unknown preset 3"),
    ('[p]\nextends = "p"\n', r"extend each other in a circle \(p -> p\): remove one of these extends lines"),
    ('[p]\nextends = "q"\n[q]\nextends = "p"\n', r"in a circle \(p -> q -> p\)"),
    ('[p]\nunset = ["batch_size"]\n', "has 'unset' but extends no preset: remove the unset line"),
    ('[p]\nextends = "q"\nunset = ["batch_size"]\n', r"unset must list keys that \[q\] sets, got \['batch_size'\]"),
    ('[p]\nextends = "q"\n[q]\nbogus = 1\n', r"preset \[q\] in .* has unknown key 'bogus'"),   # the parent's table
    ('[p]\nextends = "q"\n[p.estimator.sa]\nrate = 0.1\n[q]\nestimator = "sa"\n',
     r"preset \[p\] in .*: 'estimator' is a table there and a value in the preset it extends: keep one"),
])
def test_bad_extends_are_refused_with_one_line_naming_the_fix(tmp_path, content, message):
    toml = tmp_path / "c.toml"
    toml.write_text(content + ("" if "[q]" in content else "[q]\nmax_epochs = 3\n"))
    with pytest.raises(UsageError, match=message) as e:
        parse(toml, "--config", "p")
    assert "\n" not in str(e.value) and e.value.exit_code == 2


def test_a_script_exits_2_on_a_circle(tmp_path, capsys):
    import pretrain_hider
    from utils.config.entry import main_wrapper

    toml = tmp_path / "c.toml"
    toml.write_text('[p]\nextends = "q"\n[q]\nextends = "p"\n')
    assert main_wrapper(pretrain_hider.main, ["--config_file", str(toml), "--config", "p"]) == 2
    assert "in a circle (p -> q -> p)" in capsys.readouterr().err


def test_a_presets_grid_fits_any_image_size_and_a_typed_one_is_refused(tmp_path):
    """The folder preset's EVAL-X grid (16) at a native size it does not divide (40 pixels) becomes the nearest
    divisor, 20, rather than stopping the run; the user's own --evalx_grid that does not divide is refused."""
    from utils.config.parser import nearest_divisor
    assert [nearest_divisor(40, 16), nearest_divisor(48, 16), nearest_divisor(28, 5), nearest_divisor(7, 3)] == \
        [20, 16, 4, 1]
    toml = tmp_path / "c.toml"
    toml.write_text('[p]\nimage_size = 40\nevalx_grid = 16\n')
    assert parse(toml, "--config", "p").evalx_grid == 20
    assert parse(toml, "--config", "p", "--image_size", "64").evalx_grid == 16
    with pytest.raises(UsageError, match="--evalx_grid 16 does not divide the image size 40"):
        parse_config(["--config_file", str(toml), "--config", "p", "--evalx_grid", "16"], "test.py", "test",
                     groups=(COMMON, HNS, EVALX))
