"""Errors the scripts turn into a one-line message and an exit code."""


class UsageError(Exception):
    """The user asked for something that cannot work (bad flag, file, preset ...): exit code 2."""

    exit_code = 2


class RunError(Exception):
    """A run failed while training or evaluating (NaN loss, interrupted ...): exit code 1."""

    exit_code = 1
