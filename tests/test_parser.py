"""Each script's --help shows, for the preset and flags given, the value of every flag it lists and where
that value comes from; these tests hold it to what the run records (`as_dict`, as written to
evaluation.json, faithfulness.json, explanations.json and baseline.json)."""
import importlib
import json
import re

import pytest

from utils.config import AMORTISED, COMMON, EVAL, EVALX, EXPLAIN, FAITH, HNS, PRETRAIN, as_dict
from utils.config.schema import FIELDS, HIDDEN_FLAGS, METHOD_LEARNING_RATES, UI_FLAGS, type_of

EVERY_GROUP = (COMMON, HNS, EVALX, EVAL, EXPLAIN, FAITH, PRETRAIN, AMORTISED)
SCRIPTS = ("pretrain_seeker", "pretrain_hider", "baseline", "collaborative_training", "evaluation", "explain",
           "faithfulness")


class Parsed(Exception):
    """Raised where a script's run would start, carrying the Config it would run with."""

    def __init__(self, cfg):
        self.cfg = cfg


def help_text(module, argv, capsys, monkeypatch) -> str:
    monkeypatch.setenv("COLUMNS", "100")
    with pytest.raises(SystemExit) as e:
        module.main([*argv, "--help"])
    assert e.value.code == 0
    return capsys.readouterr().out


def shown(text: str) -> dict:
    """{flag: [(script or None, source, value text)]} of a --help: the end of each flag's help,
    ``(source: value)`` or, in demo.py, ``(source: value; in X.py, source: value; ...)``."""
    out = {}
    for block in re.split(r"\n(?=  -)", text.split("\noptions:\n", 1)[1]):
        flat = " ".join(block.split())
        flag = re.match(r"--(\w+)", flat)
        if not flag or flag.group(1) in ("help", "force"):
            continue
        end = re.search(r"\(([^()]*)\)$", flat)
        assert end, f"--{flag.group(1)} shows no value: {flat}"
        parts = end.group(1).split("; in ")
        entries = [(None, *parts[0].rsplit(": ", 1))]
        for part in parts[1:]:
            script, rest = part.split(", ", 1)
            entries.append((script, *rest.rsplit(": ", 1)))
        out[flag.group(1)] = entries
    return out


def value_of(name: str, text: str):
    """A value as --help writes it, back to the field's type."""
    if text == "not set":
        return None
    kind = type_of(FIELDS[name])
    if kind is bool:
        return {"true": True, "false": False}[text]
    return "" if text == '""' else kind(text)


def run_config(script: str, argv, monkeypatch):
    """The Config `script` runs with for `argv`: its own parse, up to where its run starts."""
    module = importlib.import_module(script)

    def stop(cfg):
        raise Parsed(cfg)

    monkeypatch.setattr(module, "start_process", stop)
    with pytest.raises(Parsed) as e:
        module.main(list(argv))
    return e.value.cfg


def recorded(cfg) -> dict:
    """The settings a run records, and the switches of its invocation (never recorded) as it holds them."""
    settings = json.loads(json.dumps(as_dict(cfg, groups=EVERY_GROUP)))   # as a report holds them
    return {**{name: getattr(cfg, name) for name in UI_FLAGS}, **settings}


CASES = [
    ("collaborative_training", []),
    ("collaborative_training", ["--config", "patches"]),
    ("collaborative_training", ["--config", "example", "--data_dir", "{data}"]),
    ("collaborative_training", ["--stochastic", "--estimator", "sa", "--no-area_hinge", "--max_epochs", "7"]),
    ("collaborative_training", ["--config", "cifar10", "--alpha", "0"]),
    ("pretrain_seeker", ["--config", "patches", "--random_masks"]),
    ("pretrain_hider", ["--config", "example", "--data_dir", "{data}"]),
    ("baseline", ["--config", "mnist"]),
    ("evaluation", ["--config", "patches"]),
    ("explain", []),
    ("explain", ["--config", "patches", "--method", "cem-pn"]),
    ("explain", ["--method", "occlusion", "--learning_rate", "0.2"]),
    ("faithfulness", []),
    ("train_explainer", ["--explainer_start", "scratch"]),
    ("faithfulness", ["--config", "patches", "--evalx_min_rate", "0.5"]),
]


@pytest.mark.parametrize("script, argv", CASES)
def test_help_shows_what_the_run_records(script, argv, tmp_path, capsys, monkeypatch):
    argv = [a.replace("{data}", str(tmp_path)) for a in argv]
    module = importlib.import_module(script)
    values = shown(help_text(module, argv, capsys, monkeypatch))
    cfg = run_config(script, argv, monkeypatch)
    settings = recorded(cfg)
    if script == "explain":   # what the method runs with: the typed learning rate, else its own
        from utils.config.arguments import method_learning_rate

        settings["learning_rate"] = method_learning_rate(cfg, cfg.method) if cfg.method.startswith(
            ("cem", "fido", "bbmp")) else (cfg.learning_rate if "learning_rate" in cfg.typed else None)
    assert values and not set(values) & set(HIDDEN_FLAGS.get(f"{script}.py", ()))
    for name, [(_, source, text)] in values.items():
        assert value_of(name, text) == settings[name], (name, source, text)
        assert (source == "command line") == (name in cfg.typed), (name, source)


def test_help_names_the_table_a_value_comes_from(capsys, monkeypatch):
    import collaborative_training

    values = shown(help_text(collaborative_training, ["--config", "example", "--max_epochs", "3"], capsys,
                             monkeypatch))
    assert values["max_epochs"] == [(None, "command line", "3")]
    assert values["learning_rate"] == [(None, "config.toml [patches.collaborative_training], extended by [example]",
                                        "0.0005")]
    assert values["image_size"] == [(None, "config.toml [example]", "64")]
    assert values["num_classes"] == [(None, "default", "not set")]              # unset: from the folder's classes
    assert values["shift_fill"] == [(None, "default on folder", "edge")]
    assert values["augment_shift"] == [(None, "config.toml [example]", "4")]
    assert values["hider_head_layers"] == [(None, "config.toml [patches], extended by [example]", "2")]
    assert values["mask_smoothness"] == [(None, "default", "0.0")]                 # zeros and false shown too
    assert values["area_hinge"] == [(None, "default", "false")]
    mnist = shown(help_text(collaborative_training, [], capsys, monkeypatch))
    assert mnist["image_size"] == [(None, "config.toml [mnist-5k]", "28")]
    assert mnist["patience"] == [(None, "config.toml [mnist-5k.collaborative_training]", "150")]
    assert mnist["seeker_training"] == [(None, "config.toml [mnist-5k]", "random-masks")]


@pytest.mark.parametrize("argv", [[], ["--config", "patches", "--max_epochs", "4"],
                                  ["--config", "example", "--data_dir", "{data}"]])
def test_demo_help_shows_what_each_stage_runs_with(argv, tmp_path, capsys, monkeypatch):
    import demo

    argv = [a.replace("{data}", str(tmp_path)) for a in argv]
    values = shown(help_text(demo, argv, capsys, monkeypatch))
    _, _, plan = demo.planned(argv)
    for stage in plan:
        script = stage.script.removesuffix(".py")
        settings = recorded(run_config(script, plan[0].argv, monkeypatch))   # the flags every stage is given
        for name, entries in values.items():
            here = {where: text for where, _, text in entries}
            assert value_of(name, here.get(stage.script, here[None])) == settings[name], (stage.script, name)


def test_every_script_lists_only_the_flags_it_uses(capsys, monkeypatch):
    import explain

    listed = shown(help_text(explain, [], capsys, monkeypatch))
    assert not {"strategy", "mixed_precision", "max_epochs", "resume", "evaluate"} & set(listed)
    assert {"method", "learning_rate", "seeker_weights", "infiller"} <= set(listed)
    for script, hidden in HIDDEN_FLAGS.items():   # still accepted: demo.py passes every common flag on
        module = importlib.import_module(script.removesuffix(".py"))
        argv = [*(f"--{n}" if type_of(FIELDS[n]) is bool else f"--{n}={FIELDS[n].default}" for n in hidden
                  if FIELDS[n].default is not None and n not in ("overwrite", "resume"))]
        assert run_config(script.removesuffix(".py"), argv, monkeypatch).config == "mnist-5k"
    import faithfulness

    judge = " ".join(help_text(faithfulness, [], capsys, monkeypatch).split())
    assert "--max_epochs MAX_EPOCHS Epochs of the EVAL-X judge's training" in judge


def test_explain_shows_the_learning_rates_the_methods_use():
    from utils.explainers.choices import LEARNING_RATES

    assert METHOD_LEARNING_RATES == LEARNING_RATES


def test_help_still_answers_when_the_config_file_is_broken(tmp_path, capsys, monkeypatch):
    import pretrain_hider

    toml = tmp_path / "c.toml"
    toml.write_text("[p\n")
    text = help_text(pretrain_hider, ["--config_file", str(toml)], capsys, monkeypatch)
    assert "Showing the built-in defaults: config file" in text and "not valid TOML" in text
    assert shown(text)["max_epochs"] == [(None, "default", "10")]
