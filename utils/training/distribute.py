"""--strategy: TensorFlow's own distribution engine carries every training (pretraining, HnS, EVAL-X).

* ``default``: one device, ``tf.distribute.get_strategy()`` (no distribution).
* ``mirrored``: ``tf.distribute.MirroredStrategy`` over all local GPUs; without GPUs, over the
  logical CPU devices (``HNS_CPU_DEVICES=N`` splits the CPU into N of them, for testing).
* ``multiworker``: ``tf.distribute.MultiWorkerMirroredStrategy`` configured by ``TF_CONFIG``; a
  collective that waits longer than ``HNS_COLLECTIVE_TIMEOUT`` seconds (default 120), as when
  another worker died, fails with an error instead of hanging.

``--batch_size`` is the global batch: each of r replicas computes 1/r of it, and the losses are
divided by r before their gradients are summed over replicas (see ``networks.hns``). Only the
chief writes files: every other worker runs as with ``--debug`` (nothing written, no run claimed).
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os

import tensorflow as tf

from utils.config.schema import STRATEGIES
from utils.errors import UsageError


def prepare_devices() -> None:
    """Split the CPU into ``HNS_CPU_DEVICES`` logical devices, if set (before TensorFlow starts)."""
    if os.environ.get("HNS_CPU_DEVICES"):
        try:
            devices = int(os.environ["HNS_CPU_DEVICES"])
        except ValueError:
            devices = 0
        if devices < 1:
            raise UsageError(f"HNS_CPU_DEVICES must be a whole number >= 1, got {os.environ['HNS_CPU_DEVICES']!r}")
        _split_cpu(devices)


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
    prepare_devices()
    if name == "mirrored":
        if tf.config.list_logical_devices("GPU"):
            return tf.distribute.MirroredStrategy()
        cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(cpus, cross_device_ops=tf.distribute.ReductionToOneDevice())
    config = os.environ.get("TF_CONFIG")
    if not config:
        raise UsageError("--strategy multiworker needs TF_CONFIG, e.g. TF_CONFIG='{\"cluster\": {\"worker\": "
                         "[\"host1:12345\", \"host2:12345\"]}, \"task\": {\"type\": \"worker\", \"index\": 0}}' "
                         "on each worker (its own index)")
    try:
        json.loads(config)["cluster"]
    except (ValueError, KeyError, TypeError) as e:
        raise UsageError(f"TF_CONFIG is not a JSON object with a 'cluster': {config[:80]!r}") from e
    timeout = float(os.environ.get("HNS_COLLECTIVE_TIMEOUT", "120"))
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=timeout)
    return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)


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
def distributed(cfg):
    """Enter ``cfg.strategy``'s scope; yields the configuration this process trains with.

    A worker that is not the chief gets ``debug=True`` (it writes nothing and claims no run).
    """
    strategy = make_strategy(cfg.strategy)
    chief = is_chief(strategy)
    if cfg.strategy != "default" and not cfg.quiet:
        role = "chief" if chief else "worker (writes nothing)"
        print(f"--strategy {cfg.strategy}: {strategy.num_replicas_in_sync} replicas, global batch {cfg.batch_size}, "
              f"this process is the {role}")
    if cfg.batch_size % strategy.num_replicas_in_sync:
        raise UsageError(f"--batch_size {cfg.batch_size} must be a multiple of the {strategy.num_replicas_in_sync} "
                         "replicas of --strategy " + cfg.strategy)
    with strategy.scope():
        yield cfg if chief else dataclasses.replace(cfg, debug=True)
