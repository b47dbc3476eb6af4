"""explain.py's pipeline: resolve the weights, load the model, explain --n test images, score the result.

Every method of `utils.explainers` explains the first --n test images (of --sample_from_class);
the scores are cut at --budget, the rest in-filled and given to the model again. With --start hns,
FIDO or BBMP refine the HnS hider's logits for --steps (`utils.evaluation.refinement`): the run is
named <start>+refine<K>[-<method>], and its time per image includes the hider's pass. The files and
figures (explanations.json, explanations[_<page>].png, savepoints.npz):
`utils.reporting.explanations`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from utils.errors import UsageError
from utils.runs import (claimed, default_hider_weights, default_seeker_weights, explanation_model_type,
                        hns_model_type, series)


@dataclass
class Inputs:
    seeker: str
    autoencoder: str | None
    start: tuple[Path, str] | None = None   # the HnS checkpoint a refinement starts from, and how it was chosen


def run_name(cfg) -> str:
    """The run folder's method: --method, or the refinement's name with --start."""
    from utils.evaluation.refinement import TOPK, refined_name

    if cfg.start is None:
        return cfg.method
    return refined_name(cfg.start, cfg.steps, None if cfg.refine_objective == TOPK else cfg.method)


def needs_autoencoder(cfg) -> bool:
    """CEM's autoencoder term (gamma > 0, no --no_ae) or the autoencoder in-filler need the hider."""
    cem_term = cfg.method.startswith("cem") and not cfg.no_ae and cfg.gamma > 0
    return cem_term or cfg.infiller == "autoencoder"


def resolve(cfg) -> Inputs:
    """The weights explain.py reads, checked before anything is built or written."""
    seeker = cfg.seeker_weights or str(default_seeker_weights(cfg))
    if cfg.seeker_weights is None and not default_seeker_weights(cfg).is_file():
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
    if cfg.start is not None:
        from utils.evaluation.benchmark import hns_checkpoint

        start = hns_checkpoint(cfg, series(cfg, hns_model_type(cfg))[0])
    return Inputs(seeker, autoencoder, start)


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
    inputs = resolve(cfg)

    from networks.build import load_autoencoder, load_seeker
    from utils.config.arguments import data_arguments, explainer_arguments
    from utils.data import load_data
    from utils.evaluation.prediction import as_float_images
    from utils.explainers.factory import build_explainer
    from utils.explainers.infillers import build_infiller
    from utils.reporting.explanations import print_summary, write_report

    data = load_data(**data_arguments(cfg))
    indices = test_images(cfg, data)
    seeker = load_seeker(cfg.seeker_architecture, data.image_shape, data.num_classes, inputs.seeker)
    autoencoder = inputs.autoencoder and load_autoencoder(cfg.model, data.image_shape, inputs.autoencoder,
                                                      cfg.hider_decoder)
    train = as_float_images(data.train.x)
    infiller = build_infiller(cfg.infiller, cfg.image_size, train, autoencoder)
    model_type = explanation_model_type(run_name(cfg))
    (run,) = series(cfg, model_type)
    with claimed(cfg, model_type, [run]):
        x, labels = as_float_images(data.test.x[indices]), data.test.y[indices]
        if inputs.start is None:
            explainer = build_explainer(cfg.method, seeker, train, autoencoder, progress=not cfg.quiet,
                                        **explainer_arguments(cfg, cfg.method))
            explanation = explainer.explain(x)
        else:
            explanation = refine_from_hns(cfg, inputs, data, seeker, x, train, autoencoder)
        report = compute_report(cfg, explanation, seeker, infiller, x, labels, indices)
        print_summary(run_name(cfg), report["summary"])
        if not cfg.debug:
            write_report(cfg, inputs, run.paths, report, explanation, x)
    return report


def refine_from_hns(cfg, inputs: Inputs, data, seeker, x, train, autoencoder):
    """--method refined for --steps from the HnS hider's logits on x; its seconds include the hider's pass."""
    from utils.evaluation.refinement import hider_pass, load_hns, refine

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


def budget_view(seeker, infiller, x, scores, budget: float, seeds):
    """(kept mask at `budget`, in-filled image, the model's class on it) per image."""
    from utils.evaluation.faithfulness import fill
    from utils.evaluation.prediction import predict_classes
    from utils.explainers.topk import budget_pixels, top_k_mask

    k = budget_pixels(budget, scores.shape[1] * scores.shape[2])
    mask = top_k_mask(scores, k)
    filled = fill(x, mask, infiller, seeds)
    return mask, filled, predict_classes(seeker, filled)


def compute_report(cfg, explanation, seeker, infiller, x, labels, indices) -> dict:
    from utils.evaluation.contrastive import summarize
    from utils.evaluation.prediction import predict_classes
    from utils.reporting.explanations import legend

    cem = cfg.method.startswith("cem")
    scores = explanation.scores
    mask, filled, pred_filled = budget_view(seeker, infiller, x, scores, cfg.budget, indices.astype(np.int32))
    pred = predict_classes(seeker, x)
    per_image = explanation.seconds / len(x)
    loss = None if cem else explanation.extras.get("loss")
    kept = explanation.extras["l0"] if cem else explanation.kept
    images = [{"index": int(i), "label": int(labels[j]), "target": int(explanation.targets[j]), "pred": int(pred[j]),
               "loss": None if loss is None else float(loss[j]), "kept": None if kept is None else int(kept[j]),
               "kept_at_budget": int(mask[j].sum()), "pred_filled": int(pred_filled[j]), "seconds": per_image}
              for j, i in enumerate(indices)]
    summary = {"method": run_name(cfg), "images": len(x), "seconds_per_image": per_image,
               "budget": cfg.budget, "pixels_at_budget": int(mask[0].sum()),
               "target_kept_when_filled": float(np.mean(pred_filled == explanation.targets)),
               "mean_kept": None if kept is None else float(np.mean(kept))}
    if cem:
        summary["cem"] = summarize(seeker, explanation)
        e = explanation.extras
        for j, record in enumerate(images):
            record.update(found=bool(e["found"][j]), c=float(e["c"][j]), l1=float(e["l1"][j]), l2=float(e["l2"][j]))
    return {"method": run_name(cfg),
            "settings": {**explanation.settings, "budget": cfg.budget, "budget_infiller": infiller.settings()},
            "legend": legend(explanation.method), "summary": summary, "images": images,
            "views": {"mask": mask, "filled": filled}}
