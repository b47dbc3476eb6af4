"""The whole pipeline on the embedded MNIST digits, in one go (what `make demo` runs).

    python demo.py [--force] [--config mnist-5k] [--identifier default] [--seed N]

Stages: pretrain seeker -> baseline -> pretrain hider -> collaborative training (adaptive
alpha, deterministic neurons, pretrained start) -> evaluation. Each stage runs the real
script; a stage whose outputs exist is reused (--force reruns everything). The settings
below were calibrated on 2 CPU cores (see README).
"""
import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from utils.evaluation import table

HERE = Path(__file__).resolve().parent


def stages(config: str, identifier: str, seed: int | None = None):
    w, r = Path("weights") / config, Path("results") / config
    seeker = w / "seeker" / identifier / "best.weights.h5"
    hider = w / "hider" / identifier / "best.weights.h5"
    baseline = r / "seeker" / identifier / "baseline.json"
    hns = w / "hns" / "deterministic" / identifier / "final.weights.h5"
    report = r / "hns" / "deterministic" / identifier / "evaluation.json"
    common = ["--config", config, "--identifier", identifier] + ([] if seed is None else ["--seed", str(seed)])
    return [
        ("pretrain seeker", "pretrain_seeker.py", common + ["--batch_size", "64", "--max_epochs", "30"], seeker),
        ("baseline", "baseline.py", common, baseline),
        ("pretrain hider", "pretrain_hider.py", common + ["--batch_size", "64", "--max_epochs", "15"], hider),
        ("collaborative training", "collaborative_training.py",
         common + ["--hider_weights", str(hider), "--seeker_weights", str(seeker), "--baseline", str(baseline),
                   "--batch_size", "64", "--patience", "150", "--learning_rate", "5e-4", "--max_epochs", "200"], hns),
        ("evaluation", "evaluation.py", common + ["--baseline", str(baseline)], report),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--force", action="store_true", help="rerun every stage, replacing earlier outputs")
    parser.add_argument("--config", default="mnist-5k", help="preset to run (default mnist-5k)")
    parser.add_argument("--identifier", default="default", help="run name (default 'default')")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of every stage (default: the preset's); use a new --identifier per seed")
    args = parser.parse_args()
    timings = []
    total = time.perf_counter()
    for name, script, argv, done in stages(args.config, args.identifier, args.seed):
        if done.is_file() and not args.force:
            print(f"== {name}: reusing {done} (--force reruns it)", flush=True)
            timings.append((name, None))
            continue
        print(f"== {name}: python {script} {' '.join(argv)}", flush=True)
        start = time.perf_counter()
        # A stage that did not finish last time left a partial run: replace it.
        code = subprocess.call([sys.executable, str(HERE / script), *argv, "--overwrite"])
        timings.append((name, time.perf_counter() - start))
        if code != 0:
            print(f"demo: stage '{name}' failed with exit code {code}", file=sys.stderr)
            return code
    print("\n== wall time per stage")
    for name, seconds in timings:
        print(f"  {name:24s} {'reused' if seconds is None else f'{seconds:6.0f} s'}")
    print(f"  {'total':24s} {time.perf_counter() - total:6.0f} s")
    report = stages(args.config, args.identifier, args.seed)[-1][3]
    summary = json.loads(report.read_text())
    rec = summary["recommended"]
    print(f"\n== final table (test split, {summary['test_images']} images; baseline {summary['baseline']:.3f})")
    print(table(summary["checkpoints"], [r["checkpoint"] for r in summary["checkpoints"]].index(rec["checkpoint"])))
    print(f"\nrecommended: {rec['checkpoint']}: test accuracy {rec['test']['accuracy']:.3f}, "
          f"I_fg {rec['test']['I_fg']:.3f} ({rec['rule']})")
    print(f"report: {report.parent}/ (evaluation.json, evaluation.csv, tradeoff.png, masks_*.png)")
    print(f"TensorBoard: tensorboard --logdir logs/{args.config}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
