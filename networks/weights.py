"""Weights files keyed by layer name, so they move between models that share layer names.

Keras 3's own ``save_weights`` keys layers by class and position (``conv2d_1``), which ties
a file to one layer order. Ours is an HDF5 file (still ending in ``.weights.h5``) with one
group per layer, named by the layer's path (``hider_conv1``, ``seeker_resnet50/conv1_conv``),
holding that layer's variables ``0, 1, ...`` in order. Writes are atomic.

A file also records the input and output shape of every model it was saved from (attribute
``models``: {model name: {"input": [H, W, C], "output": [...]}}), so that weights never load into a
model for other images even where every layer's shape happens to agree (the small seeker's
flattened features are 4 x 4 x 128 at 28 and at 32 pixels). Files written before the record
existed still load: their layer shapes are checked as always.

No file ever holds a NaN or an infinity: `save_weights` refuses to write one (`NonFiniteWeights`)
and `read_weights` refuses to read one, so a diverged training cannot hand its weights on.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import h5py
import numpy as np

from utils.errors import RunError, UsageError
from utils.runs.atomic import atomic_path

FORMAT = "hns-weights-by-name-v1"
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


class NonFiniteWeights(RunError):
    """The weights about to be saved hold NaN or infinity: nothing was written."""


def _leaves(model, prefix=""):
    """(path, layer) for every layer holding variables, descending into nested models."""
    # deferred: TensorFlow start-up (utils.config.checks reads weights files before TensorFlow starts)
    import keras

    for layer in model.layers:
        path = f"{prefix}{layer.name}"
        if isinstance(layer, keras.Model):
            yield from _leaves(layer, path + "/")
        elif layer.weights:
            yield path, layer


def _models(model):
    """`model` and every model nested in it."""
    # deferred: TensorFlow start-up (utils.config.checks reads weights files before TensorFlow starts)
    import keras

    yield model
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _models(layer)


def _shapes(model) -> dict[str, dict]:
    """{model name: {"input": shape, "output": shape}} (without the batch axis) of the models in
    `model` that have one input and one output (a subclassed model has neither until called)."""
    out = {}
    for m in _models(model):
        try:
            inputs, outputs = m.inputs, m.outputs
        except (AttributeError, ValueError):
            continue
        if inputs and outputs and len(inputs) == 1 and len(outputs) == 1:
            out[m.name] = {"input": [None if d is None else int(d) for d in inputs[0].shape[1:]],
                           "output": [None if d is None else int(d) for d in outputs[0].shape[1:]]}
    return out


def _non_finite(arrays: dict[str, list[np.ndarray]]) -> list[str]:
    return [name for name, values in arrays.items()
            if any(np.issubdtype(a.dtype, np.floating) and not np.isfinite(a).all() for a in values)]


def _few(names: list[str], most: int = 5) -> str:
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


def save_weights(model, path) -> None:
    """Write `model`'s weights to `path` atomically; a `NonFiniteWeights` error, and nothing written,
    if any of them is NaN or infinite."""
    leaves = dict(_leaves(model))
    arrays = {name: [np.asarray(w.numpy()) for w in layer.weights] for name, layer in leaves.items()}
    bad = _non_finite(arrays)
    if bad:
        raise NonFiniteWeights(f"not writing {path}: the weights of {_few(bad)} are NaN or infinite "
                               "(the training diverged)")
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["format"] = FORMAT
        f.attrs["model"] = model.name
        f.attrs["models"] = json.dumps(_shapes(model))
        for name, values in arrays.items():
            g = f.create_group(name)
            for i, (value, weight) in enumerate(zip(values, leaves[name].weights)):
                g.create_dataset(str(i), data=value)
                g[str(i)].attrs["name"] = weight.name


def _unreadable(path: Path, error: Exception) -> str:
    """What is wrong with a weights file that h5py could not read, and what to do about it."""
    message = str(error).splitlines()[0] if str(error).strip() else type(error).__name__
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(HDF5_SIGNATURE))
    except OSError as e:
        return f"{path} cannot be opened ({e.strerror}): check its permissions"
    if not head:
        return f"{path} is empty: copy it again, or retrain it with pretrain_*.py"
    if head != HDF5_SIGNATURE:
        return (f"{path} is not an HDF5 file (it starts with {head[:4]!r}): pass a .weights.h5 file written by "
                "this toolkit's scripts")
    truncated = re.search(r"truncated file: eof = (\d+).*stored_eof = (\d+)", message)
    if truncated:
        return (f"{path} is truncated ({truncated.group(1)} of its {truncated.group(2)} bytes): its copy or "
                "write was cut short; copy it again, or retrain it")
    return f"{path} is a damaged HDF5 file ({message[:80]}): restore it from a copy, or retrain it"


def read_weights(path) -> dict[str, list[np.ndarray]]:
    """{layer path: [arrays]} of a weights file, or a UsageError saying what is wrong with it."""
    return _read(path)[0]


def _read(path) -> tuple[dict[str, list[np.ndarray]], dict[str, dict]]:
    """The arrays of a weights file and its record of model shapes ({} in files older than it)."""
    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") != FORMAT:
                raise UsageError(f"{path} is not a weights file written by this toolkit (format "
                                 f"{f.attrs.get('format')!r}): retrain it with pretrain_*.py")
            out = {}

            def visit(name, obj):
                if isinstance(obj, h5py.Group) and obj.attrs.get("format") is None and "0" in obj \
                        and isinstance(obj["0"], h5py.Dataset):
                    out[name] = [obj[str(i)][()] for i in range(len(obj))]

            f.visititems(visit)
            record = f.attrs.get("models")
            shapes = json.loads(record) if record is not None else {}
    except (OSError, KeyError, ValueError) as e:
        raise UsageError(_unreadable(path, e)) from e
    bad = _non_finite(out)
    if bad:
        raise UsageError(f"{path} holds NaN or infinite weights (in {_few(bad)}): it was saved by a training that "
                         "diverged; retrain it, e.g. with a lower --learning_rate")
    return out, shapes


def _dims(shape) -> str:
    return "x".join(map(str, shape))


def _check_inputs(path, model, stored: dict[str, dict]) -> None:
    """Refuse weights saved from a model of the same name for other inputs. (Other outputs, classes
    or channels, always change the last layer's shape, which `load_weights` names.)"""
    own = _shapes(model)
    for name, now in own.items():
        was = stored.get(name)
        if was is not None and list(was["input"]) != now["input"]:
            raise UsageError(f"{path} was saved from {name} for {_dims(was['input'])} inputs; this {name} takes "
                             f"{_dims(now['input'])}: use weights trained with the same --image_size and --channels "
                             "(the same --config), or retrain")


def load_weights(model, path, may_differ: tuple[str, ...] = (), part: str | None = None) -> list[str]:
    """Load `path` into `model` by layer name, checking the recorded model shapes and every layer's.

    With `part`, the file is a larger model's and only its layers under ``<part>/`` are read (the hider's
    weights from a Hide-and-Seek checkpoint: ``part=hider.name``); the file's other layers are ignored.

    Every layer of `model` that holds variables must be in the file with the same shapes, and
    the file must hold no layer the model lacks; otherwise a UsageError names the layers that
    do not fit. Layers named in `may_differ` may have other shapes (e.g. the last layer of an
    autoencoder, with as many outputs as input channels, versus the one-channel mask): they
    keep their initial values and are returned so the caller can report them.
    """
    stored, shapes = _read(path)
    if part is not None:
        stored = {name[len(part) + 1:]: arrays for name, arrays in stored.items() if name.startswith(part + "/")}
        if not stored:
            raise UsageError(f"{path} holds no layers of a model named '{part}': pass the weights of a run whose "
                             f"{part} is this one (the same --model and --hider_decoder)")
    _check_inputs(path, model, shapes)
    leaves = dict(_leaves(model))
    missing = sorted(set(leaves) - set(stored))
    unexpected = sorted(set(stored) - set(leaves))
    mismatched, skipped, assignments = [], [], []
    for name, layer in leaves.items():
        if name not in stored:
            continue
        arrays = stored[name]
        shapes_ok = len(arrays) == len(layer.weights) and all(
            tuple(a.shape) == tuple(w.shape) for a, w in zip(arrays, layer.weights))
        if shapes_ok:
            assignments.extend(zip(layer.weights, arrays))
        elif name in may_differ:
            skipped.append(f"{name} {[tuple(a.shape) for a in arrays]} in the file, "
                           f"{[tuple(w.shape) for w in layer.weights]} in the model")
        else:
            mismatched.append(f"{name} (file {[tuple(a.shape) for a in arrays]}, "
                              f"model {[tuple(w.shape) for w in layer.weights]})")
    problems = []
    if mismatched:
        problems.append("shapes differ for " + ", ".join(mismatched))
    if missing:
        problems.append("missing layers " + ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else ""))
    if unexpected:
        problems.append("unknown layers " + ", ".join(unexpected[:5]) + (" ..." if len(unexpected) > 5 else ""))
    if problems:
        raise UsageError(f"{path} does not fit model '{model.name}': {'; '.join(problems)}. "
                         "Use weights trained with the same --model, --seeker_model, --image_size and --channels")
    for variable, value in assignments:
        variable.assign(value)
    return skipped
