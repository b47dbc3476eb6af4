"""Write a data set of the suite as an image folder with evidence, or list the data sets.

    python -m utils.data.suite --list
    python -m utils.data.suite NAME OUT_DIR [--train N] [--val N] [--test N] [--seed S]

Bad input is answered with one line on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import sys

from utils.config.parser import OneLineParser
from utils.data.suite.folder import FULL_SIZES, write_folder
from utils.data.suite.registry import DATA_SETS
from utils.errors import UsageError

PROG = "python -m utils.data.suite"


def image_count(text: str) -> int:
    """An image count for argparse: an integer >= 0."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of images (an integer >= 0)")
    return int(text)


def main(argv: list[str]) -> None:
    parser = OneLineParser(prog=PROG, description="Write a generated data set with known evidence as an image "
                           "folder (train/, val/, test/, evidence/) that --data_dir reads.")
    parser.add_argument("--list", action="store_true", help="list the data sets with what decides their class")
    parser.add_argument("name", nargs="?", metavar="NAME", help=f"one of: {', '.join(DATA_SETS)}")
    parser.add_argument("out_dir", nargs="?", metavar="OUT_DIR", help="the folder to write (new, or empty)")
    for split, n in FULL_SIZES.items():
        parser.add_argument(f"--{split}", type=image_count, default=n, metavar="N",
                            help=f"images in {split}/ (default: {n})")
    parser.add_argument("--seed", type=int, default=0, help="the seed the images are drawn with (default: 0)")
    args = parser.parse_args(argv)
    if args.list:
        if args.name is not None:
            raise UsageError(f"--list takes no NAME or OUT_DIR (see {PROG} --help)")
        width = max(map(len, DATA_SETS))
        for name, spec in DATA_SETS.items():
            print(f"{name:<{width}}  {spec.description}")
        return
    if args.out_dir is None:
        raise UsageError(f"give NAME and OUT_DIR, or --list (see {PROG} --help)")
    out = write_folder(args.name, args.out_dir, {"train": args.train, "val": args.val, "test": args.test},
                       args.seed)
    print(f"wrote {args.train} train, {args.val} val and {args.test} test images of {args.name} to {out}")


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except UsageError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        sys.exit(e.exit_code)
