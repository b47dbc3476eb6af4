"""The faithfulness benchmark (faithfulness.py): every method's masks judged by classifiers that never made them.

Judges: the EVAL-X evaluator (`networks.evalx`, trained here on random masks if its run is missing)
and the frozen pretrained seeker. The post-hoc methods explain the pretrained seeker; Hide-and-Seek
is scored with the mask of one checkpoint of its run; with --refine_steps, BBMP refines the hider's logits
for K steps (rows hns+refine<K>, `utils.evaluation.refinement`). The co-trained HnS seeker's accuracy on its
own masks is reported beside them, labelled as what it is: not faithfulness. Figures and their
definitions: `utils.evaluation.faithfulness`; the table, CSV, figures and faithfulness.json:
`utils.reporting.faithfulness_report`.

This module is the pipeline: it resolves the inputs, trains the judge if needed, runs the methods
and scores them.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from utils.config.checks import parse_budgets, parse_methods, parse_refine_objectives, parse_refine_steps, plain_name
from utils.config.schema import COMMON, EVALX, EXPLAIN, FAITH, HNS, as_dict
from utils.errors import UsageError
from utils.evaluation.refinement import HNS_START, REFINED, TOPK, refined_name
from utils.reporting.faithfulness_report import CO_TRAINED, line, table, write
from utils.runs import (EVALUATOR, VARIANT_FLAGS, default_hider_weights, default_seeker_weights, hns_model_type, locked,
                        series)
from utils.runs.records import read_record, value

HNS_BUDGET = "hns"


@dataclass
class Inputs:
    methods: list
    budgets: list
    refinements: list          # (row name, steps K, objective) of --refine_steps x --refine_objectives
    run: object
    checkpoint: Path
    seeker: Path
    autoencoder: Path | None
    evaluator: object          # the evaluator's Run, or None with --evaluator_weights
    evaluator_weights: Path
    notes: list = field(default_factory=list)


def hns_checkpoint(cfg, run) -> tuple[Path, str]:
    """The checkpoint of the HnS `run` to score (and to start refinements from), and how it was chosen."""
    weights = run.paths.weights
    if cfg.checkpoint:
        path = weights / cfg.checkpoint
        if not path.is_file():
            raise UsageError(f"--checkpoint {cfg.checkpoint}: no such file in {weights}; choose one of "
                             f"{', '.join(p.name for p in run.paths.checkpoints()) or 'none (the run has none)'}")
        return path, "as given by --checkpoint"
    report = run.paths.evaluation
    if report.is_file():
        record = read_record(report, "run evaluation.py again, or pass --checkpoint")
        name = value(record, "recommended.checkpoint", report, "run evaluation.py again, or pass --checkpoint",
                     kind=str, check=lambda v: None if plain_name(v) else f"a file name of the run, got {v!r}")
        if (weights / name).is_file():
            return weights / name, "recommended by evaluation.json"
    if run.paths.final.is_file():
        return run.paths.final, "the final weights (no evaluation.json: run evaluation.py for the recommended one)"
    raise UsageError(f"no checkpoint in {weights}: train it with collaborative_training.py using the same "
                     f"--config, --identifier, {VARIANT_FLAGS}")


def resolve(cfg) -> Inputs:
    """Everything the benchmark reads, checked before anything is built or written."""
    from utils.evaluation.explanations import needs_autoencoder
    from utils.training.evaluator import evaluator_config

    methods, budgets = parse_methods(cfg.methods), parse_budgets(cfg.budgets)
    refinements = [(refined_name(HNS_START, k, None if objective == TOPK else REFINED), k, objective)
                   for k in parse_refine_steps(cfg.refine_steps) for objective in parse_refine_objectives(
                       cfg.refine_objectives)]
    run = series(cfg, hns_model_type(cfg))[0]
    checkpoint, how = hns_checkpoint(cfg, run)
    seeker = Path(cfg.seeker_weights) if cfg.seeker_weights else default_seeker_weights(cfg)
    if not seeker.is_file():
        raise UsageError(f"no seeker weights at {seeker}: the methods explain the pretrained seeker; run "
                         f"pretrain_seeker.py --config {cfg.config} --identifier {cfg.identifier} or pass --seeker_weights")
    wants_ae = any(needs_autoencoder(_as_method(cfg, m))
                   for m in methods + ([REFINED] if refinements else []) if m.startswith(("cem", "fido", "bbmp")))
    autoencoder = Path(cfg.hider_weights) if cfg.hider_weights else default_hider_weights(cfg)
    if (wants_ae or cfg.judge_infiller == "autoencoder") and not autoencoder.is_file():
        raise UsageError(f"no hider autoencoder at {autoencoder}, which the in-filler or CEM's term needs: run "
                         "pretrain_hider.py, pass --hider_weights, or choose another --infiller/--judge_infiller "
                         "(and --no_ae for CEM)")
    if cfg.evaluator_weights:
        evaluator, weights = None, Path(cfg.evaluator_weights)
    else:
        (evaluator,) = series(evaluator_config(cfg), EVALUATOR)
        weights = evaluator.paths.best
    notes = [f"checkpoint {checkpoint.name}: {how}"]
    if cfg.seeker_training == "frozen":
        realx = default_seeker_weights(cfg, random_masks=True)
        if realx.is_file() and weights.is_file() and realx.resolve() == weights.resolve():
            raise UsageError(f"the judge {weights} is the frozen seeker the hider was trained against: pass another "
                             "--evaluator_weights, or drop it to train an evaluator with another --evaluator_seed")
        against = f"the frozen random-mask seeker {realx}"
    else:
        against = f"its co-trained seeker ({cfg.seeker_training} training)"
    notes.append(f"the hider was trained against {against}; the EVAL-X judge is a separately trained network "
                 f"({weights})")
    if cfg.num_trainings > 1:
        notes.append(f"--num_trainings {cfg.num_trainings}: scoring run 1 ({run.paths.weights})")
    return Inputs(methods, budgets, refinements, run, checkpoint, seeker,
                  autoencoder if autoencoder.is_file() else None,
                  evaluator, weights, notes)


def _as_method(cfg, method):
    return dataclasses.replace(cfg, method=method)


# --- building -------------------------------------------------------------------------------------

def evaluator_classifier(cfg, inputs: Inputs, data, infiller):
    """The EVAL-X classifier: from --evaluator_weights, from its finished run, or trained now."""
    from networks.build import load_seeker
    from utils.training.evaluator import evaluator_config, train_evaluator

    if inputs.evaluator is not None and inputs.evaluator.paths.status() != "finished":
        start = inputs.seeker if cfg.evaluator_start == "seeker" else None
        print(f"training the EVAL-X evaluator in {inputs.evaluator.paths.weights} ({cfg.max_epochs} epochs"
              + (f", from the pretrained seeker {start})" if start else ")"))
        ecfg = evaluator_config(cfg)
        train_evaluator(ecfg, data, inputs.evaluator, infiller, start=start)
        if ecfg.debug:
            raise UsageError("--debug trains an evaluator but keeps nothing to judge with: drop --debug, or pass "
                             "--evaluator_weights")
    return load_seeker(cfg.seeker_architecture, data.image_shape, data.num_classes, inputs.evaluator_weights)


def evaluator_accuracy(judge, data, infiller, seed: int, grid: int | None = None) -> dict:
    """The evaluator's test accuracy on whole images, on images with random 3%, 10%, 30% of pixels kept,
    the same on cells of its training `grid` (what it learnt to read), and, where the test split knows
    its evidence, on images shown only their evidence: a judge that cannot read those cannot judge
    whether a mask found the evidence."""
    from utils.evaluation.faithfulness import fill, mean_se
    from utils.evaluation.prediction import as_float_images

    x, y = as_float_images(data.test.x), data.test.y
    n, size = len(x), x.shape[1]

    def kept(keep):
        return mean_se(judge.correct(fill(x, keep, infiller, np.arange(n)), y))

    out = {"whole": mean_se(judge.correct(x, y))}
    cells = {"random": 1} | ({f"cells{grid}": size // grid} if grid and size % grid == 0 else {})
    for name, cell in cells.items():   # random pixels, then random cells of `cell` x `cell` pixels
        for rate in (0.03, 0.1, 0.3):
            keep = np.random.default_rng(seed).random((n, size // cell, size // cell)) < rate
            out[f"{name}_{rate:g}"] = kept(keep.repeat(cell, axis=1).repeat(cell, axis=2))
    if data.test.evidence is not None:
        out["evidence_only"] = kept(data.test.evidence)
    return out


def refuse_a_judge_at_chance(accuracy: float, n: int, classes: int, weights) -> None:
    """A UsageError unless the judge's accuracy on n whole images lies above chance (1 / classes) by more
    than 3 binomial standard errors, sqrt(c (1 - c) / n): a judge that never learnt judges nothing
    (trained from scratch on masked images, EVAL-X can stay at chance for many epochs)."""
    chance = 1.0 / classes
    floor = chance + 3.0 * np.sqrt(chance * (1.0 - chance) / max(n, 1))
    if not accuracy > floor:
        raise UsageError(f"the EVAL-X judge {weights} reads {accuracy:.3f} of the whole test images, no better than "
                         f"chance ({chance:.3f}; floor {floor:.3f}): it never learnt, or learnt to read only masked "
                         f"images; train a new one under a new --evaluator NAME with more epochs (--max_epochs), larger "
                         f"cells (--evalx_grid) or, for a seeker with global pooling, the blur in-filler "
                         f"(--judge_infiller blur)")


def hns_scores(hns, x) -> tuple[dict, np.ndarray]:
    """(scores (n, H, W), seconds per image, binary mask) of "hns" (the mask) and "hns-ranked" (the keep
    probability) on images x, and the hider's logits (n, H, W), the refinements' start, from one pass of
    the hider."""
    from utils.evaluation.refinement import hider_pass

    mask, probability, logits, seconds = hider_pass(hns, x)
    return {"hns": (mask, seconds, mask > 0.5), "hns-ranked": (probability, seconds, mask > 0.5)}, logits


def refinement_scores(cfg, steps, objective, seeker, x, start, hns, train, autoencoder):
    """(scores (n, H, W), seconds per image, None) of BBMP run `steps` from the hider's logits `start` with
    `objective` (`utils.evaluation.refinement`); `hns` is the HnS mask's (scores, seconds, binary mask),
    whose pass the time per image includes: the start is part of the method's cost."""
    from utils.evaluation.refinement import refine

    _, start_seconds, mask = hns
    explanation = refine(cfg, REFINED, objective, seeker, x, start, mask, steps, train, autoencoder,
                         seeds=np.arange(len(x)) + cfg.seed)
    return np.asarray(explanation.scores, np.float64), start_seconds + explanation.seconds / len(x), None


def method_scores(cfg, method, seeker, x, train, autoencoder):
    """(scores (n, H, W), seconds per image, None) of one post-hoc or reference method on images x."""
    from utils.config.arguments import explainer_arguments
    from utils.explainers.factory import build_explainer
    from utils.explainers.references import REFERENCES, ReferenceExplainer

    if method in REFERENCES:
        explainer = ReferenceExplainer(seeker, method, cfg.foreground_threshold, cfg.seed)
    else:
        explainer = build_explainer(method, seeker, train, autoencoder, **explainer_arguments(cfg, method))
    explanation = explainer.explain(x, seeds=np.arange(len(x)) + cfg.seed)
    return np.asarray(explanation.scores, np.float64), explanation.seconds / len(x), None


# --- computing --------------------------------------------------------------------------------------

def compute(cfg, inputs: Inputs) -> tuple[dict, dict]:
    """The benchmark's report and what its figures need."""
    from networks.build import build_hns, load_autoencoder, load_seeker
    from networks.weights import load_weights
    from utils.data import load_data
    from utils.evaluation.faithfulness import Judge
    from utils.evaluation.leakage import LeakageProbe
    from utils.evaluation.prediction import as_float_images
    from utils.explainers.infillers import build_infiller
    from utils.seeding import seed_everything
    from utils.config.arguments import data_arguments, hns_arguments

    seed_everything(cfg.seed)
    data = load_data(**data_arguments(cfg))
    train = as_float_images(data.train.x)
    autoencoder = inputs.autoencoder and load_autoencoder(cfg.model, data.image_shape, inputs.autoencoder,
                                                      cfg.hider_decoder)
    judge_infiller = build_infiller(cfg.judge_infiller, cfg.image_size, train, autoencoder)
    seeker = load_seeker(cfg.seeker_architecture, data.image_shape, data.num_classes, inputs.seeker)
    judges = [Judge("evalx", evaluator_classifier(cfg, inputs, data, judge_infiller)), Judge("seeker", seeker)]
    hns = build_hns(data.image_shape, data.num_classes, **hns_arguments(cfg, start_weights=False))
    load_weights(hns, inputs.checkpoint)
    own = Judge(CO_TRAINED, hns.seeker)
    split = data.val if cfg.faith_split == "validation" else data.test
    n = min(cfg.faith_images, len(split))
    x, labels = as_float_images(split.x[:n]), split.y[:n]
    evidence = None if split.evidence is None else split.evidence[:n]
    report = {"settings": as_dict(cfg, groups=(COMMON, HNS, EVALX, EXPLAIN, FAITH)), "images": n,
              "split": cfg.faith_split,
              "checkpoint": str(inputs.checkpoint), "notes": inputs.notes, "seeker": str(inputs.seeker),
              "evaluator": {"weights": str(inputs.evaluator_weights),
                            "accuracy": evaluator_accuracy(judges[0], data, judge_infiller, cfg.seed,
                                                            cfg.evalx_grid)},
              "budgets": inputs.budgets, "methods": {}, "rows": []}
    print(f"evaluator {inputs.evaluator_weights}: " + ", ".join(
        f"{k} {v[0]:.3f}" for k, v in report["evaluator"]["accuracy"].items()))
    refuse_a_judge_at_chance(report["evaluator"]["accuracy"]["whole"][0], len(data.test), data.num_classes,
                             inputs.evaluator_weights)
    views = {"x": x, "labels": labels, "masks": {}}
    probe = LeakageProbe(x.shape[1:3], data.num_classes, epochs=1, seed=cfg.seed)
    own_scores, start = hns_scores(hns, x)
    hns_mask = own_scores["hns"][2]
    refinements = {name: (steps, objective) for name, steps, objective in inputs.refinements}
    for method in inputs.methods + list(refinements):
        if method in refinements:
            scores, seconds, mask = refinement_scores(cfg, *refinements[method], seeker, x, start, own_scores["hns"],
                                                      train, autoencoder)
        else:
            scores, seconds, mask = (own_scores.get(method)
                                     or method_scores(cfg, method, seeker, x, train, autoencoder))
        summary, rows, view = score_method(cfg, method, scores, seconds, mask, hns_mask, judges, own, x, labels,
                                           evidence, inputs.budgets, judge_infiller, probe)
        report["methods"][method] = summary
        report["rows"] += rows
        views["masks"][method] = view
        print(line(method, summary), flush=True)
    return report, views


def score_method(cfg, method, scores, seconds, mask, hns_mask, judges, own, x, labels, evidence, budgets, infiller,
                 probe):
    """The summary of one method and its rows, one per budget (the images' HnS budget first); with known
    evidence each row has the precision of its cut, and the summary TPR, FDR and pointing at |evidence|
    (the binary HnS mask: its own mask's TPR and FDR)."""
    from utils.evaluation.faithfulness import (ground_truth, insertion_deletion, keep_and_remove, leakage_correct,
                                               mask_ground_truth, mean_se, precision)
    from utils.explainers.topk import budget_pixels, top_k_mask

    seeds = np.arange(len(x)) + cfg.seed
    pixels = x.shape[1] * x.shape[2]
    at_hns = mask if method == "hns" else top_k_mask(scores, hns_mask.sum(axis=(1, 2)))
    cuts = [(HNS_BUDGET, at_hns)] + ([] if method == "hns" else
                                     [(b, top_k_mask(scores, budget_pixels(b, pixels))) for b in budgets])
    rows = []
    for budget, cut in cuts:
        row = {"method": method, "budget": budget, "kept_pixels": mean_se(cut.sum(axis=(1, 2)))[0],
               "seconds_per_image": seconds}
        scored = keep_and_remove(judges + ([own] if method in ("hns", "hns-ranked") else []), x, labels, cut, infiller,
                                 seeds)
        for name, (keep, remove) in scored.items():
            row[f"keep_{name}"], row[f"remove_{name}"] = mean_se(keep), mean_se(remove)
        if evidence is not None:
            row["precision"] = mean_se(precision(cut, evidence))
        rows.append(row)
    summary = {"seconds_per_image": seconds, "at_hns_budget": rows[0]}
    if method != "hns":
        curves = insertion_deletion(judges, x, labels, [cut for _, cut in cuts[1:]], budgets, seed=cfg.seed)
        for name, (ins, dele) in curves.items():
            summary[f"insertion_{name}"], summary[f"deletion_{name}"] = mean_se(ins), mean_se(dele)
    summary["leakage"] = mean_se(leakage_correct(at_hns, labels, probe, cfg.leakage_folds, cfg.probe_epochs, cfg.seed))
    if evidence is not None and method == "hns":   # a binary mask has no ranking: its own pixels
        summary.update({f"own_mask_{k}": mean_se(v) for k, v in mask_ground_truth(mask, evidence).items()})
    elif evidence is not None:
        summary.update({k: mean_se(v) for k, v in ground_truth(scores, evidence).items()})
    for row in rows:
        row.update({k: v for k, v in summary.items() if k not in ("at_hns_budget", "seconds_per_image")})
    return summary, rows, at_hns


def run_benchmark(cfg) -> dict:
    inputs = resolve(cfg)
    with locked(cfg, hns_model_type(cfg)):
        report, views = compute(cfg, inputs)
        print(table(report))
        if not cfg.debug:
            written = write(cfg, inputs.run.paths, report, views)
            print(f"faithfulness: {written} (+ faithfulness.csv, faithfulness_budgets.png, "
                  "faithfulness_examples.png)")
    return report
