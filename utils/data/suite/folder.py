"""`write_folder`: a data set of the suite written as the image folder the 'folder' data set reads
(utils/data/datasets.py), evidence included:

    out_dir/train/<class>/00000.png ...  out_dir/val/<class>/...  out_dir/test/<class>/...
    out_dir/evidence/<split>/<class>/<the image's name>.png   (255 = evidence, 0 elsewhere)
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from utils.data.suite.registry import data_set, generate
from utils.errors import UsageError

FULL_SIZES = {"train": 12_000, "val": 2_000, "test": 2_000}


def write_folder(name: str, out_dir, sizes: dict[str, int] | None = None, seed: int = 0) -> Path:
    """Write data set `name` under `out_dir`, `sizes[split]` images per split (default `FULL_SIZES`; a split
    of 0 images is left out), drawn with `seed`; returns `out_dir`.

    The folder is written in a temporary folder beside `out_dir` and renamed into place at the end, so an
    interrupted run leaves no half-written `out_dir` (only a hidden ``.<name>.partial-*`` folder, removed on
    any error this process sees). An `out_dir` that exists and is not empty is refused with a UsageError.
    """
    spec = data_set(name)
    sizes = dict(FULL_SIZES if sizes is None else sizes)
    bad = {k: v for k, v in sizes.items() if k not in FULL_SIZES or not isinstance(v, int) or v < 0}
    if bad or not sizes.get("train") or not sizes.get("test"):
        raise UsageError(f"sizes {sizes}: give train and test at least 1 image each and val 0 or more "
                         f"(splits: {', '.join(FULL_SIZES)})")
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise UsageError(f"{out_dir} already exists and is not empty: remove it or choose a new folder")
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    except OSError as e:
        raise UsageError(f"cannot write beside {out_dir} ({e.strerror}): choose a folder you can write to") from e
    try:
        for split, n in sizes.items():
            if not n:
                continue
            images, labels, evidence, classes = generate(name, split, n, seed)
            for i, (image, label, mask) in enumerate(zip(images, labels, evidence)):
                path = Path(split) / classes[label] / f"{i:05d}.png"
                for root, pixels in ((partial, image[..., 0] if spec.channels == 1 else image),
                                     (partial / "evidence", mask.astype(np.uint8) * 255)):
                    (root / path).parent.mkdir(parents=True, exist_ok=True)
                    Image.fromarray(pixels).save(root / path)
        if out_dir.exists():
            out_dir.rmdir()   # empty, checked above
        partial.rename(out_dir)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return out_dir
