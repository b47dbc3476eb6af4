"""Does the seeker learn what a plain CNN learns? A reference CNN and the project's seekers, one budget.

Trains, on a folder data set (``--data_dir DIR`` with train/<class>/, test/<class>/ and optionally
val/<class>/, read by the project's folder loader), a plain Keras CNN

    f_i = maxpool_2(relu(conv3x3_i(f_{i-1})))   i = 1, 2, 3; 16, 32, 64 filters
    logits = Dense(max_{u,v} f_3[u, v, :])       (global max pooling)

and each seeker of ``--seekers`` (`networks.seeker.build_seeker`: default the small one, which ends in
Flatten + Dense, and the pooling one), each exactly as pretrain_seeker.py compiles a seeker (Adam at
--learning_rate, cross-entropy on logits) and on the same batches (--batch_size, --augment_shift,
--seed) for --max_epochs epochs, and prints, for each, the best validation accuracy, its epoch and the
test accuracy of the weights of that epoch (pretrain_seeker.py keeps them as best.weights.h5). Where
the plain CNN learns and a seeker stays near chance, that seeker, not the data, is what fails: pass
its better choice to every stage (``--seeker_model``).

    .venv/bin/python benchmarks/plain_cnn.py --data_dir DIR [--channels 1] [--max_epochs 8]
        [--seekers small,pooling] [any flag of pretrain_seeker.py]

Offline. The data flags and their defaults are the `example` preset's (64 pixels, RGB: pass --channels
1 for grey images) but --max_epochs, 8 here unless given, so that a run takes minutes on a few CPU cores.
What it measured: docs/results/2026-12-07-position-invariant-seeker.md.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from networks.choices import SEEKER_MODELS  # noqa: E402
from utils.config import COMMON, PRETRAIN, parse_config, run  # noqa: E402
from utils.errors import UsageError  # noqa: E402

EPOCHS = 8


def plain_cnn(image_shape, num_classes: int):
    """The reference CNN of the module docstring (logits, float32)."""
    # deferred: TensorFlow start-up, --help stays fast
    import keras
    from keras import layers

    inputs = keras.Input(image_shape, name="image")
    x = inputs
    for i, f in enumerate((16, 32, 64), 1):
        x = layers.Conv2D(f, 3, padding="same", activation="relu", name=f"plain_conv{i}")(x)
        x = layers.MaxPooling2D(2, padding="same", name=f"plain_pool{i}")(x)
    x = layers.GlobalMaxPooling2D(name="plain_global_pool")(x)
    x = layers.Dense(num_classes, name="plain_logits", dtype="float32")(x)
    return keras.Model(inputs, x, name="plain_cnn")


def train_and_test(model, cfg, data) -> dict:
    """Fit `model` (compiled) on the pretraining batches; its best validation epoch and that epoch's test accuracy."""
    # deferred: TensorFlow start-up, --help stays fast
    import keras
    import numpy as np
    from utils.data import epoch_pipeline, pipeline, steps_per_epoch

    # patience of the whole run: it never stops early, it only keeps the best validation epoch's weights, as
    # pretrain_seeker.py's best.weights.h5
    best = keras.callbacks.EarlyStopping("val_accuracy", mode="max", patience=cfg.max_epochs,
                                         restore_best_weights=True)
    start = time.perf_counter()
    history = model.fit(epoch_pipeline(data.train, cfg.batch_size, cfg.seed, 0, cfg.max_epochs, "labels",
                                       cfg.augment_shift, cfg.shift_fill),
                        epochs=cfg.max_epochs, steps_per_epoch=steps_per_epoch(data.train, cfg.batch_size),
                        validation_data=pipeline(data.val, cfg.batch_size, targets="labels"), callbacks=[best],
                        shuffle=False, verbose=0)  # the pipeline orders every epoch itself, by (seed, epoch)
    seconds = time.perf_counter() - start
    val = history.history["val_accuracy"]
    test = model.evaluate(pipeline(data.test, cfg.batch_size, targets="labels"), verbose=0, return_dict=True)
    return {"parameters": model.count_params(), "best_val": float(np.max(val)), "epoch": int(np.argmax(val)) + 1,
            "last_val": float(val[-1]), "test": float(test["accuracy"]), "seconds": seconds}


def main(argv) -> int:
    own = argparse.ArgumentParser(add_help=False)
    own.add_argument("--seekers", default="small,pooling")
    args, rest = own.parse_known_args(argv)
    seekers = [s.strip() for s in args.seekers.split(",") if s.strip()]
    unknown = [s for s in seekers if s not in SEEKER_MODELS]
    if unknown or not seekers:
        raise UsageError(f"--seekers {args.seekers!r}: give comma-separated seekers of {', '.join(SEEKER_MODELS)}")
    typed = {a.split("=")[0] for a in rest if a.startswith("--")}
    defaults = ([] if "--config" in typed else ["--config", "example"]) + \
        ([] if "--max_epochs" in typed else ["--max_epochs", str(EPOCHS)])
    cfg = parse_config(defaults + rest, "benchmarks/plain_cnn.py", __doc__ + "\n--seekers LIST: seekers to train "
                       f"beside the plain CNN, of {', '.join(SEEKER_MODELS)} (default small,pooling)",
                       groups=(COMMON, PRETRAIN))
    # deferred: TensorFlow start-up, --help stays fast
    import keras
    from utils.stages.data import load_data
    from utils.stages.pretraining import build_pretraining_model

    data = load_data(cfg)
    print(f"{cfg.data_dir}: {len(data.train)} train, {len(data.val)} validation, {len(data.test)} test images of "
          f"{data.image_shape}, {data.num_classes} classes (chance {1 / data.num_classes:.3f}); Adam "
          f"{cfg.learning_rate:g}, batch {cfg.batch_size}, {cfg.max_epochs} epochs, shifts of up to "
          f"{cfg.augment_shift} pixels, seed {cfg.seed}", flush=True)
    rows = []
    for name in ["plain CNN", *seekers]:
        keras.utils.set_random_seed(cfg.seed)
        if name == "plain CNN":
            model = plain_cnn(data.image_shape, data.num_classes)
            model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate),
                          loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                          metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
        else:  # exactly as pretrain_seeker.py builds and compiles it
            model = build_pretraining_model(dataclasses.replace(cfg, seeker_model=name), "seeker", data.image_shape,
                                            data.num_classes)
        rows.append((name if name == "plain CNN" else f"seeker {name}", train_and_test(model, cfg, data)))
        print(f"  {rows[-1][0]}: done in {rows[-1][1]['seconds']:.0f} s", flush=True)
    print(f"\n{'model':18s} {'parameters':>10s} {'best val (epoch)':>17s} {'last val':>9s} {'test':>6s}")
    for name, r in rows:
        print(f"{name:18s} {r['parameters']:10d} {r['best_val']:11.3f} ({r['epoch']:2d}) {r['last_val']:9.3f} "
              f"{r['test']:6.3f}")
    return 0


if __name__ == "__main__":
    run(main)
