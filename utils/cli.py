"""Entry-point wrapper shared by the scripts: one-line errors, exit codes, quiet TensorFlow."""
from __future__ import annotations

import os
import sys
import traceback

from utils.errors import RunError, UsageError

# TensorFlow's C++ start-up chatter hides the messages users need; set before it is imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main_wrapper(main, argv=None) -> int:
    """Run `main(argv)`; map failures to one line on stderr and an exit code.

    UsageError -> 2, RunError and anything unexpected -> 1, Ctrl-C -> 130. With --verbose
    in argv the traceback is shown as well.
    """
    argv = sys.argv[1:] if argv is None else argv
    verbose = "--verbose" in argv
    prog = os.path.basename(sys.argv[0])
    try:
        main(argv)
        return 0
    except (UsageError, RunError) as e:
        if verbose:
            traceback.print_exc()
        print(f"{prog}: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - the last line of defence for a readable message
        if verbose:
            traceback.print_exc()
        detail = str(e).strip().splitlines()[0] if str(e).strip() else ""
        print(f"{prog}: error: {type(e).__name__}: {detail} (rerun with --verbose for the traceback)",
              file=sys.stderr)
        return 1


def run(main) -> None:
    sys.exit(main_wrapper(main))
