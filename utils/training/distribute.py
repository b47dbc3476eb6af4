"""--strategy: TensorFlow's own distribution engine carries every training (pretraining, HnS, EVAL-X).

* ``default``: one device, ``tf.distribute.get_strategy()`` (no distribution).
* ``mirrored``: ``tf.distribute.MirroredStrategy`` over all local GPUs; without GPUs, over the
  logical CPU devices (``HNS_CPU_DEVICES=N`` splits the CPU into N of them, for testing).
* ``multiworker``: ``tf.distribute.MultiWorkerMirroredStrategy`` configured by ``TF_CONFIG``, made
  where the script's run starts, before TensorFlow does (`prepare_devices`: collective ops are set up
  at start-up only); every
  worker runs the same command; on GPUs the all-reduce uses NCCL. Each process first waits for all
  the others (TensorFlow's cluster registration allows an hour). When a process dies, the others
  notice within seconds (its socket closes) or at most about 20 s (TensorFlow's coordination
  heartbeat); a collective that waits longer than ``HNS_COLLECTIVE_TIMEOUT`` seconds (default 120),
  as when a process hangs, fails too. Either way each survivor stops with one line (`RunError`).

``--batch_size`` is the global batch: each of r replicas computes 1/r of it, and the losses are
divided by r before their gradients are summed over replicas (see ``networks.hns``). Only the
chief writes files: every other worker runs as with ``--debug`` (nothing written, no run claimed).
So the workers cannot resume the chief's saved state: an interrupted multi-worker run is finished
on the chief alone (``--strategy default``), or started again on every worker with ``--overwrite``.
"""
from __future__ import annotations

import contextlib
import functools
import os
import re

import tensorflow as tf

from utils.cluster import STRATEGIES, check_tf_config
from utils.errors import RunError, UsageError
from utils.training.precision import precision_policy


def prepare_devices(strategy: str) -> None:
    """What must precede TensorFlow's start: split the CPU into ``HNS_CPU_DEVICES`` logical devices,
    if set; for ``multiworker``, join the cluster (collective ops are configured at start-up only)."""
    if os.environ.get("HNS_CPU_DEVICES"):
        try:
            devices = int(os.environ["HNS_CPU_DEVICES"])
        except ValueError:
            devices = 0
        if devices < 1:
            raise UsageError(f"HNS_CPU_DEVICES must be a whole number >= 1, got {os.environ['HNS_CPU_DEVICES']!r}")
        _split_cpu(devices)
    if strategy == "multiworker":
        _multiworker()


def _split_cpu(devices: int) -> None:
    cpus = tf.config.list_physical_devices("CPU")  # listing logical devices would start TensorFlow
    try:
        tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * devices)
    except RuntimeError as e:
        if len(tf.config.list_logical_devices("CPU")) != devices:
            raise UsageError(f"HNS_CPU_DEVICES={devices} came after TensorFlow started: set it in the environment "
                             "before the script starts") from e


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The strategy of ``--strategy name`` (see the module docstring)."""
    if name not in STRATEGIES:
        raise UsageError(f"--strategy must be one of {', '.join(STRATEGIES)}, got {name!r}")
    if name == "default":
        return tf.distribute.get_strategy()
    prepare_devices(name)
    if name == "mirrored":
        if tf.config.list_logical_devices("GPU"):
            return tf.distribute.MirroredStrategy()
        cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(cpus, cross_device_ops=tf.distribute.ReductionToOneDevice())
    return _multiworker()


@functools.cache
def _multiworker() -> tf.distribute.MultiWorkerMirroredStrategy:
    check_tf_config(os.environ.get("TF_CONFIG"))
    implementation = tf.distribute.experimental.CommunicationImplementation
    options = tf.distribute.experimental.CommunicationOptions(
        timeout_seconds=collective_timeout(),
        implementation=implementation.NCCL if tf.config.list_physical_devices("GPU") else implementation.AUTO)
    return _MultiWorker(communication_options=options)


def collective_timeout() -> float:
    """``HNS_COLLECTIVE_TIMEOUT``: the seconds a collective may wait for the other workers."""
    text = os.environ.get("HNS_COLLECTIVE_TIMEOUT", "120")
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:
        raise UsageError(f"HNS_COLLECTIVE_TIMEOUT must be a number of seconds > 0, got {text!r}")
    return seconds


class _MultiWorker(tf.distribute.MultiWorkerMirroredStrategy):
    """MultiWorkerMirroredStrategy with the ``reduce`` that Keras 3's ``fit`` expects of it.

    Keras passes a whole batch (a nest), Keras variables, and each step's scalar metrics with
    ``axis=0``; the cross-worker reduce takes one tensor at a time, and a scalar only with
    ``axis=None`` (keras-team/keras#20585).
    """

    def reduce(self, reduce_op, value, axis):
        reduce = super().reduce

        def one(v):
            if not isinstance(v, tf.distribute.DistributedValues):
                v = tf.convert_to_tensor(v)
            scalar = axis is not None and all(x.shape.rank == 0 for x in self.experimental_local_results(v))
            return reduce(reduce_op, v, None if scalar else axis)

        return tf.nest.map_structure(one, value)


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the run's files: always, except a non-chief multi-worker task."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type == "chief":
        return True
    return task_type == "worker" and task_id == 0 and "chief" not in resolver.cluster_spec().as_dict()


@contextlib.contextmanager
def strategy_scope(name: str, batch_size: int, mixed_precision: bool = False, quiet: bool = False):
    """Enter the scope of ``--strategy name`` (and with `mixed_precision` the mixed bfloat16 policy, see
    `utils.training.precision`); yields the strategy. `batch_size` is the global batch, a multiple of the
    replicas. A multiworker collective that breaks off raises a `RunError` of one line (`broken_off_message`)."""
    strategy = make_strategy(name)
    if name != "default" and not quiet:
        role = "chief" if is_chief(strategy) else "worker (writes nothing)"
        print(f"--strategy {name}: {strategy.num_replicas_in_sync} replicas, global batch {batch_size}, "
              f"this process is the {role}")
    if batch_size % strategy.num_replicas_in_sync:
        raise UsageError(f"--batch_size {batch_size} must be a multiple of the {strategy.num_replicas_in_sync} "
                         "replicas of --strategy " + name)
    with strategy.scope(), precision_policy(mixed_precision):
        try:
            yield strategy
        except tf.errors.OpError as e:
            if name == "multiworker" and broke_off(e):
                raise RunError(broken_off_message(e)) from e
            raise


def writes_files(name: str, strategy: tf.distribute.Strategy | None = None) -> bool:
    """Whether this process writes a run's files under ``--strategy name``: always, except a multi-worker task
    that is not the chief (which runs as with --debug: it writes nothing and claims no run)."""
    return name != "multiworker" or is_chief(strategy or make_strategy(name))


def broke_off(error: tf.errors.OpError) -> bool:
    """Whether `error` is a collective failing because the workers fell apart: a process died or
    exited (Unavailable, Cancelled, Aborted), hung (DeadlineExceeded after HNS_COLLECTIVE_TIMEOUT),
    or ran other steps than the rest (Internal: "Collective instance ... expected type ...")."""
    if isinstance(error, (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.CancelledError,
                          tf.errors.AbortedError)):
        return True
    return isinstance(error, tf.errors.InternalError) and "Collective" in error.message


def broken_off_message(error: tf.errors.OpError) -> str:
    """One line naming what broke the multi-worker training off and how to go on."""
    aborted = re.search(r"Collective ops is aborted by: (.+)", error.message)
    if aborted:
        cause = aborted.group(1).rstrip(": ")[:160]
    elif isinstance(error, tf.errors.DeadlineExceededError):
        cause = f"a collective waited longer than HNS_COLLECTIVE_TIMEOUT={collective_timeout():g} s"
    else:
        cause = "a collective failed"
    return (f"the multiworker training broke off: {cause} ({type(error).__name__}); a worker died, hangs or "
            "runs other flags. What the chief completed is kept: finish the run on the chief alone (the same "
            "command with --strategy default), or start it again on every worker with --overwrite")
