"""Weights files keyed by layer name, so they move between models that share layer names.

Keras 3's own ``save_weights`` keys layers by class and position (``conv2d_1``), which ties
a file to one layer order. Ours is an HDF5 file (still ending in ``.weights.h5``) with one
group per layer, named by the layer's path (``hider_conv1``, ``seeker_resnet50/conv1_conv``),
holding that layer's variables ``0, 1, ...`` in order. Writes are atomic.
"""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from utils.errors import UsageError
from utils.runs.atomic import atomic_path

FORMAT = "hns-weights-by-name-v1"


def _leaves(model, prefix=""):
    """(path, layer) for every layer holding variables, descending into nested models."""
    import keras

    for layer in model.layers:
        path = f"{prefix}{layer.name}"
        if isinstance(layer, keras.Model):
            yield from _leaves(layer, path + "/")
        elif layer.weights:
            yield path, layer


def save_weights(model, path) -> None:
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["format"] = FORMAT
        f.attrs["model"] = model.name
        for name, layer in _leaves(model):
            g = f.create_group(name)
            for i, w in enumerate(layer.weights):
                g.create_dataset(str(i), data=np.asarray(w.numpy()))
                g[str(i)].attrs["name"] = w.name


def read_weights(path) -> dict[str, list[np.ndarray]]:
    """{layer path: [arrays]} of a weights file, or a UsageError saying what is wrong with it."""
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
            return out
    except (OSError, KeyError, ValueError) as e:
        raise UsageError(f"{path} cannot be read as a weights file ({type(e).__name__}: "
                         f"{str(e).splitlines()[0][:60]}); it may be truncated: retrain or restore it") from e


def load_weights(model, path, may_differ: tuple[str, ...] = ()) -> list[str]:
    """Load `path` into `model` by layer name, checking every shape.

    Every layer of `model` that holds variables must be in the file with the same shapes, and
    the file must hold no layer the model lacks; otherwise a UsageError names the layers that
    do not fit. Layers named in `may_differ` may have other shapes (e.g. the last layer of an
    autoencoder, with as many outputs as input channels, versus the one-channel mask): they
    keep their initial values and are returned so the caller can report them.
    """
    stored = read_weights(path)
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
                         "Use weights trained with the same --model, --image_size and --channels")
    for variable, value in assignments:
        variable.assign(value)
    return skipped
