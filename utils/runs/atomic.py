"""Atomic writes: a kill at any moment leaves the old file or the new one, never half of one.

Every file the toolkit writes reaches its name through `replace` (one ``rename``, after the data
and the file are flushed to the disk), the one place where a write becomes visible: the
fault-injection tests kill a process, or make a write fail, there. A write that fails (no space
left, a read-only folder, a permission error) raises `WriteFailed`, one line naming the file and
the cause; the file it was to replace is left as it was.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path

from utils.errors import RunError

# h5py reports the operating system's error inside its own text: "... errno = 28, error message = '...'"
_H5_CAUSE = re.compile(r"error message = '([^']+)'")
_H5_ERRNO = re.compile(r"errno = (\d+)")


class WriteFailed(RunError):
    """A file could not be written; what was there before is intact (exit code 1)."""

    def __init__(self, path, error: OSError):
        self.path, self.error = Path(path), error
        super().__init__(f"cannot write {self.path}: {describe(error)}; the files written before are intact: "
                         "free some space or make the folder writable, then run the same command again "
                         "(a training continues from its last saved epoch)")


def describe(error: OSError) -> str:
    """The cause of an OSError in a few words: 'No space left on device (errno 28)'."""
    text = str(error)
    found = _H5_CAUSE.search(text)   # h5py puts its own words in strerror, the system's inside them
    if found:
        cause = found.group(1)
    elif error.strerror:
        cause = error.strerror.strip().splitlines()[0]
    else:
        cause = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    number = error.errno or (int(_H5_ERRNO.search(text).group(1)) if _H5_ERRNO.search(text) else None)
    return f"{cause} (errno {number})" if number else cause


def replace(source: Path | str, target: Path | str) -> None:
    """Give `source` the name `target` in one step (``os.replace``)."""
    os.replace(source, target)


def move(source: Path | str, target: Path | str) -> None:
    """`replace` a finished file into place; an OSError becomes `WriteFailed` naming the target."""
    try:
        replace(source, target)
    except OSError as e:
        raise WriteFailed(target, e) from e


def sync_folder(folder: Path | str) -> None:
    """Flush a folder's entries (a rename) to the disk, where the platform allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: Path | str, suffix: str = ""):
    """Yield a temporary path beside `path`; when the block succeeds it replaces `path` in one rename.

    A kill at any moment leaves the old file or the new one; a failed block leaves no temporary.
    `suffix` keeps an extension that writers insist on (``.png``, ``.npz``). The new file's data reach
    the disk before the rename, so a crash of the machine cannot leave it cut short. An OSError
    raised while writing becomes `WriteFailed`.
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=path.parent)
        os.close(fd)
        yield Path(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        replace(tmp, path)
        sync_folder(path.parent)
    except OSError as e:
        raise WriteFailed(path, e) from e
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def atomic_write_text(path: Path | str, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def atomic_write_json(path: Path | str, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(o):
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"cannot store {type(o).__name__} in JSON")


def atomic_savefig(fig, path: Path | str, **kw) -> None:
    with atomic_path(path, Path(path).suffix) as tmp:
        fig.savefig(tmp, **kw)
