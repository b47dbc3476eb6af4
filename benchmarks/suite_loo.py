"""Leave one data set of the suite out (issue 31): score Hide-and-Seek runs of the folder preset on every suite
data set, on validation and test, and choose each setting on the other data sets' validation splits.

Each data set D of ``--data_sets`` lives in ``--suite_dir``/D (written by ``python -m utils.data.suite D DIR/D``)
and has, for every variant V of ``--variants``, an HnS run of the ``example`` preset under the identifier
``suite-D-V`` with the variant's flags, started from the pooling seeker of ``suite-D``; ``benchmarks/suite_runs.sh``
trains them. For every run and split (val, test) this scores, on the split's first ``--images`` images:

- the binary HnS mask (the final checkpoint, the run's last budget): the share of its pixels on the evidence
  (precision), and keep / remove of the frozen pretrained seeker with the hidden pixels blurred
  (`utils.explainers.infillers`, the judge that did not make the masks; EVAL-X needs a trained judge per data
  set: faithfulness.py);
- the hider's ranking read as the mode of its kept set at each sigma of ``--sigmas`` (`utils.evaluation.ranking`;
  sigma 0: its own keep probability; "kept<sigma>": the densest kept pixels first): TPR at |evidence| and pointing;
- on the same images, each post-hoc method of ``--methods`` on the pretrained seeker, cut at each image's HnS
  budget: precision, keep / remove, TPR at |evidence| and pointing.

With ``--judge evalx`` it also scores the binary mask with the data set's EVAL-X judge of the folder preset
(``faithfulness.py``'s evaluator ``suite-D-mean``: trained from the pretrained seeker on random masks, hidden pixels
at the training images' mean; it must be trained first): keep and remove, cached apart from the rest, and the
variant's rule reads this keep instead of the frozen seeker's blurred one, which favours masks trained with a blur
in-fill (the blur shows the hidden evidence, docs/results/2026-12-07-suite-loo.md).

Then it chooses by leaving one data set out (`utils.evaluation.selection`): the variant by the mean of the mask's
precision and keep on validation, the sigma by the mean of pointing and TPR on validation, and prints each
held-out data set's test figures for the choice the other data sets made, with standard errors.

    .venv/bin/python benchmarks/suite_loo.py --suite_dir DIR --variants "A=;B=--nested_budget 0.05" \\
        [--data_sets a,b,...] [--images 500] [--sigmas 0,1,2,4] [--methods ...] [--judge evalx] [--out scores.json]

Scores already in ``--out`` (same run, images, sigmas, methods and flags) are reused, so a new variant costs only its own runs.
What it measured: docs/results/ (issue 31's leave-one-out file).
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from utils.data.suite.registry import DATA_SETS  # noqa: E402
from utils.evaluation.selection import chosen_everywhere, leave_one_out  # noqa: E402

METHODS = "integrated-gradients,gradient-input,smoothgrad,sobel,random"
SPLITS = ("val", "test")


def variant_list(text: str) -> dict[str, list[str]]:
    """{name: flags} of "NAME=flags;NAME=flags"."""
    out = {}
    for item in filter(None, (s.strip() for s in text.split(";"))):
        name, _, flags = item.partition("=")
        out[name.strip()] = shlex.split(flags)
    return out


def run_config(suite_dir: Path, name: str, variant: str, flags: list[str]):
    """The faithfulness.py configuration of data set `name`'s run of `variant`."""
    # deferred: TensorFlow start-up, --help stays fast
    from utils.config import parse_config
    from utils.config.schema import COMMON, EVALX, EXPLAIN, FAITH, HNS
    spec = DATA_SETS[name]
    argv = ["--config", "example", "--data_dir", str(suite_dir / name), "--image_size", str(spec.size),
            "--channels", str(spec.channels), "--identifier", f"suite-{name}-{variant}",
            "--seeker_weights", f"weights/example/seeker+pooling/suite-{name}/best.weights.h5",
            "--evaluator", f"suite-{name}-mean", "--evaluator_start", "seeker", *flags]
    return parse_config(argv, "benchmarks/suite_loo.py", __doc__, groups=(COMMON, HNS, EVALX, EXPLAIN, FAITH))


def figures(mask, scores, x, labels, evidence, judge, infiller, sigma_scores=None) -> dict:
    """{figure: (mean, se)} of a binary `mask` and, where given, of the ranking `scores` (see the docstring)."""
    # deferred: TensorFlow start-up, --help stays fast
    from utils.evaluation.faithfulness import ground_truth, keep_and_remove, mean_se, precision
    seeds = np.arange(len(x))
    keep, remove = keep_and_remove([judge], x, labels, mask, infiller, seeds)["seeker"]
    out = {"precision": mean_se(precision(mask, evidence)), "keep": mean_se(keep), "remove": mean_se(remove),
           "pixels": mean_se(mask.sum(axis=(1, 2)))}
    for key, ranked in ({"": scores} if sigma_scores is None else sigma_scores).items():
        for figure, values in ground_truth(ranked, evidence).items():
            if figure in ("tpr", "pointing"):
                out[f"{figure}{key}"] = mean_se(values)
    return out


def score_run(cfg, images: int, sigmas: list[float], methods: list[str]) -> dict:
    """{split: {row: figures}} of one run (see the module docstring)."""
    # deferred: TensorFlow start-up, --help stays fast
    from networks.build import load_seeker
    from utils.evaluation.faithfulness import Judge
    from utils.evaluation.prediction import as_float_images
    from utils.evaluation.ranking import mode_ranking
    from utils.evaluation.refinement import hider_pass
    from utils.explainers.infillers import build_infiller
    from utils.explainers.topk import top_k_mask
    from utils.stages.data import load_data
    from utils.stages.explain import load_hns
    from utils.stages.faithfulness import method_scores
    from utils.stages.runs import hns_model_type, series
    data = load_data(cfg)
    run = series(cfg, hns_model_type(cfg))[0]
    if not run.paths.final.is_file():
        raise FileNotFoundError(f"no final weights at {run.paths.final}: train the run first")
    hns = load_hns(cfg, data, run.paths.final)
    seeker = load_seeker(cfg.seeker_architecture, data.image_shape, data.num_classes, cfg.seeker_weights)
    train = as_float_images(data.train.x)
    judge, infiller = Judge("seeker", seeker), build_infiller("blur", cfg.image_size, train)
    out = {"checkpoint": str(run.paths.final)}
    for split_name, split in (("val", data.val), ("test", data.test)):
        n = min(images, len(split))
        x, labels, evidence = as_float_images(split.x[:n]), split.y[:n], split.evidence[:n]
        mask, probability, _, seconds = hider_pass(hns, x)
        mask = mask > 0.5
        rows = {"hns": {**figures(mask, None, x, labels, evidence, judge, infiller,
                                  {**{f"@{s:g}": mode_ranking(probability, s) for s in sigmas},
                                   **{f"@kept{s:g}": mode_ranking(probability, s, mask) for s in sigmas if s > 0}}),
                        "ms": seconds * 1e3}}
        for method in methods:
            start = time.perf_counter()
            scores, _, _ = method_scores(cfg, method, seeker, x, train, None)
            cut = top_k_mask(scores, mask.sum(axis=(1, 2)))
            rows[method] = {**figures(cut, scores, x, labels, evidence, judge, infiller),
                            "ms": (time.perf_counter() - start) / n * 1e3}
        out[split_name] = {"images": n, "rows": rows}
        print(f"  {split_name}: " + "; ".join(
            f"{m} prec {r['precision'][0]:.3f} keep {r['keep'][0]:.3f} point "
            f"{r.get('pointing', r.get('pointing@0', (float('nan'),)))[0]:.3f}" for m, r in rows.items()), flush=True)
    return out


def judge_scores(cfg, images: int) -> dict:
    """{split: {"keep": (mean, se), "remove": (mean, se)}} of the binary HnS mask (final checkpoint) for the data
    set's EVAL-X judge with the training images' mean in-fill (see the module docstring)."""
    # deferred: TensorFlow start-up, --help stays fast
    from utils.evaluation.faithfulness import Judge, keep_and_remove, mean_se
    from utils.evaluation.prediction import as_float_images
    from utils.evaluation.refinement import hider_pass
    from utils.explainers.infillers import build_infiller
    from utils.stages.data import load_data
    from utils.stages.explain import load_hns
    from utils.stages.judge import judge_run
    from utils.stages.runs import hns_model_type, series
    from networks.build import load_seeker
    data = load_data(cfg)
    run = series(cfg, hns_model_type(cfg))[0]
    _, weights = judge_run(cfg)
    for path, what in ((run.paths.final, "final weights"), (weights, "EVAL-X judge")):
        if not path.is_file():
            raise FileNotFoundError(f"no {what} at {path}: train it first")
    hns = load_hns(cfg, data, run.paths.final)
    judge = Judge("evalx", load_seeker(cfg.seeker_architecture, data.image_shape, data.num_classes, weights))
    infiller = build_infiller("mean", cfg.image_size, as_float_images(data.train.x))
    out = {"judge": str(weights)}
    for split_name, split in (("val", data.val), ("test", data.test)):
        n = min(images, len(split))
        x, labels = as_float_images(split.x[:n]), split.y[:n]
        mask = hider_pass(hns, x)[0] > 0.5
        keep, remove = keep_and_remove([judge], x, labels, mask, infiller, np.arange(n))["evalx"]
        out[split_name] = {"keep": mean_se(keep), "remove": mean_se(remove)}
        keep, remove = out[split_name]["keep"][0], out[split_name]["remove"][0]
        print(f"  {split_name}: EVAL-X keep {keep:.3f}, remove {remove:.3f}", flush=True)
    return out


def choose(scores: dict, data_sets: list[str], variants: list[str], sigmas: list[float],
           judge: str = "seeker") -> list[str]:
    """The leave-one-out choices and the held-out figures, as printed lines; `judge` "evalx": the variant's keep is
    the EVAL-X judge's (`judge_scores`), else the frozen seeker's with the blur."""
    def hns(d, v, split):
        row = scores[d][v][split]["rows"]["hns"]
        return {**row, "keep": scores[d][v]["evalx"][split]["keep"]} if judge == "evalx" else row

    def val(d, v):
        return hns(d, v, "val")

    def test(d, v):
        return hns(d, v, "test")

    lines = []
    mask_val = {v: {d: (val(d, v)["precision"][0] + val(d, v)["keep"][0]) / 2 for d in data_sets} for v in variants}
    for d, pick in leave_one_out(mask_val).items():
        t = test(d, pick["choice"])
        lines.append(f"mask   held out {d:15s} chose {pick['choice']:6s} (val {pick['validation']:.3f}): test precision "
                     f"{t['precision'][0]:.3f} +- {t['precision'][1]:.3f}, keep {t['keep'][0]:.3f} +- {t['keep'][1]:.3f}")
    lines.append(f"mask   chosen on every data set: {chosen_everywhere(mask_val)}")
    if judge == "evalx":
        lines.append("mask   validation (precision + EVAL-X keep) / 2: " + "; ".join(
            f"{v}: " + ", ".join(f"{d} {mask_val[v][d]:.3f}" for d in data_sets) for v in variants))
    readouts = [f"{s:g}" for s in sigmas] + [f"kept{s:g}" for s in sigmas if s > 0]
    ranking_val = {(v, r): {d: (val(d, v)[f"pointing@{r}"][0] + val(d, v)[f"tpr@{r}"][0]) / 2
                            for d in data_sets} for v in variants for r in readouts}
    for d, pick in leave_one_out(ranking_val).items():
        v, s = pick["choice"]
        t = test(d, v)
        lines.append(f"rank   held out {d:15s} chose {v}, sigma {s} (val {pick['validation']:.3f}): test pointing "
                     f"{t[f'pointing@{s}'][0]:.3f} +- {t[f'pointing@{s}'][1]:.3f}, TPR {t[f'tpr@{s}'][0]:.3f}")
    lines.append(f"rank   chosen on every data set: {chosen_everywhere(ranking_val)}")
    lines += targets(scores, data_sets, leave_one_out(mask_val), leave_one_out(ranking_val))
    return lines


def targets(scores: dict, data_sets: list[str], mask_picks: dict, ranking_picks: dict) -> list[str]:
    """Per held-out data set, its test table: the chosen HnS mask and ranking against every post-hoc method cut at
    the same budgets, and issue 31's three checks (pointing >= integrated gradients' - 1 se; precision and keep
    >= every other row's, the frozen seeker judging here)."""
    lines = []
    for d in data_sets:
        v, (rv, s) = mask_picks[d]["choice"], ranking_picks[d]["choice"]
        rows = scores[d][v]["test"]["rows"]
        hns, ranked = rows["hns"], scores[d][rv]["test"]["rows"]["hns"]
        lines.append(f"\n{d} (test, {scores[d][v]['test']['images']} images): mask of {v}, ranking of {rv} at sigma {s}")
        lines.append(f"  {'row':22s} {'precision':>15s} {'keep':>15s} {'remove':>15s} {'pointing':>15s} {'TPR':>15s}")

        def cell(r, k):
            return f"{r[k][0]:.3f} +- {r[k][1]:.3f}" if k in r else "-"
        lines.append(f"  {'HnS':22s} {cell(hns, 'precision'):>15s} {cell(hns, 'keep'):>15s} {cell(hns, 'remove'):>15s} "
                     f"{cell(ranked, f'pointing@{s}'):>15s} {cell(ranked, f'tpr@{s}'):>15s}")
        for m, r in rows.items():
            if m != "hns":
                lines.append(f"  {m:22s} {cell(r, 'precision'):>15s} {cell(r, 'keep'):>15s} {cell(r, 'remove'):>15s} "
                             f"{cell(r, 'pointing'):>15s} {cell(r, 'tpr'):>15s}")
        others = {m: r for m, r in rows.items() if m not in ("hns", "random")}
        ig = rows.get("integrated-gradients")
        point = ranked[f"pointing@{s}"][0]
        checks = [("pointing >= IG - 1 se", ig is None or point >= ig["pointing"][0] - ig["pointing"][1]),
                  ("precision >= every method", all(hns["precision"][0] >= r["precision"][0] for r in others.values())),
                  ("keep >= every method", all(hns["keep"][0] >= r["keep"][0] for r in others.values()))]
        lines.append("  " + "; ".join(f"{name}: {'yes' if ok else 'NO'}" for name, ok in checks))
    return lines


def main(argv) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite_dir", type=Path, required=True)
    parser.add_argument("--data_sets", default=",".join(DATA_SETS))
    parser.add_argument("--variants", default="A=")
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--sigmas", default="0,1,2,4")
    parser.add_argument("--methods", default=METHODS)
    parser.add_argument("--judge", choices=("seeker", "evalx"), default="seeker",
                        help="the variant's keep: the frozen seeker with the blur, or the EVAL-X mean judge")
    parser.add_argument("--out", type=Path, default=Path("results/suite_loo.json"))
    args = parser.parse_args(argv)
    data_sets, variants = args.data_sets.split(","), variant_list(args.variants)
    sigmas, methods = [float(s) for s in args.sigmas.split(",")], [m for m in args.methods.split(",") if m]
    scores = json.loads(args.out.read_text()) if args.out.is_file() else {}
    for d in data_sets:
        for v, flags in variants.items():
            done = scores.get(d, {}).get(v, {})
            asked = [args.images, args.sigmas, args.methods, flags]
            print(f"{d} {v} {' '.join(flags)}", flush=True)
            try:
                cfg = run_config(args.suite_dir, d, v, flags)
                if done.get("asked") != asked:
                    scores.setdefault(d, {})[v] = {**score_run(cfg, args.images, sigmas, methods), "asked": asked}
                if args.judge == "evalx" and scores[d][v].get("evalx", {}).get("asked") != asked:
                    scores[d][v]["evalx"] = {**judge_scores(cfg, args.images), "asked": asked}
            except FileNotFoundError as e:   # not trained yet: left out of the choice
                print(f"  left out: {e}", flush=True)
                continue
            args.out.parent.mkdir(parents=True, exist_ok=True)
            tmp = args.out.with_suffix(".tmp")
            tmp.write_text(json.dumps(scores, indent=1))
            tmp.replace(args.out)
    def scored(d, v):
        return v in scores.get(d, {}) and (args.judge != "evalx" or "evalx" in scores[d][v])
    complete = [d for d in data_sets if all(scored(d, v) for v in variants)]
    print(f"\nchoosing on the data sets with every variant scored: {', '.join(complete)}")
    print("\n".join(choose(scores, complete, list(variants), sigmas, args.judge)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
