"""Entry-point wrapper shared by the scripts: one-line errors, exit codes, quiet TensorFlow."""
from __future__ import annotations

import os
import re
import sys
import threading
import traceback

from utils.errors import RunError, UsageError
from utils.runs.atomic import describe

# TensorFlow's C++ start-up chatter hides the messages users need; set before it is imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Lines TensorFlow's C++ runtime writes to stderr before its logging is configured (so that no
# environment variable silences them): "I0000 00:00:... port.cc:153] oneDNN ...", cuInit, etc.
_CPP_NOISE = re.compile(rb"^(WARNING: All log messages before absl::InitializeLog\(\)|"
                        rb"[IWE]\d{4} [\d:.]+ +\d+ [\w.]+:\d+\])")


class _QuietStderr:
    """Route file descriptor 2 through a filter that drops TensorFlow's C++ start-up lines."""

    def __enter__(self):
        sys.stderr.flush()
        self.saved = os.dup(2)
        read, write = os.pipe()
        os.dup2(write, 2)
        os.close(write)
        self.thread = threading.Thread(target=self._pump, args=(read,), daemon=True)
        self.thread.start()
        return self

    def _pump(self, read):
        with os.fdopen(read, "rb") as pipe:
            for line in pipe:
                if not _CPP_NOISE.match(line):
                    os.write(self.saved, line)

    def __exit__(self, *exc):
        sys.stderr.flush()
        os.dup2(self.saved, 2)  # closes the pipe's last writer: the pump sees EOF and ends
        self.thread.join(timeout=5)
        os.close(self.saved)
        return False


def main_wrapper(main, argv=None) -> int:
    """Run `main(argv)`; map failures to one line on stderr and an exit code.

    UsageError -> 2, RunError and anything unexpected -> 1, Ctrl-C -> 130; otherwise the exit code
    `main` returns (None: 0). With --verbose in argv the traceback (and TensorFlow's own log lines)
    are shown as well.
    """
    argv = sys.argv[1:] if argv is None else argv
    verbose = "--verbose" in argv
    prog = os.path.basename(sys.argv[0])
    try:
        return main(argv) or 0
    except (UsageError, RunError) as e:
        if verbose:
            traceback.print_exc()
        print(f"{prog}: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except OSError as e:  # a file or folder the system refused: name it, say what to check
        if verbose:
            traceback.print_exc()
        where = f"{e.filename}: " if e.filename else ""
        print(f"{prog}: error: {where}{describe(e)}: check the path, free some space or fix its permissions, "
              "then run the same command again", file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001 - the last line of defence for a readable message
        if verbose:
            traceback.print_exc()
        detail = str(e).strip().splitlines()[0] if str(e).strip() else ""
        print(f"{prog}: error: {type(e).__name__}: {detail} (rerun with --verbose for the traceback)",
              file=sys.stderr)
        return 1


def run(main) -> None:
    if "--verbose" in sys.argv[1:]:
        sys.exit(main_wrapper(main))
    with _QuietStderr():
        code = main_wrapper(main)
    sys.exit(code)
