"""The faithfulness benchmark from a configuration (faithfulness.py): every method's masks judged by classifiers
that never made them.

faithfulness.py resolves the inputs (`benchmark_inputs`), loads the data and the pretrained networks
(`load_benchmark_data`), has the judge trained or loaded by its own step (`utils.stages.judge`), then runs the
benchmark (`run_benchmark`). The post-hoc methods explain the pretrained seeker; Hide-and-Seek is scored with the
mask of one checkpoint of its run (`utils.stages.evaluation.hns_checkpoint`); with --refine_steps, BBMP refines
the hider's logits for K steps (rows hns+refine<K>, `utils.stages.explain.refine`). The scores:
`utils.evaluation.benchmark`; the table, CSV, figures and faithfulness.json: `utils.reporting.faithfulness_report`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from networks.build import load_autoencoder, load_seeker
from utils.config.arguments import data_arguments, explainer_arguments
from utils.config.checks import (parse_budgets, parse_methods, parse_refine_objectives, parse_refine_starts,
                                 parse_refine_steps)
from utils.config.schema import COMMON, EVALX, EXPLAIN, FAITH, HNS, as_dict
from utils.data import load_data
from utils.errors import UsageError
from utils.evaluation.benchmark import (blind_judge_note, evaluator_accuracy, hns_scores, refuse_a_judge_at_chance,
                                       score_method)
from utils.evaluation.faithfulness import Judge
from utils.evaluation.leakage import LeakageProbe
from utils.evaluation.prediction import as_float_images
from utils.evaluation.refinement import HNS_START, REFINED, TOPK, refined_name
from utils.explainers.factory import build_explainer
from utils.explainers.infillers import build_infiller
from utils.explainers.references import REFERENCES, ReferenceExplainer
from utils.reporting.faithfulness_report import CO_TRAINED, faithfulness_table, line, write_faithfulness
from utils.seeding import seed_everything
from utils.stages.amortised import amortised_weights, load_amortised
from utils.stages.evaluation import hns_checkpoint
from utils.stages.explain import load_hns, needs_autoencoder, refine
from utils.stages.judge import judge_run
from utils.stages.runs import AMORTISED, default_hider_weights, default_seeker_weights, hns_model_type, series


@dataclass
class BenchmarkInputs:
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


@dataclass
class BenchmarkData:
    """What the benchmark and its judge's training read, loaded once."""
    data: object
    train: np.ndarray          # the training images as floats (the in-fillers' statistics)
    autoencoder: object        # the pretrained hider autoencoder, or None
    judge_infiller: object     # fills what the judges do not see (--judge_infiller)
    seeker: object             # the pretrained seeker, which the methods explain and which judges too


def benchmark_inputs(cfg) -> BenchmarkInputs:
    """Everything the benchmark reads, checked before anything is built or written."""
    methods, budgets = parse_methods(cfg.methods), parse_budgets(cfg.budgets)
    starts = parse_refine_starts(cfg.refine_starts)
    refinements = [(refined_name(start, k, None if objective == TOPK else REFINED), k, objective, start)
                   for start in starts for k in parse_refine_steps(cfg.refine_steps)
                   for objective in parse_refine_objectives(cfg.refine_objectives)]
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
    evaluator, weights = judge_run(cfg)
    notes = [f"checkpoint {checkpoint.name}: {how}"]
    if AMORTISED in methods or (refinements and AMORTISED in starts):
        amortised = amortised_weights(cfg)
        notes.append(f"the one-pass explainer (rows {AMORTISED}...): {amortised}, a hider trained against the frozen "
                     "pretrained seeker")
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
    return BenchmarkInputs(methods, budgets, refinements, run, checkpoint, seeker,
                           autoencoder if autoencoder.is_file() else None,
                           evaluator, weights, notes)


def _as_method(cfg, method):
    return dataclasses.replace(cfg, method=method)


def load_benchmark_data(cfg, inputs: BenchmarkInputs) -> BenchmarkData:
    """The data, the pretrained networks and the judges' in-filler, after seeding every generator with --seed."""
    seed_everything(cfg.seed)
    data = load_data(**data_arguments(cfg))
    train = as_float_images(data.train.x)
    autoencoder = inputs.autoencoder and load_autoencoder(cfg.model, data.image_shape, inputs.autoencoder,
                                                          cfg.hider_decoder)
    judge_infiller = build_infiller(cfg.judge_infiller, cfg.image_size, train, autoencoder)
    seeker = load_seeker(cfg.seeker_architecture, data.image_shape, data.num_classes, inputs.seeker)
    return BenchmarkData(data, train, autoencoder, judge_infiller, seeker)


# --- the methods' scores ----------------------------------------------------------------------------

def refinement_scores(cfg, steps, objective, seeker, x, start, start_seconds, mask, train, autoencoder):
    """(scores (n, H, W), seconds per image, None) of BBMP run `steps` from the logits `start` with `objective`
    (`utils.evaluation.refinement`), cut at the pixels of the binary HnS `mask`; the time per image includes the
    start's pass, `start_seconds` per image: the start is part of the method's cost."""
    explanation = refine(cfg, REFINED, objective, seeker, x, start, mask, steps, train, autoencoder,
                         seeds=np.arange(len(x)) + cfg.seed)
    return np.asarray(explanation.scores, np.float64), start_seconds + explanation.seconds / len(x), None


def amortised_scores(cfg, loaded: BenchmarkData, x):
    """(logits (n, H, W), seconds per image, None) of the one-pass explainer of the pretrained seeker."""
    explainer, _ = load_amortised(cfg, loaded.data, loaded.seeker)
    explainer.explain(x)  # traced first for this batch, so that the timed call does not trace
    explanation = explainer.explain(x)
    return np.asarray(explanation.scores, np.float64), explanation.seconds / len(x), None


def method_scores(cfg, method, seeker, x, train, autoencoder):
    """(scores (n, H, W), seconds per image, None) of one post-hoc or reference method on images x."""
    if method in REFERENCES:
        explainer = ReferenceExplainer(seeker, method, cfg.foreground_threshold, cfg.seed)
    else:
        explainer = build_explainer(method, seeker, train, autoencoder, **explainer_arguments(cfg, method))
    explanation = explainer.explain(x, seeds=np.arange(len(x)) + cfg.seed)
    return np.asarray(explanation.scores, np.float64), explanation.seconds / len(x), None


# --- the benchmark ----------------------------------------------------------------------------------

def benchmark_report(cfg, inputs: BenchmarkInputs, loaded: BenchmarkData, evaluator) -> tuple[dict, dict]:
    """The benchmark's report and what its figures need; `evaluator`: the EVAL-X judge (`utils.stages.judge`)."""
    data = loaded.data
    judges = [Judge("evalx", evaluator), Judge("seeker", loaded.seeker)]
    hns = load_hns(cfg, data, inputs.checkpoint)
    split = data.val if cfg.faith_split == "validation" else data.test
    n = min(cfg.faith_images, len(split))
    x, labels = as_float_images(split.x[:n]), split.y[:n]
    report = {"settings": as_dict(cfg, groups=(COMMON, HNS, EVALX, EXPLAIN, FAITH)), "images": n,
              "split": cfg.faith_split,
              "checkpoint": str(inputs.checkpoint), "notes": list(inputs.notes), "seeker": str(inputs.seeker),
              "evaluator": {"weights": str(inputs.evaluator_weights),
                            "accuracy": evaluator_accuracy(judges[0], data, loaded.judge_infiller, cfg.seed,
                                                           cfg.evalx_grid)},
              "budgets": inputs.budgets, "methods": {}, "rows": []}
    print(f"evaluator {inputs.evaluator_weights}: " + ", ".join(
        f"{k} {v[0]:.3f}" for k, v in report["evaluator"]["accuracy"].items()))
    refuse_a_judge_at_chance(report["evaluator"]["accuracy"]["whole"][0], len(data.test), data.num_classes,
                             inputs.evaluator_weights)
    blind = blind_judge_note(report["evaluator"]["accuracy"])
    if blind:
        report["notes"].append(blind)
        print(f"note: {blind}")
    views = {"x": x, "labels": labels, "masks": {}}
    evidence = None if split.evidence is None else split.evidence[:n]
    _score_every_method(cfg, inputs, loaded, judges, hns, x, labels, evidence, report, views)
    return report, views


def _score_every_method(cfg, inputs: BenchmarkInputs, loaded: BenchmarkData, judges, hns, x, labels, evidence,
                        report: dict, views: dict) -> None:
    """Each method's summary and rows into `report`, its mask at the HnS budget into `views`, a line printed."""
    own = Judge(CO_TRAINED, hns.seeker)
    probe = LeakageProbe(x.shape[1:3], loaded.data.num_classes, epochs=1, seed=cfg.seed)
    own_scores, start = hns_scores(hns, x)
    hns_mask = own_scores["hns"][2]
    if AMORTISED in inputs.methods or any(r[3] == AMORTISED for r in inputs.refinements):
        own_scores[AMORTISED] = amortised_scores(cfg, loaded, x)
    starts = {HNS_START: (start, own_scores["hns"][1]),
              AMORTISED: own_scores.get(AMORTISED, (None, None))[:2]}
    refinements = {name: (steps, objective, origin) for name, steps, objective, origin in inputs.refinements}
    for method in inputs.methods + list(refinements):
        if method in refinements:
            steps, objective, origin = refinements[method]
            logits, start_seconds = starts[origin]
            scores, seconds, mask = refinement_scores(cfg, steps, objective, loaded.seeker, x, logits, start_seconds,
                                                      hns_mask, loaded.train, loaded.autoencoder)
        else:
            scores, seconds, mask = (own_scores.get(method)
                                     or method_scores(cfg, method, loaded.seeker, x, loaded.train, loaded.autoencoder))
        summary, rows, view = score_method(method, scores, seconds, mask, hns_mask, judges, own, x, labels, evidence,
                                           inputs.budgets, loaded.judge_infiller, probe, seed=cfg.seed,
                                           leakage_folds=cfg.leakage_folds, probe_epochs=cfg.probe_epochs)
        report["methods"][method] = summary
        report["rows"] += rows
        views["masks"][method] = view
        print(line(method, summary), flush=True)


def run_benchmark(cfg, inputs: BenchmarkInputs, loaded: BenchmarkData, evaluator) -> dict:
    """The benchmark with the judge `evaluator`: its table printed, its report written (not with --debug)."""
    report, views = benchmark_report(cfg, inputs, loaded, evaluator)
    print(faithfulness_table(report))
    if not cfg.debug:
        written = write_faithfulness(inputs.run.paths, report, views, name=f"{cfg.config} {cfg.identifier}")
        print(f"faithfulness: {written} (+ faithfulness.csv, faithfulness_budgets.png, "
              "faithfulness_examples.png, faithfulness_frontier.png)")
    return report
