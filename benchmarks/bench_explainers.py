"""Cost per image of every post-hoc explainer, next to the cost of one Hide-and-Seek mask.

Explains the first --n mnist-5k test images with the pretrained seeker (--seeker_weights, default
weights/mnist-5k/seeker/default/best.weights.h5 from `make demo`; without it a seeker is trained
for 2 epochs here and the figures say so). Each method runs once untimed (tracing), then once timed
on the whole batch, at its defaults: FIDO and BBMP 300 iterations, 1 sample, local-mean in-filler;
integrated gradients 50 steps; SmoothGrad 50 samples; occlusion 4 x 4 patches at stride 2. CEM
runs a short search (--cem_iterations x --cem_c_steps; its default is 1000 x 10, see
bench_contrastive.py for CEM's own benchmark). The Hide-and-Seek mask is one forward pass of the
hider (float32, as the model runs), timed on --n images and on --hns_batch images at once (the
amortised cost); times are medians of repeated calls after a warm-up. Last, it counts the
multiply-adds of the hider and of the seeker: a per-image optimiser's cost over the mask's can
only pass the ratio of their arithmetic where one runs less efficiently than the other.

    .venv/bin/python benchmarks/bench_explainers.py [--n 100] [--json out.json]

Targets (issue): FIDO-SSR on 100 images in under 20 s on 2 CPU cores; the amortised HnS mask at
least 1000 times cheaper per image than FIDO-SSR. What it measured: docs/results/2026-11-24-throughput.md.
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

from networks.build import build_hns, load_seeker  # noqa: E402
from networks.seeker import build_seeker  # noqa: E402
from utils.config import COMMON, EXPLAIN, parse_config  # noqa: E402
from utils.config.schema import METHODS  # noqa: E402
from utils.evaluation.prediction import as_float_images  # noqa: E402
from utils.explainers.factory import build_explainer  # noqa: E402
from utils.config.arguments import explainer_arguments, hns_arguments  # noqa: E402
from utils.stages.data import load_data  # noqa: E402
from utils.stages.runs import default_seeker_weights  # noqa: E402


def seeker_for(cfg, data, path):
    if Path(path).is_file():
        return load_seeker(cfg.seeker_architecture, data.image_shape, data.num_classes, path), f"pretrained ({path})"
    keras.utils.set_random_seed(0)
    seeker = build_seeker(cfg.seeker_architecture, data.image_shape, data.num_classes)
    seeker.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    seeker.fit(as_float_images(data.train.x), data.train.y, batch_size=64, epochs=2, verbose=0)
    return seeker, f"trained here for 2 epochs ({path} not found)"


def timed(fn, repeats: int = 1) -> float:
    """Median wall time of `repeats` calls after one untimed call (tracing and warm-up)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def multiply_adds(model) -> int:
    """Multiply-adds of one image through `model`'s Conv2D, Conv2DTranspose and Dense layers (the rest is
    elementwise): a convolution's output pixels x kernel size, a transposed one's input pixels x kernel size."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2DTranspose):
            total += int(np.prod(layer.input.shape[1:3]) * np.prod(layer.kernel.shape))
        elif isinstance(layer, keras.layers.Conv2D):
            total += int(np.prod(layer.output.shape[1:3]) * np.prod(layer.kernel.shape))
        elif isinstance(layer, keras.layers.Dense):
            total += int(np.prod(layer.kernel.shape))
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100, help="test images explained at once (default 100)")
    parser.add_argument("--seeker_weights", help="default: the mnist-5k preset's pretrained seeker "
                                                 "(weights/mnist-5k/seeker/default/best.weights.h5)")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of the methods")
    parser.add_argument("--cem_iterations", type=int, default=100)
    parser.add_argument("--cem_c_steps", type=int, default=3)
    parser.add_argument("--hns_batch", type=int, default=2000, help="images per hider call for the amortised cost")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    cfg = parse_config(["--no_ae", "--max_iterations", str(args.cem_iterations), "--c_steps", str(args.cem_c_steps)],
                       "explain.py", "", groups=(COMMON, EXPLAIN))
    data = load_data(cfg)
    x = as_float_images(data.test.x[:args.n])
    train = as_float_images(data.train.x)
    seeker, origin = seeker_for(cfg, data, args.seeker_weights or str(default_seeker_weights(cfg)))
    print(f"{args.n} mnist-5k test images, seeker: {origin}; {os.cpu_count()} CPU cores, "
          f"{tf.config.threading.get_intra_op_parallelism_threads() or 'default'} intra-op threads\n")

    hider = build_hns(data.image_shape, data.num_classes,
                      **hns_arguments(cfg, start_weights=False)).hider  # the preset's hider
    mask = tf.function(lambda images: tf.cast(hider(images, training=False) > 0, tf.float32))
    many = np.resize(as_float_images(data.test.x), (args.hns_batch, *data.image_shape)).astype(np.float32)
    hns_batch = timed(lambda: mask(tf.constant(x)).numpy(), 20) / args.n
    hns_amortised = timed(lambda: mask(tf.constant(many)).numpy(), 10) / args.hns_batch
    rows = [{"method": "HnS mask (hider forward)", "images": args.n, "seconds": hns_batch * args.n,
             "ms_per_image": hns_batch * 1e3},
            {"method": f"HnS mask, {args.hns_batch} images per call", "images": args.hns_batch,
             "seconds": hns_amortised * args.hns_batch, "ms_per_image": hns_amortised * 1e3}]
    for method in args.methods.split(","):
        explainer = build_explainer(method, seeker, train, **explainer_arguments(cfg, method))
        seconds = timed(lambda: explainer.explain(x))
        settings = (f"{args.cem_c_steps} x {args.cem_iterations} (short search)" if method.startswith("cem")
                    else "defaults")
        rows.append({"method": method, "settings": settings, "images": args.n, "seconds": seconds,
                     "ms_per_image": seconds / args.n * 1e3, "x_hns_amortised": seconds / args.n / hns_amortised})
        print(f"  {method:22s} {seconds:7.2f} s for {args.n} images", flush=True)

    print(f"\n{'method':34s} {'s / batch':>10s} {'ms / image':>11s} {'images / s':>11s} {'x HnS':>10s}")
    for r in rows:
        ratio = r.get("x_hns_amortised")
        print(f"{r['method']:34s} {r['seconds']:10.3f} {r['ms_per_image']:11.3f} "
              f"{r['images'] / r['seconds']:11.1f} {'' if ratio is None else f'{ratio:10.0f}'}")
    # What the ratio can be: BBMP / FIDO spend each iteration on the seeker forward and its input gradient
    # (about one more forward's multiply-adds); the HnS mask is one hider forward.
    hider_macs, seeker_macs = multiply_adds(hider), multiply_adds(seeker)
    bound = cfg.epochs * 2 * seeker_macs / hider_macs
    print(f"\nmultiply-adds per image: hider {hider_macs / 1e6:.2f} M, seeker {seeker_macs / 1e6:.2f} M; "
          f"{cfg.epochs} iterations of seeker forward + input gradient (~2 seeker passes) against one hider pass: "
          f"~{bound:.0f} times the arithmetic of the HnS mask")
    fido = next((r for r in rows if r["method"] == "fido-ssr"), None)
    if fido:
        print(f"\nFIDO-SSR on {args.n} images: {fido['seconds']:.1f} s (target < 20 s for 100); the amortised HnS "
              f"mask is {fido['x_hns_amortised']:.0f} times cheaper per image (target >= 1000)")
    if args.json:
        Path(args.json).write_text(json.dumps({"seeker": origin, "n": args.n, "rows": rows, "hider_multiply_adds":
                                               hider_macs, "seeker_multiply_adds": seeker_macs,
                                               "arithmetic_ratio_bound": bound}, indent=2))


if __name__ == "__main__":
    main()
