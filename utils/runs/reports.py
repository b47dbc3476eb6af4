"""A report of several files (evaluation, faithfulness, explanations) replaced all at once.

A report is a set of files in a results folder, one of which, the *marker* (``evaluation.json``,
``faithfulness.json``, ...), says by its presence that the report is complete. `report_files` lets
a script write the new report into a staging folder beside it (``.<marker>.staging/``), then
commits it:

1. a journal (``.<marker>.commit``) lists the new files and the earlier report's files that the
   new one does not replace; once it is on the disk the new report is decided (the commit point);
2. the earlier marker is removed, the files to drop are removed, the new files are moved in, the
   new marker last;
3. the list of the report's files (``.<marker>.files``) is saved, and the journal removed.

A kill before 1 leaves the earlier report as it was (the staging folder is dropped by the next
writer); a kill after 1 leaves no marker, so no reader takes the folder for a complete report,
until `recover_report` (run by the next writer, and by `report_files` itself) finishes step 2-3.
So a reader that sees the marker sees the files of one report, never a mix of two.
"""
from __future__ import annotations

import json
import shutil
from contextlib import contextmanager
from pathlib import Path

from utils.runs import atomic
from utils.runs.atomic import atomic_write_json


def _journal(folder: Path, marker: str) -> Path:
    return folder / f".{marker}.commit"


def _staging(folder: Path, marker: str) -> Path:
    return folder / f".{marker}.staging"


def _listing(folder: Path, marker: str) -> Path:
    return folder / f".{marker}.files"


def report_listing(folder, marker: str) -> list[str]:
    """The files of the report last committed in `folder` (just the marker for a report written before
    listings existed, or none)."""
    folder = Path(folder)
    try:
        return json.loads(_listing(folder, marker).read_text())
    except (OSError, ValueError):
        return [marker] if (folder / marker).is_file() else []


@contextmanager
def report_files(folder, marker: str):
    """Yield a staging folder to write a whole report into (flat files, `marker` among them); when the
    block succeeds the report replaces the earlier one in `folder` (module docstring). A block that
    fails leaves the earlier report untouched."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    recover_report(folder, marker)
    staging = _staging(folder, marker)
    staging.mkdir()
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    new = sorted(p.name for p in staging.iterdir())
    if marker not in new or any(p.is_dir() for p in staging.iterdir()):
        shutil.rmtree(staging, ignore_errors=True)
        raise RuntimeError(f"a report must be flat files with its marker {marker}; got {new}")
    atomic.sync_folder(staging)
    drop = sorted(set(report_listing(folder, marker)) - set(new))
    atomic_write_json(_journal(folder, marker), {"files": new, "drop": drop})
    recover_report(folder, marker)


def recover_report(folder, marker: str) -> None:
    """Finish a commit that a kill cut short, or drop a report that was never committed."""
    folder = Path(folder)
    journal, staging = _journal(folder, marker), _staging(folder, marker)
    if journal.is_file():
        plan = json.loads(journal.read_text())
        if (staging / marker).is_file():  # else the new marker is in place already
            (folder / marker).unlink(missing_ok=True)
        for name in plan["drop"]:
            (folder / name).unlink(missing_ok=True)
        for name in sorted(plan["files"], key=lambda n: n == marker):  # the marker last
            if (staging / name).is_file():
                atomic.move(staging / name, folder / name)
        atomic.sync_folder(folder)
        atomic_write_json(_listing(folder, marker), plan["files"])
        journal.unlink()
    shutil.rmtree(staging, ignore_errors=True)
