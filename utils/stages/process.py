"""A script's process: its devices and cluster, set up before TensorFlow starts, and the strategy scope its
trainings run in (`utils.training.distribute` holds the machinery).

Only the chief of a multi-worker cluster writes files: every other process runs as with ``--debug``
(nothing written, no run claimed), which `as_this_process` applies to the configuration.

TensorFlow is imported by each function that needs it, not by this module: the scripts import
`start_process` at their top, and ``--help`` and the default strategy never start TensorFlow here.
"""
from __future__ import annotations

import contextlib
import dataclasses


def start_process(cfg):
    """Where a script's run starts, right after `parse_config`: `cfg` as this process runs it.

    For a ``--strategy`` other than default, first what must precede TensorFlow's start: split the
    CPU into logical devices and, for multiworker, join the cluster (which waits for every worker);
    then only the chief writes (weights, figures, reports), the others run with ``debug=True``.
    """
    if cfg.strategy == "default":
        return cfg
    # deferred: TensorFlow start-up, --help and the default strategy stay fast
    from utils.training.distribute import prepare_devices

    prepare_devices(cfg.strategy)
    return as_this_process(cfg)


def as_this_process(cfg, strategy=None):
    """`cfg` as this process runs it: on a multi-worker task that is not the chief, with ``debug=True``
    (it writes nothing and claims no run). Idempotent; `start_process` applies it."""
    # deferred: TensorFlow start-up, --help and the default strategy stay fast
    from utils.training.distribute import writes_files

    if cfg.debug or writes_files(cfg.strategy, strategy):
        return cfg
    return dataclasses.replace(cfg, debug=True)


@contextlib.contextmanager
def distributed(cfg):
    """Enter ``cfg.strategy``'s scope (and with --mixed_precision the mixed bfloat16 policy, see
    `utils.training.precision`); yields the configuration this process trains with.

    A worker that is not the chief gets ``debug=True`` (it writes nothing and claims no run).
    """
    # deferred: TensorFlow start-up, --help and the default strategy stay fast
    from utils.training.distribute import strategy_scope

    with strategy_scope(cfg.strategy, cfg.batch_size, cfg.mixed_precision, cfg.quiet) as strategy:
        yield as_this_process(cfg, strategy)
