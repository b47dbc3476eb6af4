"""Errors the scripts turn into a one-line message and an exit code."""


class UsageError(Exception):
    """The user asked for something that cannot work (bad flag, file, preset ...): exit code 2."""

    exit_code = 2


class RunError(Exception):
    """A run failed while training or evaluating (NaN loss, interrupted ...): exit code 1."""

    exit_code = 1


class Interrupted(RunError):
    """The user stopped a run with SIGINT or SIGTERM; its state was saved: exit code 130."""

    exit_code = 130
