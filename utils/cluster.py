"""The cluster of --strategy: the strategies' names and the ``TF_CONFIG`` that ``multiworker`` joins.

No TensorFlow here: the configuration checks TF_CONFIG before TensorFlow starts (`utils.config.checks`),
and the training checks it again where it joins the cluster (`utils.training.distribute`).
"""
from __future__ import annotations

import json

from utils.errors import UsageError

# --strategy (see `utils.training.distribute`).
STRATEGIES = ("default", "mirrored", "multiworker")


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise UsageError(message)


def check_tf_config(text: str | None) -> None:
    """``TF_CONFIG`` of ``--strategy multiworker``: every job of its cluster lists its workers' addresses,
    and this process's task is one of them; a UsageError names what is wrong."""
    example = ("e.g. TF_CONFIG='{\"cluster\": {\"worker\": [\"host1:12345\", \"host2:12345\"]}, \"task\": "
               "{\"type\": \"worker\", \"index\": 0}}' on each worker (its own index)")
    _check(bool(text), f"--strategy multiworker needs TF_CONFIG, {example}")
    try:
        config = json.loads(text)
    except ValueError:
        raise UsageError(f"TF_CONFIG is not valid JSON ({text[:60]!r}): {example}") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    _check(isinstance(cluster, dict) and cluster and all(
        isinstance(v, list) and v and all(isinstance(a, str) for a in v) for v in cluster.values()),
        f"TF_CONFIG needs a 'cluster' object whose jobs each list their addresses: {example}")
    task = config.get("task", {})
    kind, index = (task.get("type"), task.get("index")) if isinstance(task, dict) else (None, None)
    _check(isinstance(kind, str) and kind in cluster,
          f"TF_CONFIG task type {kind!r} is not a job of its cluster ({', '.join(cluster)}): "
          f"set \"task\": {{\"type\": one of them, \"index\": this process's place in it}}")
    n = len(cluster[kind])
    _check(isinstance(index, int) and not isinstance(index, bool) and 0 <= index < n,
          f"TF_CONFIG task index {index!r} is out of range: job '{kind}' of its cluster lists {n} address(es), so "
          f"give each process its own index in 0..{n - 1}")
