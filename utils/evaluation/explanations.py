"""What explain.py reports of an explanation: the scores cut at a budget, the rest in-filled and given to the
model again, and the per-image records and summary of explanations.json (`utils.reporting.explanations`
writes them; `utils.stages.explain` runs the method)."""
from __future__ import annotations

import numpy as np

from utils.evaluation.contrastive import summarize
from utils.evaluation.faithfulness import fill
from utils.evaluation.prediction import predict_classes
from utils.explainers.topk import budget_pixels, top_k_mask
from utils.reporting.explanations import legend


def budget_view(seeker, infiller, x, scores, budget: float, seeds):
    """(kept mask at `budget`, in-filled image, the model's class on it) per image."""
    k = budget_pixels(budget, scores.shape[1] * scores.shape[2])
    mask = top_k_mask(scores, k)
    filled = fill(x, mask, infiller, seeds)
    return mask, filled, predict_classes(seeker, filled)


def explanation_report(explanation, seeker, infiller, x, labels, indices, method: str, name: str,
                       budget: float) -> dict:
    """explanations.json's content (and the views of its figures) of `explanation` by `method` of the test images
    `indices`: `name` is the run's method (the refinement's name with a start), `budget` the share kept."""
    cem = method.startswith("cem")
    scores = explanation.scores
    mask, filled, pred_filled = budget_view(seeker, infiller, x, scores, budget, indices.astype(np.int32))
    pred = predict_classes(seeker, x)
    per_image = explanation.seconds / len(x)
    loss = None if cem else explanation.extras.get("loss")
    kept = explanation.extras["l0"] if cem else explanation.kept
    images = [{"index": int(i), "label": int(labels[j]), "target": int(explanation.targets[j]), "pred": int(pred[j]),
               "loss": None if loss is None else float(loss[j]), "kept": None if kept is None else int(kept[j]),
               "kept_at_budget": int(mask[j].sum()), "pred_filled": int(pred_filled[j]), "seconds": per_image}
              for j, i in enumerate(indices)]
    summary = {"method": name, "images": len(x), "seconds_per_image": per_image,
               "budget": budget, "pixels_at_budget": int(mask[0].sum()),
               "target_kept_when_filled": float(np.mean(pred_filled == explanation.targets)),
               "mean_kept": None if kept is None else float(np.mean(kept))}
    if cem:
        summary["cem"] = summarize(seeker, explanation)
        e = explanation.extras
        for j, record in enumerate(images):
            record.update(found=bool(e["found"][j]), c=float(e["c"][j]), l1=float(e["l1"][j]), l2=float(e["l2"][j]))
    return {"method": name,
            "settings": {**explanation.settings, "budget": budget, "budget_infiller": infiller.settings()},
            "legend": legend(explanation.method), "summary": summary, "images": images,
            "views": {"mask": mask, "filled": filled}}
