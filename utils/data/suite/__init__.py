"""A suite of generated image data sets whose class evidence is known pixel by pixel, to choose and test
settings on more than `patches`. They differ in what decides the class (shape, texture, count, thin strokes,
the colour of a filled region), the evidence's size (1% to 15% of the image), the background (smooth noise,
texture, flat, clutter of the evidence's kind), grey or colour, and size (32 to 64 px); docs/suite.md shows them.

    generate(name, split, n, seed)            -> Generated(images, labels, evidence, classes)
    write_folder(name, out_dir, sizes, seed)  -> an image folder the 'folder' data set reads, with evidence
    python -m utils.data.suite --list | NAME OUT_DIR [--train N --val N --test N --seed S]
"""
from utils.data.suite.base import SPLITS, DataSet, Generated
from utils.data.suite.folder import FULL_SIZES, write_folder
from utils.data.suite.registry import DATA_SETS, data_set, generate

__all__ = ["DATA_SETS", "FULL_SIZES", "SPLITS", "DataSet", "Generated", "data_set", "generate", "write_folder"]
