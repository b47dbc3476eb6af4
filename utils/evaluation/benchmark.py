"""The faithfulness benchmark's computations, with explicit arguments: the judge's checks and each method's
scores. Judges: the EVAL-X evaluator (`networks.evalx`, trained by `utils.stages.judge`) and the frozen pretrained
seeker; the co-trained HnS seeker's accuracy on its own masks is reported beside them, labelled as what it is:
not faithfulness. Figures and their definitions: `utils.evaluation.faithfulness`; the pipeline from a
configuration: `utils.stages.faithfulness`; the table, CSV, figures and faithfulness.json:
`utils.reporting.faithfulness_report`.
"""
from __future__ import annotations

import numpy as np

from utils.errors import UsageError
from utils.evaluation.faithfulness import (fill, ground_truth, insertion_deletion, keep_and_remove, leakage_correct,
                                           mask_ground_truth, mean_se, precision)
from utils.evaluation.prediction import as_float_images
from utils.evaluation.refinement import hider_pass
from utils.explainers.topk import budget_pixels, top_k_mask

HNS_BUDGET = "hns"


def evaluator_accuracy(judge, data, infiller, seed: int, grid: int | None = None) -> dict:
    """The evaluator's test accuracy on whole images, on images with random 3%, 10%, 30% of pixels kept,
    the same on cells of its training `grid` (what it learnt to read), and, where the test split knows
    its evidence, on images shown only their evidence: a judge that cannot read those cannot judge
    whether a mask found the evidence."""
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
                         f"cells (--evalx_grid) or, for a seeker with global pooling, the mean in-filler "
                         f"(--judge_infiller mean)")


def blind_judge_note(accuracy: dict, rate: float = 0.03) -> str | None:
    """A note where the judge reads images with a random `rate` of their pixels as well as whole images (within 2
    standard errors of each), else None. Then every mask keeps about as much as random pixels do and the keep
    figures cannot tell methods apart, for one of two reasons: the in-fill leaks what it hides (the blur in-filler
    keeps large, smooth evidence visible: blob_count), or any `rate` of the pixels holds evidence enough (one
    pixel of a large region's colour: colour_regions; docs/results/2026-12-07-suite-loo.md). `accuracy`:
    `evaluator_accuracy`'s {name: (mean, se)}."""
    (whole, se_whole), (random, se_random) = accuracy["whole"], accuracy[f"random_{rate:g}"]
    if random < whole - 2 * np.hypot(se_whole, se_random):
        return None
    return (f"the judge reads random {rate:.0%} of the pixels ({random:.3f}) as well as whole images ({whole:.3f}), so "
            f"its keep figures cannot tell masks apart: its in-fill leaks what it hides (try --judge_infiller mean "
            f"under a new --evaluator NAME), or any {rate:.0%} of the pixels holds the evidence (then compare "
            f"precision, pointing and removal)")


def hns_scores(hns, x) -> tuple[dict, np.ndarray]:
    """(scores (n, H, W), seconds per image, binary mask) of "hns" (the mask) and "hns-ranked" (the keep
    probability) on images x, and the hider's logits (n, H, W), the refinements' start, from one pass of
    the hider."""
    mask, probability, logits, seconds = hider_pass(hns, x)
    return {"hns": (mask, seconds, mask > 0.5), "hns-ranked": (probability, seconds, mask > 0.5)}, logits


def score_method(method, scores, seconds, mask, hns_mask, judges, own, x, labels, evidence, budgets, infiller,
                 probe, seed: int, leakage_folds: int, probe_epochs: int):
    """The summary of one method and its rows, one per budget (the images' HnS budget first); with known
    evidence each row has the precision of its cut, and the summary TPR, FDR and pointing at |evidence|
    (the binary HnS mask: its own mask's TPR and FDR). `seed`, `leakage_folds` and `probe_epochs` set the
    random seeds of the in-filler and the curves, and the folds and epochs of the leakage probe."""
    seeds = np.arange(len(x)) + seed
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
        curves = insertion_deletion(judges, x, labels, [cut for _, cut in cuts[1:]], budgets, seed=seed)
        for name, (ins, dele) in curves.items():
            summary[f"insertion_{name}"], summary[f"deletion_{name}"] = mean_se(ins), mean_se(dele)
    summary["leakage"] = mean_se(leakage_correct(at_hns, labels, probe, leakage_folds, probe_epochs, seed))
    if evidence is not None and method == "hns":   # a binary mask has no ranking: its own pixels
        summary.update({f"own_mask_{k}": mean_se(v) for k, v in mask_ground_truth(mask, evidence).items()})
    elif evidence is not None:
        summary.update({k: mean_se(v) for k, v in ground_truth(scores, evidence).items()})
    for row in rows:
        row.update({k: v for k, v in summary.items() if k not in ("at_hns_budget", "seconds_per_image")})
    return summary, rows, at_hns
