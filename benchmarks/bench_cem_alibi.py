"""Our batched CEM against alibi 0.9.6 on alibi's MNIST example: quality first, then speed.

Trains alibi's MNIST example CNN (softmax) and autoencoder on mnist-5k scaled to [-0.5, 0.5] (5 and 4
epochs, as the example does; cached in --work), then explains the first --n test digits with both
implementations at the same settings (alibi's example: kappa 0, beta 0.1, gamma 100 with the
autoencoder, c_init 1, learning rate 1e-2, clip +-1000, feature range [-0.5, 0.5], no-information
value -1; --c_steps x --max_iterations, default alibi's 10 x 1000). alibi runs in its own environment,
one digit at a time, single-threaded (its results repeat exactly only so), through
benchmarks/alibi_cem_runner.py:

    python benchmarks/bench_cem_alibi.py --alibi_python /path/to/alibi-env/bin/python [--n 5] [--mode PN]

Prints per mode: found rate, median L1 of the delta (PN) or of the PP, explanations per second, and
the ratios. --record K also compares the first K iterates of the first c step of the first digit,
iterate by iterate. --patience P runs ours with the early stop of a c step (None: alibi's full search).
What it measured: docs/results/2026-11-24-cem-alibi.md.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

from utils.config import parse_config  # noqa: E402
from utils.explainers.cem import ContrastiveExplainer  # noqa: E402
from utils.stages.data import load_data  # noqa: E402

SETTINGS = dict(kappa=0.0, beta=0.1, gamma=100.0, c_init=1.0, lr=1e-2, clip=(-1000.0, 1000.0),
                feature_range=(-0.5, 0.5), no_info_val=-1.0)


def cnn_model():
    x_in = keras.Input((28, 28, 1))
    x = layers.Conv2D(64, 2, padding="same", activation="relu")(x_in)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Dropout(0.3)(x)
    x = layers.Conv2D(32, 2, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Dropout(0.3)(x)
    x = layers.Conv2D(32, 2, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Dropout(0.3)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(256, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    return keras.Model(x_in, layers.Dense(10, activation="softmax")(x))


def ae_model():
    x_in = keras.Input((28, 28, 1))
    x = layers.Conv2D(16, 3, activation="relu", padding="same")(x_in)
    x = layers.Conv2D(16, 3, activation="relu", padding="same")(x)
    x = layers.MaxPooling2D(2, padding="same")(x)
    encoded = layers.Conv2D(1, 3, activation=None, padding="same")(x)
    x = layers.Conv2D(16, 3, activation="relu", padding="same")(encoded)
    x = layers.UpSampling2D(2)(x)
    x = layers.Conv2D(16, 3, activation="relu", padding="same")(x)
    return keras.Model(x_in, layers.Conv2D(1, 3, activation=None, padding="same")(x))


def models(work: Path):
    """alibi's example CNN and autoencoder trained on mnist-5k in [-0.5, 0.5] (cached in `work`)."""
    data = load_data(parse_config([], "bench_cem_alibi.py", ""))
    scale = lambda images: images.astype(np.float32) / 255 - 0.5  # noqa: E731
    cnn, ae = cnn_model(), ae_model()
    cache = work / "alibi_example_models.npz"
    if cache.is_file():
        with np.load(cache) as f:
            cnn.set_weights([f[f"cnn_{i}"] for i in range(int(f["cnn_count"]))])
            ae.set_weights([f[f"ae_{i}"] for i in range(int(f["ae_count"]))])
    else:
        keras.utils.set_random_seed(0)
        x, y = scale(data.train.x), keras.utils.to_categorical(data.train.y, 10)
        cnn.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
        cnn.fit(x, y, batch_size=64, epochs=5, verbose=0)
        ae.compile(optimizer="adam", loss="mse")
        ae.fit(x, x, batch_size=128, epochs=4, verbose=0)
        work.mkdir(parents=True, exist_ok=True)
        np.savez(cache, **weight_arrays(cnn, ae))
    accuracy = float(np.mean(np.argmax(cnn.predict(scale(data.test.x), verbose=0), -1) == data.test.y))
    return cnn, ae, scale(data.test.x), accuracy


def weight_arrays(cnn, ae) -> dict:
    out = {"cnn_count": len(cnn.get_weights()), "ae_count": len(ae.get_weights())}
    out.update({f"cnn_{i}": w for i, w in enumerate(cnn.get_weights())})
    out.update({f"ae_{i}": w for i, w in enumerate(ae.get_weights())})
    return out


def ours(cnn, ae, x, mode, c_steps, max_iterations, patience=None, c_tolerance=None, save_every=None):
    s = SETTINGS
    explainer = ContrastiveExplainer(cnn, mode=mode, kappa=s["kappa"], beta=s["beta"], gamma=s["gamma"],
                                     autoencoder=ae, c_init=s["c_init"], c_steps=c_steps,
                                     max_iterations=max_iterations, learning_rate_init=s["lr"], clip=s["clip"],
                                     feature_range=s["feature_range"], no_info_val=s["no_info_val"],
                                     save_every=save_every, patience=patience, c_tolerance=c_tolerance)
    start = time.perf_counter()
    exp = explainer.explain(x)
    return exp, time.perf_counter() - start


def alibi(python, work, cnn, ae, x, mode, c_steps, max_iterations, record=0, tag=""):
    """alibi's results, cached in `work` per digits and settings (alibi is deterministic single-threaded)."""
    src, dst = work / "alibi_in.npz", work / f"alibi_out_{mode}_{tag}_{c_steps}x{max_iterations}_r{record}.npz"
    if dst.is_file():
        with np.load(dst) as f:
            return {k: f[k] for k in f.files}
    np.savez(src, x=x, mode=mode, c_steps=c_steps, max_iterations=max_iterations, record=record,
             **{k: np.asarray(v) for k, v in SETTINGS.items()}, **weight_arrays(cnn, ae))
    runner = Path(__file__).resolve().parent / "alibi_cem_runner.py"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([python, str(runner), str(src), str(dst)], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"alibi runner failed:\n{done.stderr[-3000:]}")
    with np.load(dst) as f:
        return {k: f[k] for k in f.files}


def delta_l1(x, result, mode):
    """L1 of what CEM changed: the PN's delta (x - PN) or the PP itself, per image."""
    part = x - result if mode == "PN" else result
    return np.abs(part).reshape(len(x), -1).sum(axis=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alibi_python", required=True, help="python of an alibi 0.9.6 environment")
    parser.add_argument("--n", type=int, default=5)
    parser.add_argument("--mode", choices=("PN", "PP", "both"), default="both")
    parser.add_argument("--c_steps", type=int, default=10)
    parser.add_argument("--max_iterations", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=100, help="images explained at once by ours, for speed")
    parser.add_argument("--patience", type=int, default=None, help="ours: CEM patience (default: full search)")
    parser.add_argument("--c_tolerance", type=float, default=None, help="ours: bracket on c that ends the search")
    parser.add_argument("--offset", type=int, default=0, help="explain test digits offset .. offset + n - 1")
    parser.add_argument("--record", type=int, default=0)
    parser.add_argument("--work", default=".bench_cem_alibi")
    parser.add_argument("--json")
    args = parser.parse_args()

    work = Path(args.work)
    cnn, ae, test, accuracy = models(work)
    x = test[args.offset:args.offset + args.n]
    print(f"alibi's example CNN on mnist-5k: test accuracy {accuracy:.4f}; test digits {args.offset} .. "
          f"{args.offset + args.n - 1}; {args.c_steps} c steps x {args.max_iterations} iterations; ours with patience "
          f"{args.patience}, c tolerance {args.c_tolerance}\n")
    report = {}
    for mode in (("PN", "PP") if args.mode == "both" else (args.mode,)):
        theirs = alibi(args.alibi_python, work, cnn, ae, x, mode, args.c_steps, args.max_iterations, args.record,
                       tag=f"{args.offset}-{args.n}")
        mine, _ = ours(cnn, ae, x, mode, args.c_steps, args.max_iterations, args.patience, args.c_tolerance)
        batch = np.resize(test, (args.batch, *test.shape[1:]))
        _, batch_seconds = ours(cnn, ae, batch, mode, args.c_steps, args.max_iterations, args.patience,
                                args.c_tolerance)
        result, found = mine.extras[mode], mine.extras["found"]
        row = {
            "alibi": {"found": int(theirs["found"].sum()),
                      "median_l1": float(np.median(delta_l1(x, theirs["result"], mode)[theirs["found"]])),
                      "per_second": float(args.n / theirs["seconds"].sum())},
            "ours": {"found": int(found.sum()), "median_l1": float(np.median(delta_l1(x, result, mode)[found])),
                     "per_second": float(args.batch / batch_seconds)},
        }
        row["speed_ratio"] = row["ours"]["per_second"] / row["alibi"]["per_second"]
        report[mode] = row
        print(f"{mode}: alibi found {row['alibi']['found']}/{args.n}, median L1 {row['alibi']['median_l1']:.3f}, "
              f"{row['alibi']['per_second']:.3f} explanations/s | ours found {row['ours']['found']}/{args.n}, median "
              f"L1 {row['ours']['median_l1']:.3f}, {row['ours']['per_second']:.3f} explanations/s (batch of "
              f"{args.batch}) | {row['speed_ratio']:.1f}x")
        if args.record:
            mine_rec, _ = ours(cnn, ae, x[:1], mode, 1, args.record, save_every=1)
            iterates = np.stack([a[0] for _, a in mine_rec.extras["savepoints"]])
            adv = iterates if mode == "PN" else x[0] - iterates
            gap = np.abs(adv - theirs["adv"]).reshape(args.record, -1).max(axis=1)
            first = int(np.argmax(gap > 1e-4)) if np.any(gap > 1e-4) else None
            print(f"  iterates of the first c step: max |ours - alibi| per iteration: "
                  f"{np.array2string(gap[:12], precision=5)}; first above 1e-4: {first}")
            row["iterate_gap"] = gap.tolist()
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
