"""Training throughput: the seeker, hider and Hide-and-Seek steps, fit against a bare loop, epochs.

Measured in one run, so that the ratios hold on any machine (absolute figures do not):

1. **Steps.** Images per second of one training step of the seeker (cross-entropy), of the hider
   (autoencoder, binary cross-entropy) and of the HnS model for each estimator (deterministic,
   st1, st2, sa, reinforce; joint training) and for the deterministic neuron with
   ``--seeker_training random-masks`` (the mnist-5k preset's), at each --batch_sizes, in each --precisions, on mnist-5k digits. Each
   step runs in a bare compiled loop (one ``tf.function`` holding a ``tf.while_loop`` of
   ``train_step``; no host work between steps) after an untimed warm-up call; the figure is the
   median of --repeats calls of --steps steps. ``ratio`` = time(HnS step) / (time(seeker step) +
   time(hider step)): the HnS step does the work of both plus the seeker's input gradient (and
   for stochastic neurons a second seeker pass on the evaluation mask, for random-masks one on
   random masks).
2. **fit against the bare loop.** The deterministic HnS model with joint training (built by
   ``networks.build.build_hns``), trained by ``model.fit`` on the training pipeline
   (``utils.data.epoch_pipeline``), with and without the adaptive-alpha callback, at
   ``steps_per_execution`` 1 and --spe (medians of --repeats calls); against the same step in the
   bare loop on one batch.
3. **Epoch time per image** of that ``fit`` (adaptive alpha on) on 1k and 4k mnist-5k images and
   on --largest images (the 5,000 digits repeated, or full MNIST with --full_mnist when its file
   is cached): seconds per image of one epoch after a warm-up epoch.

With --jit every step of the first table is timed a second time with its loop compiled by XLA
(``jit_compile=True``): the row adds XLA's ms per step and the speed-up time(graph) / time(XLA), or
the first line of XLA's refusal where an op has no XLA kernel.

    .venv/bin/python benchmarks/throughput.py [--batch_sizes 64,256] [--precisions float32,mixed_bfloat16]
        [--jit] [--json throughput.json]

Prints tables; with --json writes every figure (rows with ``batch_size``, ``precision``,
``ratio``). Targets of the issue on 2 CPU cores: ratio <= 1.10 at batch 256, fit within 10% of
the bare loop, epoch time per image flat within 15% from 1k to 4k images. What it measured:
docs/results/2026-11-24-throughput.md.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.get_logger().setLevel("ERROR")  # one tf.function per measured model is intended, not a retrace

from networks.build import build_hns  # noqa: E402
from utils.config import COMMON, EVAL, HNS, parse_config  # noqa: E402
from utils.config.arguments import hns_arguments  # noqa: E402
from utils.data import Split, epoch_pipeline, steps_per_epoch  # noqa: E402
from utils.stages.data import load_data  # noqa: E402
from utils.stages.pretraining import build_pretraining_model  # noqa: E402
from utils.training.precision import precision_policy  # noqa: E402
from utils.training.schedules import AdaptiveAlpha  # noqa: E402

# HnS steps measured: the original joint training with each neuron, and the deterministic neuron with
# --seeker_training random-masks (the mnist-5k preset's), which adds one seeker pass on random masks.
ESTIMATORS = ("deterministic", "random-masks", "st1", "st2", "sa", "reinforce")


def config(batch_size: int, estimator: str = "deterministic", spe: int = 1):
    """The training scripts' configuration; the precision is set around the build (`precision_policy`)."""
    flags = ["--batch_size", str(batch_size), "--steps_per_execution", str(spe), "--quiet", "--debug",
             "--seeker_training", "random-masks" if estimator == "random-masks" else "joint"]
    if estimator not in ("deterministic", "random-masks"):
        flags += ["--stochastic", "--estimator", estimator]
    return parse_config(flags, "collaborative_training.py", "", groups=(COMMON, HNS, EVAL))


def batch(data, batch_size: int, targets: str = "labels"):
    x = tf.constant(data.train.x[:batch_size], tf.float32) / 255.0
    return x, (x if targets == "images" else tf.constant(data.train.y[:batch_size]))


def bare_loop_seconds(model, x, y, steps: int, repeats: int, jit: bool = False) -> float:
    """Median seconds per ``train_step`` inside one compiled loop of `steps` steps; with `jit`, the loop is
    compiled by XLA (``tf.function(jit_compile=True)``, what ``model.compile(jit_compile=True)`` asks of Keras)."""
    model.optimizer.build(model.trainable_variables)

    def body(n):
        for _ in tf.range(n):
            model.train_step((x, y))
        return model.optimizer.iterations.value + 0

    loop = tf.function(body, jit_compile=jit)

    loop(tf.constant(2)).numpy()  # trace and warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        loop(tf.constant(steps)).numpy()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) / steps


def step_rows(data, args) -> list[dict]:
    rows = []
    for precision in args.precisions:
        for b in args.batch_sizes:
            for name in ("seeker", "hider", *ESTIMATORS):
                keras.utils.set_random_seed(0)
                with precision_policy(precision == "mixed_bfloat16"):
                    if name in ("seeker", "hider"):
                        model = build_pretraining_model(config(b), name, data.image_shape, data.num_classes)
                        x, y = batch(data, b, "labels" if name == "seeker" else "images")
                    else:
                        model = build_hns(data.image_shape, data.num_classes, **hns_arguments(config(b, name)))
                        x, y = batch(data, b)
                    seconds = bare_loop_seconds(model, x, y, args.steps, args.repeats)
                    xla = jit_seconds(model, x, y, args) if args.jit else None
                rows.append(dict(step=name, precision=precision, batch_size=b, ms_per_step=1e3 * seconds,
                                 images_per_second=b / seconds, **xla_figures(xla, seconds, b)))
                print(f"  {precision:>14} batch {b:4d} {name:>13}: {1e3 * seconds:7.2f} ms/step, "
                      f"{b / seconds:8.0f} images/s" + xla_text(xla, seconds), flush=True)
    return rows


def jit_seconds(model, x, y, args):
    """Seconds per step of the same loop compiled by XLA, or the first line of why XLA refused it."""
    try:
        return bare_loop_seconds(model, x, y, args.steps, args.repeats, jit=True)
    except Exception as error:  # an op without an XLA kernel: the row says so and the run goes on
        return str(error).strip().splitlines()[0][:160]


def xla_figures(xla, seconds: float, batch_size: int) -> dict:
    if xla is None:
        return {}
    if isinstance(xla, str):
        return dict(xla_error=xla)
    return dict(xla_ms_per_step=1e3 * xla, xla_images_per_second=batch_size / xla, xla_speedup=seconds / xla)


def xla_text(xla, seconds: float) -> str:
    if xla is None:
        return ""
    if isinstance(xla, str):
        return f"; XLA refused: {xla}"
    return f"; XLA {1e3 * xla:7.2f} ms/step, speed-up {seconds / xla:.2f}"


def ratios(rows) -> list[dict]:
    """time(HnS step) / (time(seeker step) + time(hider step)) per precision, batch and estimator."""
    out = []
    for precision in sorted({r["precision"] for r in rows}):
        for b in sorted({r["batch_size"] for r in rows}):
            t = {r["step"]: r["ms_per_step"] for r in rows if r["precision"] == precision and r["batch_size"] == b}
            for name in ESTIMATORS:
                out.append(dict(precision=precision, batch_size=b, estimator=name,
                                ratio=t[name] / (t["seeker"] + t["hider"])))
    return out


def timed_fit(model, split: Split, batch_size: int, first: int, epochs: int, callbacks) -> float:
    """Seconds of `model.fit` over epochs first .. first + epochs - 1 of the training pipeline on `split`."""
    ds = epoch_pipeline(split, batch_size, 0, first, first + epochs)
    start = time.perf_counter()
    model.fit(ds, steps_per_epoch=steps_per_epoch(split, batch_size), initial_epoch=first, epochs=first + epochs,
              callbacks=callbacks, verbose=0, shuffle=False)
    return time.perf_counter() - start


def fit_seconds_per_step(model, split: Split, batch_size: int, steps: int, adaptive: bool, repeats: int) -> float:
    """Median seconds per step of `repeats` calls of `model.fit` over `steps` steps of the training
    pipeline each (after a warm-up call)."""
    callbacks = [AdaptiveAlpha(patience=10 ** 9, verbose=False)] if adaptive else []
    per_epoch = steps_per_epoch(split, batch_size)
    epochs = -(-steps // per_epoch)
    times = [timed_fit(model, split, batch_size, i * epochs, epochs, callbacks) for i in range(1 + repeats)]
    return float(np.median(times[1:])) / (epochs * per_epoch)


def full_batches(data, batch_size: int, n: int) -> Split:
    """The first n training images, n rounded down to whole batches (every step the same shape)."""
    n = n // batch_size * batch_size
    return Split(data.train.x[:n], data.train.y[:n])


def fit_rows(data, args) -> list[dict]:
    rows = []
    b = args.fit_batch
    split = full_batches(data, b, len(data.train))
    keras.utils.set_random_seed(0)
    model = build_hns(data.image_shape, data.num_classes, **hns_arguments(config(b)))
    bare = bare_loop_seconds(model, *batch(data, b), args.steps, args.repeats)
    print(f"  batch {b} bare loop: {1e3 * bare:6.2f} ms/step", flush=True)
    for spe in sorted({1, args.spe}):
        for adaptive in (False, True):
            keras.utils.set_random_seed(0)
            model = build_hns(data.image_shape, data.num_classes, **hns_arguments(config(b, spe=spe)))
            fit = fit_seconds_per_step(model, split, b, args.fit_steps // spe * spe, adaptive, args.repeats)
            rows.append(dict(batch_size=b, steps_per_execution=spe, adaptive_alpha=adaptive,
                             fit_ms_per_step=1e3 * fit, bare_ms_per_step=1e3 * bare, fit_over_bare=fit / bare))
            print(f"  batch {b} steps_per_execution {spe} adaptive alpha {'on ' if adaptive else 'off'}: "
                  f"fit {1e3 * fit:6.2f} ms/step, ratio to the bare loop {fit / bare:.3f}", flush=True)
    return rows


def epoch_rows(data, args, pooled: Split, largest: Split, largest_name: str) -> list[dict]:
    rows = []
    b = args.fit_batch
    sets = [("1k", Split(pooled.x[:1000], pooled.y[:1000])), ("4k", Split(pooled.x[:4000], pooled.y[:4000])),
            (largest_name, largest)]
    for name, split in sets:
        keras.utils.set_random_seed(0)
        model = build_hns(data.image_shape, data.num_classes, **hns_arguments(config(b)))
        callbacks = [AdaptiveAlpha(patience=10 ** 9, verbose=False)]
        times = [timed_fit(model, split, b, epoch, 1, callbacks) for epoch in range(1 + args.epoch_repeats)]
        seconds = float(np.median(times[1:]))  # the first epoch is the warm-up
        rows.append(dict(images=len(split), set=name, batch_size=b, epoch_seconds=seconds,
                         us_per_image=1e6 * seconds / len(split)))
        print(f"  {name:>6} ({len(split):6d} images): epoch {seconds:6.2f} s, {1e6 * seconds / len(split):7.1f} "
              "us/image", flush=True)
    return rows


def pooled_digits(data) -> Split:
    """All 5,000 mnist-5k digits (training, validation and test splits together): timing only."""
    return Split(np.concatenate([data.train.x, data.val.x, data.test.x]),
                 np.concatenate([data.train.y, data.val.y, data.test.y]))


def largest_set(pooled: Split, args) -> tuple[Split, str]:
    if args.full_mnist:
        full = load_data(parse_config(["--config", "mnist"], "pretrain_seeker.py", ""))
        return full.train, "mnist"
    x, y = pooled.x, pooled.y
    reps = -(-args.largest // len(x))
    return Split(np.tile(x, (reps, 1, 1, 1))[:args.largest], np.tile(y, reps)[:args.largest]), \
        f"{args.largest // 1000}k*"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch_sizes", default="64,256", help="comma-separated global batch sizes of the step table")
    p.add_argument("--precisions", default="float32,mixed_bfloat16",
                   help="comma-separated: float32, mixed_bfloat16 (--mixed_precision)")
    p.add_argument("--steps", type=int, default=30, help="steps per timed call of the bare loop")
    p.add_argument("--repeats", type=int, default=3, help="timed calls per figure (the median is kept)")
    p.add_argument("--fit_batch", type=int, default=64, help="batch size of the fit and epoch comparisons")
    p.add_argument("--fit_steps", type=int, default=112, help="steps of the timed fit")
    p.add_argument("--spe", type=int, default=8, help="steps_per_execution compared with 1 in the fit table")
    p.add_argument("--largest", type=int, default=16000,
                   help="images of the largest epoch: the 5,000 digits repeated (marked *)")
    p.add_argument("--full_mnist", action="store_true", help="largest epoch on full MNIST (cached file needed)")
    p.add_argument("--epoch_repeats", type=int, default=2, help="timed epochs per set (after one warm-up)")
    p.add_argument("--skip", default="", help="comma-separated parts to skip: steps, fit, epochs")
    p.add_argument("--jit", action="store_true",
                   help="also time every step of the step table compiled by XLA (jit_compile), with the speed-up")
    p.add_argument("--json", help="also write every figure to this file")
    args = p.parse_args(argv)
    args.batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    args.precisions = args.precisions.split(",")
    unknown = set(args.precisions) - {"float32", "mixed_bfloat16"}
    if unknown:
        p.error(f"unknown precision {sorted(unknown)}: use float32 or mixed_bfloat16")
    args.skip = set(filter(None, args.skip.split(",")))
    return args


def main(argv=None):
    args = parse_args(argv)
    data = load_data(parse_config([], "pretrain_seeker.py", ""))
    print(f"TensorFlow {tf.__version__}, {os.cpu_count()} CPUs, intra-op threads "
          f"{tf.config.threading.get_intra_op_parallelism_threads() or 'default'}; mnist-5k "
          f"({len(data.train)} training images)")
    out = {"tensorflow": tf.__version__, "cpus": os.cpu_count()}
    if "steps" not in args.skip:
        print("\nsteps in a bare compiled loop:")
        out["steps"] = step_rows(data, args)
        out["ratios"] = ratios(out["steps"])
        print("\nratio time(HnS step) / (time(seeker step) + time(hider step)):")
        print(f"  {'precision':>14} {'batch':>5} " + " ".join(f"{e:>13}" for e in ESTIMATORS))
        for precision in args.precisions:
            for b in args.batch_sizes:
                r = {x["estimator"]: x["ratio"] for x in out["ratios"]
                     if x["precision"] == precision and x["batch_size"] == b}
                print(f"  {precision:>14} {b:5d} " + " ".join(f"{r[e]:13.3f}" for e in ESTIMATORS))
        if len(args.precisions) > 1:
            print("\nspeed-up of mixed_bfloat16 over float32 (time float32 / time mixed):")
            t = {(r["precision"], r["batch_size"], r["step"]): r["ms_per_step"] for r in out["steps"]}
            for b in args.batch_sizes:
                print(f"  batch {b:4d}: " + ", ".join(
                    f"{n} {t['float32', b, n] / t['mixed_bfloat16', b, n]:.2f}" for n in ("seeker", "hider", *ESTIMATORS)))
    if "fit" not in args.skip:
        print("\nfit on the training pipeline against the bare loop (deterministic HnS):")
        out["fit"] = fit_rows(data, args)
    if "epochs" not in args.skip:
        print(f"\nepoch time per image (fit, deterministic HnS, batch {args.fit_batch}, adaptive alpha on):")
        pooled = pooled_digits(data)
        out["epochs"] = epoch_rows(data, args, pooled, *largest_set(pooled, args))
        per = [r["us_per_image"] for r in out["epochs"]]
        print(f"  4k / 1k: {per[1] / per[0]:.3f}; largest / 1k: {per[2] / per[0]:.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
