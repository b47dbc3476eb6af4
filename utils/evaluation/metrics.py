"""Figures of merit of Hide-and-Seek masks: Fidelity, Interpretability and their combinations.

Mask y = 1 where a pixel is kept; foreground = `networks.metrics.foreground_pixels`, the pixels
that stand out from the image's background by more than ``foreground_threshold`` (0.1 by default:
on MNIST the black background is free to hide, so I alone flatters a model). With acc the accuracy
of the Hide-and-Seek model and base that of the seeker trained alone on the same split:

    accuracy      share of images classified correctly
    F             acc / base                          (Fidelity)
    I             share of input elements hidden, 1 - mean(y)   (Interpretability)
    I_fg          share of foreground pixels hidden
    FIR           F / (F + I)
    FII, FII_fg   F * I, F * I_fg
    kept_pixels   mean number of kept pixels per image
    all_fg_hidden share of images whose every foreground pixel is hidden
    fg_share      share of pixels that are foreground (near 1: I_fg says little more than I)
    mask_agreement  mean IoU of the kept pixels of different images (`mask_agreement`): near 1, the
                  hider writes the same mask whatever the image, a failure (`fixed_mask_warning`)

Where the split knows each image's evidence E (`patches`; a folder with evidence masks), with the
hider's keep probability as its ranking and k = |E| (`utils.evaluation.faithfulness.ground_truth`):

    tpr           |top-k pixels & E| / |E|, mean over images (random pixels: |E| / pixels)
    pointing      share of images whose top-ranked pixel lies in E
    mask_tpr      share of E inside the binary mask, |y & E| / |E|, mean over images
    mask_fdr      share of the binary mask outside E, |y \\ E| / |y|, mean over images

`fidelity`, `fir` and `fii` live with the model (`networks.metrics`), which logs them during
training with the same formulas.
"""
from __future__ import annotations

import numpy as np

from networks.metrics import fidelity, fii, fir, foreground_pixels
from utils.evaluation.faithfulness import ground_truth, mask_ground_truth


def figures_of_merit(preds, labels, masks, foreground, baseline: float | None, evidence=None, scores=None) -> dict:
    """All per-checkpoint figures (see the module docstring) from predictions and binary masks; with the
    `evidence` (bool (N, H, W)) and the hider's `scores` (its ranking), also where the masks lie."""
    preds, labels = np.asarray(preds), np.asarray(labels)
    masks, foreground = np.asarray(masks, bool), np.asarray(foreground, bool)
    n = len(labels)
    accuracy = float(np.mean(preds == labels)) if n else 0.0
    hidden = 1.0 - float(masks.mean())
    fg_total = foreground.sum()
    hidden_fg = float((~masks & foreground).sum() / fg_total) if fg_total else 0.0
    per_image_fg_kept = (masks & foreground).reshape(n, -1).sum(axis=1)
    per_image_fg = foreground.reshape(n, -1).sum(axis=1)
    out = {
        "images": n,
        "accuracy": accuracy,
        "I": hidden,
        "I_fg": hidden_fg,
        "kept_pixels": float(masks.reshape(n, -1).sum(axis=1).mean()),
        "all_fg_hidden": float(np.mean((per_image_fg_kept == 0) & (per_image_fg > 0))),
        "fg_share": float(foreground.mean()),
        "mask_agreement": mask_agreement(masks),
    }
    if baseline:
        f = fidelity(accuracy, baseline)
        out.update(F=f, FIR=fir(f, hidden), FII=fii(f, hidden), FII_fg=fii(f, hidden_fg))
    else:
        out["acc_x_I_fg"] = accuracy * hidden_fg
    if evidence is not None:
        ranked, own = ground_truth(scores, evidence), mask_ground_truth(masks, evidence)
        out.update(tpr=float(np.mean(ranked["tpr"])), pointing=float(np.mean(ranked["pointing"])),
                   mask_tpr=float(np.mean(own["tpr"])), mask_fdr=float(np.mean(own["fdr"])))
    return out


# Above this mean IoU between different images' masks the hider explains no image in particular.
FIXED_MASK_AGREEMENT = 0.9


def mask_agreement(masks) -> float:
    """How alike the masks of different images are: the mean over images i of the IoU of the kept
    pixels of image i and image i + 1 (cyclically),

        agreement = 1/n sum_i |y_i & y_(i+1)| / |y_i | y_(i+1)|      (1 for two empty masks)

    An explanation depends on its image: masks that follow the evidence of each image agree little
    (budget masks on `patches`: docs/results/2026-12-03-patches-budget.md), while a hider that writes
    one fixed pattern for every image agrees fully (1.0). With fewer than two images there is nothing
    to compare: nan.
    """
    y = np.asarray(masks, bool).reshape(len(masks), -1)
    if len(y) < 2:
        return float("nan")
    other = np.roll(y, -1, axis=0)
    union = (y | other).sum(axis=1)
    both = (y & other).sum(axis=1)
    return float(np.mean(np.where(union > 0, both / np.maximum(union, 1), 1.0)))


def fixed_mask_warning(figures: dict, what: str) -> str | None:
    """A warning when `figures` (of `figures_of_merit`) show one mask for every image, else None."""
    agreement = figures.get("mask_agreement", float("nan"))
    if not agreement > FIXED_MASK_AGREEMENT:
        return None
    return (f"{what}: the masks of different images agree at IoU {agreement:.3f} (> {FIXED_MASK_AGREEMENT}): the hider "
            "writes nearly the same mask whatever the image, so its masks explain no image in particular and "
            "its figures are not a result")


def fidelity_standard_error(val: dict) -> float:
    """Standard error of a validation F: sqrt(a (1 - a) / n) / baseline = F sqrt((1 - a) / (a n)),
    with a the checkpoint's validation accuracy over n images (binomial sampling error; the
    baseline is taken as fixed)."""
    a, n = val["accuracy"], max(int(val["images"]), 1)
    return float(val["F"] * np.sqrt((1.0 - a) / (a * n))) if a > 0 else 0.0
