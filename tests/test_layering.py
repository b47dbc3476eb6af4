"""The import rules: the models depend on nothing above them in utils/ but the ground floor; reporting computes nothing."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

NETWORKS = Path(__file__).resolve().parent.parent / "networks"
GROUND_FLOOR = {"utils.errors", "utils.runs.atomic"}


def imported_modules(tree):
    """Every module an import statement of `tree` names, at any depth (`from a import b` gives a.b and a)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def forbidden(source: str) -> list:
    """The utils modules `source` imports, other than the ground floor and its own parents."""
    names = set(imported_modules(ast.parse(source)))
    allowed = GROUND_FLOOR | {"utils", "utils.runs"}  # the packages the ground floor's names come from
    return sorted(n for n in names if n.startswith("utils.") and n not in allowed
                  and not any(n.startswith(g + ".") for g in GROUND_FLOOR))


@pytest.mark.parametrize("path", sorted(NETWORKS.glob("*.py")), ids=lambda p: p.name)
def test_networks_import_only_the_ground_floor_of_utils(path):
    assert forbidden(path.read_text()) == [], f"{path.name} imports above the ground floor"


@pytest.mark.parametrize("source", ["from utils.data import x", "import utils.evaluation.metrics",
                                    "def f():\n    from utils.config.schema import DECODERS",
                                    "from utils import config"])
def test_the_rule_sees_imports_above_the_ground_floor(source):
    assert forbidden(source)


@pytest.mark.parametrize("source", ["from utils.errors import UsageError", "from utils.runs.atomic import atomic_path",
                                    "import utils.errors", "import keras"])
def test_the_rule_lets_the_ground_floor_through(source):
    assert forbidden(source) == []


REPORTING = NETWORKS.parent / "utils" / "reporting"
COMPUTING = ("networks", "utils.data", "utils.training", "utils.explainers", "utils.evaluation.benchmark",
             "utils.evaluation.report", "utils.evaluation.explanations")


@pytest.mark.parametrize("path", sorted(REPORTING.glob("*.py")), ids=lambda p: p.name)
def test_reporting_builds_loads_and_runs_nothing(path):
    """Reporting writes tables, figures and files; the models, data, training and explainers stay in evaluation."""
    names = set(imported_modules(ast.parse(path.read_text())))
    assert sorted(n for n in names if n.startswith(COMPUTING)) == [], f"{path.name} imports what computes"


# --- The boundary of the configuration (issue 33) ---------------------------------------------------------
# scripts -> utils.config (reads, checks, translates) and utils.stages (orchestration) -> training, evaluation,
# reporting -> explainers, data, runs -> networks -> the ground floor. docs/architecture.md draws it.
ROOT = NETWORKS.parent
LIBRARY = sorted(p for p in [*ROOT.glob("networks/**/*.py"), *ROOT.glob("utils/**/*.py")])
SCRIPTS = sorted([*ROOT.glob("*.py"), *ROOT.glob("benchmarks/*.py")])
BOUNDARY = ("utils/config/", "utils/stages/")  # where a Config may be read, besides the scripts

NOT_ABOVE = {  # package -> the packages it must not import
    "utils/explainers": ("utils.config", "utils.stages", "utils.training", "utils.evaluation", "utils.reporting"),
    "utils/evaluation": ("utils.config", "utils.stages", "utils.training"),
    "utils/config": ("utils.stages", "utils.training", "utils.evaluation", "utils.reporting"),
    "utils/training": ("utils.config", "utils.stages"),
    "utils/runs": ("utils.config", "utils.stages"),
    "utils/data": ("utils.config", "utils.stages"),
    "utils/reporting": ("utils.config", "utils.stages"),
}


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def above(source: str, banned: tuple) -> list:
    """The modules of `banned` (or their submodules) that `source` imports, at any depth."""
    names = imported_modules(ast.parse(source))
    return sorted({n for n in names if any(n == b or n.startswith(b + ".") for b in banned)})


@pytest.mark.parametrize("package", sorted(NOT_ABOVE))
def test_no_package_imports_a_layer_above_it(package):
    found = {relative(p): above(p.read_text(), NOT_ABOVE[package]) for p in sorted(ROOT.glob(f"{package}/**/*.py"))
             if p.name != "__main__.py"}  # a package's command line is a script (python -m utils.data.suite)
    assert {k: v for k, v in found.items() if v} == {}


def test_the_layer_rule_sees_a_hidden_import():
    assert above("def f():\n    from utils.training.distribute import x", ("utils.training",)) == \
        ["utils.training.distribute", "utils.training.distribute.x"]
    assert above("import utils.trainingx", ("utils.training",)) == []


def config_readers(tree) -> list:
    """Functions with a parameter named `cfg`, or annotated as a Config (Keras' `from_config(config)` is a dict)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            arguments = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
            if any(a.arg == "cfg" or (a.annotation is not None and "Config" in ast.unparse(a.annotation))
                   for a in arguments):
                found.append(node.name)
    return found


def test_few_functions_outside_the_boundary_take_a_config():
    """Library functions take explicit arguments; utils.config and utils.stages turn a Config into them."""
    outside = {relative(p): config_readers(ast.parse(p.read_text())) for p in LIBRARY
               if not relative(p).startswith(BOUNDARY)}
    outside = {k: v for k, v in outside.items() if v}
    assert sum(map(len, outside.values())) <= 10, outside


def test_the_config_rule_sees_a_config_parameter():
    assert config_readers(ast.parse("def f(cfg): pass\ndef g(x, c: Config): pass\ndef h(config: dict): pass")) \
        == ["f", "g"]


def said_why(lines: list, index: int) -> bool:
    """Whether line `index`, or the block of imports and comments just above it, says `# deferred: <why>`."""
    while index >= 0:
        line = lines[index].strip()
        if "# deferred:" in line:
            return True
        if not line.startswith(("import ", "from ", "#", ")")) and not line.endswith((",", "(")):
            return False
        index -= 1
    return False


def deferred_imports(source: str) -> list:
    """Imports inside functions without a `# deferred: <why>` comment on their line or atop their block of imports."""
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for sub in ast.walk(node):
                if isinstance(sub, (ast.Import, ast.ImportFrom)) and not said_why(lines, sub.lineno - 1):
                    found.append(sub.lineno)
    return sorted(set(found))


@pytest.mark.parametrize("path", LIBRARY + SCRIPTS, ids=relative)
def test_imports_inside_functions_say_why(path):
    """An import sits in a function only for start-up time or an optional dependency, and says which."""
    assert deferred_imports(path.read_text()) == [], f"{relative(path)}: imports inside functions at these lines"


def test_the_import_rule_reads_the_comment():
    assert deferred_imports("def f():\n    import keras\n") == [2]
    assert deferred_imports("def f():\n    # deferred: TensorFlow start-up\n    import keras\n") == []
    assert deferred_imports("def f():\n    # deferred: start-up\n    import keras\n    import numpy\n") == []
    later = "def f():\n    # deferred: start-up\n    import keras\n    x = 1\n    import numpy\n"
    assert deferred_imports(later) == [5]


PRIVATE_KERAS = ("keras.src", "._tracker", "_lock_state", "object.__setattr__")


@pytest.mark.parametrize("path", LIBRARY + SCRIPTS + [p for p in sorted(ROOT.glob("tests/*.py"))
                                                      if p.name != "test_layering.py"], ids=relative)
def test_no_private_keras(path):
    text = path.read_text()
    assert [p for p in PRIVATE_KERAS if p in text] == []


@pytest.mark.parametrize("path", LIBRARY + SCRIPTS + sorted(ROOT.glob("tests/*.py")), ids=relative)
def test_no_function_over_60_lines(path):
    tree = ast.parse(path.read_text())
    long = [(n.name, n.end_lineno - n.lineno + 1) for n in ast.walk(tree)
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno + 1 > 60]
    assert long == []


def test_every_registered_class_serialises():
    """A class registered for Keras serialisation defines its own get_config (or has nothing to add to it)."""
    missing = []
    for path in LIBRARY:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any("register_keras_serializable" in ast.unparse(d)
                                                      for d in node.decorator_list):
                init = next((f for f in node.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"), None)
                takes = init is not None and len(init.args.args) + len(init.args.kwonlyargs) > 1
                if takes and not any(isinstance(f, ast.FunctionDef) and f.name == "get_config" for f in node.body):
                    missing.append(f"{relative(path)}:{node.name}")
    assert missing == []


def test_networks_and_explainers_never_read_the_configuration():
    for path in [*ROOT.glob("networks/*.py"), *ROOT.glob("utils/explainers/*.py")]:
        assert above(path.read_text(), ("utils.config", "utils.stages")) == [], relative(path)


@pytest.mark.parametrize("script", sorted(p.name for p in ROOT.glob("*.py")))
def test_help_starts_no_tensorflow(script):
    """A script imports TensorFlow only once its run starts (inside the scripts' entry, which quiets its
    start-up lines), so `--help` is fast and an early refusal prints one line."""
    done = subprocess.run([sys.executable, "-X", "importtime", script, "--help"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0
    assert [line for line in done.stderr.splitlines() if "tensorflow" in line or "keras" in line] == []
