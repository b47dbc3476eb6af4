"""explain.py's run from a configuration: resolve the weights, load the model, explain --n test images, score
the result; and the refinement from the HnS hider's logits that faithfulness.py shares.

Every method of `utils.explainers` explains the first --n test images (of --sample_from_class);
the scores are cut at --budget, the rest in-filled and given to the model again
(`utils.evaluation.explanations`). With --start hns, FIDO or BBMP refine the HnS hider's logits for
--steps (`utils.evaluation.refinement`): the run is named <start>+refine<K>[-<method>], and its time
per image includes the hider's pass. The files and figures (explanations.json,
explanations[_<page>].png, savepoints.npz): `utils.reporting.explanations`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from networks.build import build_hns, load_autoencoder
from networks.weights import load_weights
from utils.config.arguments import data_arguments, explainer_arguments, hns_arguments, method_learning_rate
from utils.config.schema import AMORTISED as AMORTISED_FLAGS, COMMON, EXPLAIN, as_dict
from utils.data import load_data
from utils.errors import UsageError
from utils.evaluation.explanations import explanation_report
from utils.evaluation.prediction import as_float_images
from utils.evaluation.refinement import HNS_START, TOPK, hider_pass, refined_name
from utils.explainers.choices import LEARNING_RATES
from utils.explainers.factory import build_explainer
from utils.explainers.infillers import build_infiller
from utils.explainers.topk import top_k_mask
from utils.reporting.explanations import print_summary, write_explanations
from utils.runs import explanation_model_type
from utils.stages.amortised import load_amortised, load_classifier
from utils.stages.evaluation import hns_checkpoint
from utils.stages.runs import AMORTISED, claimed, default_hider_weights, default_seeker_weights, hns_model_type, series


@dataclass
class ExplanationInputs:
    seeker: str
    autoencoder: str | None
    start: tuple[Path, str] | None = None   # the HnS checkpoint a refinement starts from, and how it was chosen


def run_name(cfg) -> str:
    """The run folder's method: --method, or the refinement's name with --start."""
    if cfg.start is None:
        return cfg.method
    return refined_name(cfg.start, cfg.steps, None if cfg.refine_objective == TOPK else cfg.method)


def needs_autoencoder(cfg) -> bool:
    """CEM's autoencoder term (gamma > 0, no --no_ae) or the autoencoder in-filler need the hider."""
    cem_term = cfg.method.startswith("cem") and not cfg.no_ae and cfg.gamma > 0
    return cem_term or cfg.infiller == "autoencoder"


def explanation_inputs(cfg) -> ExplanationInputs:
    """The weights explain.py reads, checked before anything is built or written."""
    seeker = cfg.classifier or cfg.seeker_weights or str(default_seeker_weights(cfg))
    if cfg.classifier is None and cfg.seeker_weights is None and not default_seeker_weights(cfg).is_file():
        raise UsageError(f"no seeker weights at {seeker}: run pretrain_seeker.py --config {cfg.config} "
                         f"--identifier {cfg.identifier} first, or pass --seeker_weights PATH")
    autoencoder = None
    if needs_autoencoder(cfg):
        autoencoder = cfg.hider_weights or str(default_hider_weights(cfg))
        if cfg.hider_weights is None and not default_hider_weights(cfg).is_file():
            why = "the autoencoder in-filler" if cfg.infiller == "autoencoder" else "CEM's autoencoder term"
            fix = "choose another --infiller" if cfg.infiller == "autoencoder" else "use --no_ae"
            raise UsageError(f"no hider autoencoder at {autoencoder} ({why} needs it): run pretrain_hider.py "
                             f"--config {cfg.config} --identifier {cfg.identifier} first, pass --hider_weights "
                             f"PATH, or {fix}")
    start = None
    if cfg.start == HNS_START:
        start = hns_checkpoint(cfg, series(cfg, hns_model_type(cfg))[0])
    return ExplanationInputs(seeker, autoencoder, start)


def test_images(cfg, data):
    """Indices of the first --n test images (of class --sample_from_class, if given)."""
    cls, n = cfg.sample_from_class, cfg.n
    if cls is not None and cls >= data.num_classes:
        raise UsageError(f"--sample_from_class must be a class index >= 0 (at most {data.num_classes - 1}), got {cls}")
    indices = np.arange(len(data.test)) if cls is None else np.flatnonzero(data.test.y == cls)
    if len(indices) < n:
        raise UsageError(f"--n {n}: only {len(indices)} test images" + (f" of class {cls}" if cls is not None else "")
                         + f"; use --n {len(indices)} or less")
    return indices[:n]


def explain_images(cfg) -> dict:
    """explain.py: explain --n test images with --method, check the result on the model, write the report."""
    inputs = explanation_inputs(cfg)
    data = load_data(**data_arguments(cfg))
    indices = test_images(cfg, data)
    seeker = load_classifier(cfg, data)
    autoencoder = inputs.autoencoder and load_autoencoder(cfg.model, data.image_shape, inputs.autoencoder,
                                                          cfg.hider_decoder)
    train = as_float_images(data.train.x)
    infiller = build_infiller(cfg.infiller, cfg.image_size, train, autoencoder)
    model_type = explanation_model_type(run_name(cfg))
    (run,) = series(cfg, model_type)
    with claimed(cfg, model_type, [run]):
        x, labels = as_float_images(data.test.x[indices]), data.test.y[indices]
        if cfg.start == HNS_START:
            explanation = refine_from_hns(cfg, inputs, data, seeker, x, train, autoencoder)
        elif cfg.start == AMORTISED:
            explanation = refine_from_amortised(cfg, data, seeker, x, train, autoencoder)
        elif cfg.method == AMORTISED:
            explanation = load_amortised(cfg, data, seeker)[0].explain(x)
        else:
            explainer = build_explainer(cfg.method, seeker, train, autoencoder, progress=not cfg.quiet,
                                        **explainer_arguments(cfg, cfg.method))
            explanation = explainer.explain(x)
        report = explanation_report(explanation, seeker, infiller, x, labels, indices, cfg.method, run_name(cfg),
                                    cfg.budget)
        print_summary(run_name(cfg), report["summary"])
        if not cfg.debug:
            write_explanations(run.paths, report, explanation, x, cfg.method,
                               title=f"{cfg.method} of {inputs.seeker} ({cfg.config}); kept: top {cfg.budget:.0%}, "
                                     f"filled with {cfg.infiller}",
                               weights={"seeker": inputs.seeker, "autoencoder": inputs.autoencoder},
                               settings=recorded_settings(cfg))
    return report


def recorded_settings(cfg) -> dict:
    """The configuration explanations.json records, with the learning rate the method used (its own unless
    --learning_rate was typed; the preset's is Adam's for training) where it takes one."""
    settings = as_dict(cfg, groups=(COMMON, EXPLAIN, AMORTISED_FLAGS))
    if cfg.method.split("-")[0] in LEARNING_RATES:
        settings["learning_rate"] = method_learning_rate(cfg, cfg.method)
    return settings


def refine_from_hns(cfg, inputs: ExplanationInputs, data, seeker, x, train, autoencoder):
    """--method refined for --steps from the HnS hider's logits on x; its seconds include the hider's pass."""
    checkpoint, how = inputs.start
    print(f"refining from the HnS hider's logits of {checkpoint} ({how})")
    mask, _, logits, start_seconds = hider_pass(load_hns(cfg, data, checkpoint), x)
    explanation = refine(cfg, cfg.method, cfg.refine_objective, seeker, x, logits, mask, cfg.steps, train,
                         autoencoder)
    explanation.seconds += start_seconds * len(x)
    explanation.settings.update(start=cfg.start, start_checkpoint=str(checkpoint), steps=cfg.steps,
                                refine_objective=cfg.refine_objective, start_seconds_per_image=start_seconds,
                                hns_kept=(mask > 0.5).sum(axis=(1, 2)).tolist())
    return explanation


def refine_from_amortised(cfg, data, seeker, x, train, autoencoder):
    """--method refined for --steps from the one-pass explainer's logits on x, the top-k objective at
    --explainer_budget of the pixels; its seconds include the explainer's pass."""
    explainer, weights = load_amortised(cfg, data, seeker)
    print(f"refining from the one-pass explainer's logits of {weights}")
    start = explainer.explain(x)
    k = max(1, round(cfg.explainer_budget * x.shape[1] * x.shape[2]))
    mask = top_k_mask(start.scores, np.full(len(x), k))
    explanation = refine(cfg, cfg.method, cfg.refine_objective, seeker, x, start.scores, mask, cfg.steps, train,
                         autoencoder)
    explanation.seconds += start.seconds
    explanation.settings.update(start=cfg.start, start_weights=str(weights), steps=cfg.steps,
                                refine_objective=cfg.refine_objective,
                                start_seconds_per_image=start.seconds / len(x))
    return explanation


def load_hns(cfg, data, checkpoint):
    """The HideAndSeek model of the flags, with the weights of `checkpoint`."""
    hns = build_hns(data.image_shape, data.num_classes, **hns_arguments(cfg, start_weights=False))
    load_weights(hns, checkpoint)
    return hns


def refine(cfg, method: str, objective: str, seeker, x, start, mask, steps: int, train=None, autoencoder=None,
           seeds=None):
    """`method` (fido-* or bbmp-*) run for `steps` from the logits `start` (n, H, W) on `seeker`, with its own
    objective or, `objective` "topk", the top-k objective at each image's pixels of the binary `mask` (at
    least 1); the explainer's settings are the flags' (`explainer_arguments`), its iterations `steps`, no grid."""
    # a start has one logit per pixel: the grid of a preset's FIDO/BBMP does not apply
    settings = {**explainer_arguments(cfg, method), "epochs": steps, "grid": None}
    if objective == TOPK:
        settings["objective"] = TOPK
    explainer = build_explainer(method, seeker, train, autoencoder, **settings)
    budget = np.maximum(1, np.asarray(mask > 0.5).sum(axis=(1, 2))) if objective == TOPK else None
    return explainer.explain(x, seeds=seeds, start=start, budget=budget)
