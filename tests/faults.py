"""Run a script with a fault at its N-th file commit, for the fault-injection tests (tests only).

    python tests/faults.py kill N SCRIPT [ARGS...]

Every file the toolkit writes becomes visible through `utils.runs.atomic.replace`; here the process
dies just before the N-th such commit (1-based), as one killed by SIGKILL would: no ``finally``,
no ``atexit``, nothing flushed, the temporary file of that write left on the disk.
"""
import os
import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    mode, n, script, *args = sys.argv[1:]
    assert mode == "kill", mode
    from utils.runs import atomic

    real, count = atomic.replace, [0]

    def replace(source, target):
        count[0] += 1
        if count[0] == int(n):
            os._exit(137)
        real(source, target)

    atomic.replace = replace
    sys.argv = [str(ROOT / script), *args]
    runpy.run_path(str(ROOT / script), run_name="__main__")


if __name__ == "__main__":
    main()
