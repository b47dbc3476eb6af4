"""The suite's data sets by name, and `generate`, the one call that draws a split of any of them."""
from __future__ import annotations

from utils.data.suite import blob_count, colour_regions, stroke_figures, tetrominoes, texture_patch
from utils.data.suite.base import SPLITS, DataSet, Generated, generate_split
from utils.errors import UsageError

DATA_SETS: dict[str, DataSet] = {m.DATA_SET.name: m.DATA_SET for m in (
    tetrominoes, texture_patch, blob_count, stroke_figures, colour_regions)}


def data_set(name: str) -> DataSet:
    """The data set called `name`; a UsageError naming the choices otherwise."""
    if name not in DATA_SETS:
        raise UsageError(f"no data set '{name}' in the suite: choose one of {', '.join(DATA_SETS)}")
    return DATA_SETS[name]


def generate(name: str, split: str, n: int, seed: int = 0) -> Generated:
    """`n` images of `split` ('train', 'val', 'test') of data set `name`, a deterministic function of
    (name, split, n, seed); see `generate_split`."""
    if split not in SPLITS:
        raise UsageError(f"no split '{split}': choose one of {', '.join(SPLITS)}")
    return generate_split(data_set(name), split, n, seed)
