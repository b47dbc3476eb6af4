"""Evaluate a trained Hide-and-Seek run (not implemented yet: see issue 4)."""
import sys

from utils.cli import run
from utils.errors import UsageError


def main(argv):
    raise UsageError("evaluation.py is not implemented yet")


if __name__ == "__main__":
    run(main)
