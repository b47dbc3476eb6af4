"""The README as a user meets it: its Python example runs as written, its links lead somewhere."""
import os
import re
import subprocess
import sys

from conftest import ROOT

README = ROOT / "README.md"


def python_example() -> str:
    """The ```python block of the README's "Use from Python" section."""
    section = README.read_text().split("\n## Use from Python\n", 1)
    assert len(section) == 2, 'README.md has no "## Use from Python" section'
    block = re.search(r"```python\n(.*?)```", section[1].split("\n## ", 1)[0], re.S)
    assert block, 'the "Use from Python" section has no ```python block'
    return block.group(1)


def test_python_example_runs_as_written(tmp_path):
    # A fresh interpreter outside the repository, as a user's script: only the library is on the path
    # (what `pip install -e .` gives), and nothing it writes lands in the checkout.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", python_example()], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"the README's Python example failed:\n{done.stderr[-3000:]}"
    assert "kept:" in done.stdout, f"the example printed no masks' budgets:\n{done.stdout[-2000:]}"


def test_links_to_docs_exist():
    targets = re.findall(r"\]\(((?:docs|tests)/[^)#\s]+)", README.read_text())
    assert targets, "README.md links to nothing under docs/"
    missing = [t for t in targets if not (ROOT / t).exists()]
    assert not missing, f"README.md links to missing files: {missing}"


def test_readme_stays_a_guide():
    lines = len(README.read_text().splitlines())
    assert lines <= 250, f"README.md has {lines} lines; move details and measurements to docs/"
