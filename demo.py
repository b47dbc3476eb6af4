"""The whole pipeline on the embedded MNIST digits, in one go (what `make demo` runs).

    python demo.py [--force] [--config mnist-5k] [--identifier default] [--seed N] [--data_dir DIR]

Stages: pretrain seeker -> baseline -> pretrain hider (the autoencoder: the hider's start, except for a
hider on the seeker's features, and CEM's reconstruction term in the benchmark)
[-> pretrain a seeker on random masks, for
--seeker_training frozen] -> collaborative training (adaptive alpha, deterministic neurons,
pretrained start; on mnist-5k the seeker also learns from random masks, the preset's
seeker_training) -> evaluation -> faithfulness benchmark (the recommended checkpoint's masks against
every post-hoc method, judged by an EVAL-X evaluator of another seed, which it trains, and by the
frozen pretrained seeker). Each stage runs the real
script with the preset's settings (config.toml: the calibrated ones live in its per-script
tables). A finished stage is reused; an interrupted one continues from its last saved epoch
(one that died before saving anything starts again); --force reruns everything.
"""
import argparse
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from utils.config import COMMON, HNS, Config, parse_config, run
from utils.config.parser import OneLineParser
from utils.runs.records import read_record
from utils.runs import (RunPaths, default_baseline, hider_model_type, hns_model_type, run_paths,
                        seeker_model_type)

HERE = Path(__file__).resolve().parent


def _die_with_parent():
    """In a stage's process: receive SIGTERM when the demo dies (Linux), so that a killed demo does not
    leave a stage running on its own: the stage saves its state and stops, and the next demo continues it."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@dataclass
class Stage:
    name: str
    script: str
    argv: list
    done: Path                       # the file that marks the stage finished
    run: RunPaths | None = None      # a training run, which can resume


def stages(config: str, identifier: str, seed: int | None = None, data_dir: str | None = None) -> list[Stage]:
    common = ["--config", config, "--identifier", identifier] + ([] if seed is None else ["--seed", str(seed)])
    common += [] if data_dir is None else ["--data_dir", data_dir]
    cfg = parse_config(common, "demo.py", __doc__, groups=(COMMON, HNS))
    seeker, hider = run_paths(cfg, seeker_model_type(cfg)), run_paths(cfg, hider_model_type(cfg))
    hns = run_paths(cfg, hns_model_type(cfg))
    baseline = default_baseline(cfg)
    plan = [Stage("pretrain seeker", "pretrain_seeker.py", common, seeker.final, seeker),
            Stage("baseline", "baseline.py", common, baseline)]
    # The autoencoder starts the hider (not one on the seeker's features, which has its own decoder) and
    # is CEM's reconstruction term in the faithfulness benchmark, so every preset pretrains it.
    plan.append(Stage("pretrain hider", "pretrain_hider.py", common, hider.final, hider))
    start = seeker
    if cfg.seeker_training == "frozen":   # REAL-X: HnS trains against a seeker pretrained on random masks
        start = run_paths(cfg, seeker_model_type(cfg, random_masks=True))
        plan.append(Stage("pretrain random-mask seeker", "pretrain_seeker.py", common + ["--random_masks"],
                          start.final, start))
    start_hider = ["--hider_weights", str(hider.best)] if cfg.hider_features == "none" else []
    return plan + [
        Stage("collaborative training", "collaborative_training.py",
              common + [*start_hider, "--seeker_weights", str(start.best),
                        "--baseline", str(baseline)], hns.final, hns),
        Stage("evaluation", "evaluation.py", common + ["--baseline", str(baseline)],
              hns.evaluation),
        Stage("faithfulness", "faithfulness.py", common, hns.faithfulness),
    ]


def how(stage: Stage, force: bool) -> list | None:
    """Extra flags to run `stage` with, or None to reuse it."""
    if force:
        return ["--overwrite"]
    if stage.done.is_file():
        print(f"== {stage.name}: reusing {stage.done} (--force reruns it)", flush=True)
        return None
    status = stage.run.status() if stage.run else "absent"
    if status == "interrupted":
        print(f"== {stage.name}: continuing the interrupted run in {stage.run.weights}", flush=True)
    if status == "incomplete":
        print(f"== {stage.name}: {stage.run.weights} stopped before saving any state: starting it again", flush=True)
        return ["--overwrite"]
    return []


def main(argv) -> int:
    parser = OneLineParser(prog="demo.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--force", action="store_true", help="rerun every stage, replacing earlier outputs")
    defaults = Config()  # the scripts' own defaults, declared once in utils/config/schema.py
    parser.add_argument("--config", default=defaults.config, help=f"preset to run (default {defaults.config})")
    parser.add_argument("--identifier", default=defaults.identifier,
                        help=f"run name (default '{defaults.identifier}')")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of every stage (default: the preset's); use a new --identifier per seed")
    parser.add_argument("--data_dir", default=None,
                        help="your image folder, for --config example (train/<class>/, test/<class>/, optionally val/)")
    args = parser.parse_args(argv)
    plan = stages(args.config, args.identifier, args.seed, args.data_dir)
    timings = []
    total = time.perf_counter()
    for stage in plan:
        extra = how(stage, args.force)
        if extra is None:
            timings.append((stage.name, None))
            continue
        print(f"== {stage.name}: python {stage.script} {' '.join(stage.argv + extra)}", flush=True)
        start = time.perf_counter()
        code = subprocess.call([sys.executable, str(HERE / stage.script), *stage.argv, *extra],
                               preexec_fn=_die_with_parent)
        timings.append((stage.name, time.perf_counter() - start))
        if code != 0:
            print(f"demo: stage '{stage.name}' failed with exit code {code}; run `make demo` again to continue it",
                  file=sys.stderr)
            return code
    print("\n== wall time per stage")
    for name, seconds in timings:
        print(f"  {name:24s} {'reused' if seconds is None else f'{seconds:6.0f} s'}")
    print(f"  {'total':24s} {time.perf_counter() - total:6.0f} s")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2 ** 20  # KiB on Linux
    if peak:
        print(f"  peak resident memory of a stage: {peak:.2f} GiB")
    summarize(plan[-2].done, args.config)
    faithfulness(plan[-1].done)
    return 0


def faithfulness(report: Path) -> None:
    from utils.reporting.faithfulness_report import table

    record = read_record(report, "run faithfulness.py again (demo.py --force reruns every stage)")
    print(f"\n== faithfulness (judges that never made a mask)\n{table(record)}")
    print(f"report: {report.parent}/ (faithfulness.json, faithfulness.csv, faithfulness_budgets.png, "
          "faithfulness_examples.png)")


def summarize(report: Path, config: str) -> None:
    from utils.reporting.tables import table

    summary = read_record(report, "run evaluation.py again (demo.py --force reruns every stage)")
    rec = summary["recommended"]
    names = [r["checkpoint"] for r in summary["checkpoints"]]
    print(f"\n== final table (test split, {summary['test_images']} images; baseline {summary['baseline']:.3f})")
    print(table(summary["checkpoints"], names.index(rec["checkpoint"])))
    print(f"\nrecommended: {rec['checkpoint']}: test accuracy {rec['test']['accuracy']:.3f}, "
          f"I_fg {rec['test']['I_fg']:.3f} ({rec['rule']})")
    print(f"report: {report.parent}/ (evaluation.json, evaluation.csv, tradeoff.png, masks_*.png)")
    print(f"TensorBoard: tensorboard --logdir logs/{config}")


if __name__ == "__main__":
    run(main)
