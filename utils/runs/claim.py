"""Who may write a run, and whether it starts, continues or is refused.

**Lock.** A process that writes a run holds its lock (`RunLock`, an exclusive ``flock`` on
``<weights>/<identifier>/.lock``, which records the owner's pid). A second process on the same
run is refused with one line naming the lock and the owner. The kernel drops a ``flock`` when
its process dies, so the lock of a killed run is taken over by the next process, which says so.
The lock file and any folder made only to hold it are removed when the lock is released.

**Policy** (`claim_series`), from the status of each run (`utils.runs.layout.RunPaths.status`):

    --overwrite                     every run is cleared and starts again
    every run 'finished'            refused: a finished run is never touched without --overwrite
    some run 'incomplete' holding   refused, naming the files: it died before its first resume
      files worth keeping             state, yet holds weights or reports (an older version's run)
    otherwise                       the series starts or continues: finished runs are kept,
                                    interrupted runs resume from their saved state, incomplete
                                    runs (killed before their first resume state: nothing but logs
                                    and staged files) start again, saying so, absent runs start

So the same command run again after a kill at any instant continues the work: a kill between two
runs of a series, or during a run's first epoch, included. --resume is no longer needed for that;
it only changes the refusal of a finished run to "nothing to resume".
"""
from __future__ import annotations

import fcntl
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

from utils.errors import UsageError
from utils.runs.layout import LOCK, Run, RunPaths


class RunLock:
    """Exclusive, re-entrant within a process, lock of one run (see the module docstring)."""

    _held: dict = {}  # resolved lock path -> [file descriptor, depth, folders made for it]

    def __init__(self, path):
        self.path = Path(path)
        self.taken_over = None  # pid of a dead owner whose lock this one took over

    def _key(self) -> str:
        return str(self.path.resolve())

    def acquire(self) -> "RunLock":
        key = self._key()
        if key in RunLock._held:
            RunLock._held[key][1] += 1
            return self
        made = _make_parents(self.path.parent)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = _read_owner(fd)
                os.close(fd)
                raise UsageError(f"the run {self.path.parent} is in use by process {owner or '?'} (lock "
                                 f"{self.path}): wait for it to end, or stop it, then run this again")
            try:  # the previous owner may have removed the file between our open and flock
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        previous = _read_owner(fd)
        if previous and previous != os.getpid():
            self.taken_over = previous
            print(f"note: taking over the lock {self.path} of process {previous}, which is no longer running")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        RunLock._held[key] = [fd, 1, made]
        return self

    def release(self) -> None:
        key = self._key()
        entry = RunLock._held.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] > 0:
            return
        del RunLock._held[key]
        fd, _, made = entry
        try:
            self.path.unlink(missing_ok=True)  # while still holding it: nobody can take a stale file
        finally:
            os.close(fd)
        for folder in reversed(made):
            try:
                folder.rmdir()
            except OSError:  # holds the run's files now, or never emptied: keep it
                break

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False


def _make_parents(folder: Path) -> list[Path]:
    """mkdir -p `folder`; returns the folders it made, outermost first."""
    missing = []
    p = folder
    while not p.exists():
        missing.append(p)
        p = p.parent
    folder.mkdir(parents=True, exist_ok=True)
    return list(reversed(missing))


def _read_owner(fd) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode().strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None


def clear(paths: RunPaths) -> None:
    """Remove a run's files, keeping the lock of whoever is clearing it."""
    for folder in paths.all():
        if not folder.is_dir():
            continue
        if not (folder / LOCK).exists():
            shutil.rmtree(folder)
            continue
        for child in folder.iterdir():
            if child.name != LOCK:
                shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()


def claim_series(runs: list[Run], overwrite: bool = False, resume: bool = False) -> list[tuple[Run, bool]]:
    """The runs left to do, each with True when it resumes a saved state (policy: module docstring).

    Refusals are UsageErrors raised before any file is touched.
    """
    status = [r.paths.status() for r in runs]
    if overwrite:
        for r in runs:
            clear(r.paths)
        return [(r, False) for r in runs]
    for r, s in zip(runs, status):
        kept = r.paths.kept() if s == "incomplete" else []
        if kept:
            raise UsageError(f"a run already exists at {r.paths.weights}: it holds "
                             f"{', '.join(str(p) for p in kept[:2])}{' ...' if len(kept) > 2 else ''} but no resume "
                             "state, so it cannot continue (interrupted before its first saved state by an older "
                             "version, or written by hand): pass --overwrite to start it again, or choose another "
                             "--identifier")
    where = runs[0].paths.weights if len(runs) == 1 else runs[0].paths.weights.parent
    if all(s == "finished" for s in status):
        raise UsageError(f"nothing to resume at {where}: it has finished (pass --overwrite to train it again)"
                         if resume else f"a run already exists at {where}: "
                         "pass --overwrite to replace it or choose another --identifier")
    todo = []
    for r, s in zip(runs, status):
        if s == "finished":
            continue
        if s == "incomplete":
            print(f"note: {r.paths.weights} was interrupted before its first saved state: starting it again")
            clear(r.paths)
        todo.append((r, s == "interrupted"))
    return todo


@contextmanager
def claim(lock: Path, runs: list[Run], *, debug: bool = False, overwrite: bool = False, resume: bool = False):
    """Hold the lock file `lock` of `runs` (a run's or a series': `utils.runs.layout.series_lock`) and yield
    `claim_series(runs, overwrite, resume)`.

    With `debug` (--debug) nothing is locked or cleared and every run starts from scratch.
    """
    if debug:
        yield [(r, False) for r in runs]
        return
    with RunLock(lock):
        yield claim_series(runs, overwrite, resume)


@contextmanager
def hold(lock: Path, debug: bool = False):
    """Hold the lock file `lock` (nothing with `debug`): for readers and report writers."""
    if debug:
        yield None
        return
    with RunLock(lock) as held:
        yield held
