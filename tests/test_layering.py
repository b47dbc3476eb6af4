"""The import rules: the models depend on nothing above them in utils/ but the ground floor; reporting computes nothing."""
import ast
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
