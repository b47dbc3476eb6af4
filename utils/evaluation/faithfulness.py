"""Faithfulness of masks, judged by classifiers that never helped make them.

A *judge* is a classifier of images (logits). For a method's binary mask m (1 = kept) at a budget:

    keep-accuracy     judge(x * m + (1 - m) * G(x, m)) == label     only the kept pixels shown
    remove-accuracy   judge(x * (1 - m) + m * G(x, 1 - m)) == label  the kept pixels removed

(G the judges' in-filler); a mask points at the evidence when keep-accuracy is high and
remove-accuracy low. **Insertion and deletion** follow the ranking over the budget sweep
b_1 < ... < b_K with ROAD's noisy linear imputation (`utils.evaluation.road`) for the missing
pixels: p_ins(b) = judge's probability of the label with the top b kept, p_del(b) with the top b
removed; each area is the trapezoid under p against log10(b), divided by log10(b_K / b_1), so it is
the curve's mean height (higher insertion and lower deletion are better).

**Leakage**: a small CNN (`utils.evaluation.leakage.LeakageProbe`) classifies the masks alone,
k-fold cross-validated over the benchmark images, so every image is predicted once by a probe that
never saw it; the share it gets right says how much the mask's *shape* tells the class.

With a known evidence mask E and k = |E| pixels kept by rank:

    TPR = |top_k & E| / |E|,   FDR = |top_k \\ E| / k,   pointing game: the top-scored pixel in E

At any other size, with m the binary mask a method keeps at a budget (at an image's HnS budget: the
HnS mask itself, or a method's top k with k = |HnS mask|):

    precision = |m & E| / |m|       the share of the kept pixels on the evidence (0 where m is empty)

(at k = |E| it equals TPR: XAI-TRIS's "precision" is that figure). Why at the HnS budget too: TPR cuts
every ranking at the evidence's size, which the HnS mask, binary and of its own size, is never cut
to, and which no user of a mask knows; precision at the HnS budget compares every method with the
HnS mask on the same number of pixels and says how much of what is shown is evidence. An empty mask
counts 0, not "undefined": it found no evidence, and dropping it would let a method gain by keeping
nothing on hard images.

Every figure is a mean over images, reported with its standard error sqrt(var / n) (for shares:
sqrt(p (1 - p) / n)).
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from utils.evaluation.prediction import batched
from utils.evaluation.road import impute
from utils.explainers.infillers import infill
from utils.explainers.topk import top_k_mask


def mean_se(values) -> tuple[float, float]:
    """Mean and standard error of the mean (0 for fewer than 2 values)."""
    v = np.asarray(values, np.float64)
    if v.size < 2:
        return float(v.mean()) if v.size else float("nan"), 0.0
    return float(v.mean()), float(v.std(ddof=1) / np.sqrt(v.size))


class Judge:
    """A classifier used as a judge: its predictions and label probabilities on batches of images."""

    def __init__(self, name: str, model, batch_size: int = 500):
        self.name, self.model, self.batch_size = name, model, batch_size
        self._probs = tf.function(lambda x: tf.nn.softmax(tf.cast(model(x, training=False), tf.float32)),
                                  reduce_retracing=True)

    def probabilities(self, images) -> np.ndarray:
        return batched(self._probs, images, batch_size=self.batch_size)

    def correct(self, images, labels) -> np.ndarray:
        return self.probabilities(images).argmax(axis=1) == np.asarray(labels)

    def label_probability(self, images, labels) -> np.ndarray:
        return self.probabilities(images)[np.arange(len(labels)), np.asarray(labels)]


def fill(x, keep, infiller, seeds):
    """x with the pixels where `keep` (n, H, W) is False replaced by the in-filler (no noise of ours)."""
    keep = tf.constant(np.asarray(keep, np.float32)[..., None])
    return infill(tf.constant(x), keep, infiller, tf.constant(np.asarray(seeds, np.int32))).numpy()


def keep_and_remove(judges, x, labels, mask, infiller, seeds) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per judge and image: is it right with only the kept pixels, and with the kept pixels removed?
    (Each in-filled image is made once, for all judges.)"""
    kept, removed = fill(x, mask, infiller, seeds), fill(x, ~mask, infiller, seeds)
    return {judge.name: (judge.correct(kept, labels), judge.correct(removed, labels)) for judge in judges}


def curve_area(values, budgets) -> np.ndarray:
    """Per image: the trapezoid area of `values` (n, K) against log10(budgets), over the log range."""
    t = np.log10(np.asarray(budgets, np.float64))
    if len(t) == 1:
        return np.asarray(values)[:, 0]
    return np.trapezoid(values, t, axis=1) / (t[-1] - t[0])


def insertion_deletion(judges, x, labels, masks_by_budget, budgets, noise: float = 0.01, seed: int = 0) -> dict:
    """{judge name: (insertion areas (n,), deletion areas (n,))} from ROAD-imputed images.

    `masks_by_budget`: one boolean (n, H, W) mask per budget of the sweep (the top b of a ranking).
    """
    inserted = [impute(x, m, noise, seed + i) for i, m in enumerate(masks_by_budget)]
    deleted = [impute(x, ~m, noise, seed + 1000 + i) for i, m in enumerate(masks_by_budget)]
    out = {}
    for judge in judges:
        ins = np.stack([judge.label_probability(images, labels) for images in inserted], axis=1)
        dele = np.stack([judge.label_probability(images, labels) for images in deleted], axis=1)
        out[judge.name] = (curve_area(ins, budgets), curve_area(dele, budgets))
    return out


def leakage_correct(masks, labels, probe, folds: int = 5, epochs: int = 100, seed: int = 0) -> np.ndarray:
    """Per image: does a mask-only probe (`LeakageProbe`, built with 1 epoch), trained for `epochs`
    passes over the other folds' masks, name its label?"""
    masks, labels = np.asarray(masks, bool), np.asarray(labels)
    order = np.random.default_rng(seed).permutation(len(labels))
    correct = np.zeros(len(labels), bool)
    for fold in np.array_split(order, folds):
        train = np.setdiff1d(order, fold)
        correct[fold] = probe.predict(masks[train], labels[train], masks[fold], repeat=epochs) == labels[fold]
    return correct


def ground_truth(scores, evidence) -> dict:
    """Per image TPR, FDR at k = |evidence| kept pixels, and the pointing game (see module doc)."""
    evidence = np.asarray(evidence, bool)
    k = evidence.sum(axis=(1, 2))
    kept = top_k_mask(scores, k)
    hits = (kept & evidence).sum(axis=(1, 2))
    flat = np.asarray(scores).reshape(len(scores), -1)
    top = np.argmax(flat, axis=1)   # the first of equal maxima, as top_k_mask breaks ties
    return {"tpr": hits / np.maximum(k, 1), "fdr": (k - hits) / np.maximum(k, 1),
            "pointing": evidence.reshape(len(evidence), -1)[np.arange(len(top)), top]}


def precision(mask, evidence) -> np.ndarray:
    """Per image: |mask & evidence| / |mask|, the share of the kept pixels on the evidence; 0 for an empty
    mask (see module doc)."""
    mask, evidence = np.asarray(mask, bool), np.asarray(evidence, bool)
    kept = mask.sum(axis=(1, 2))
    return (mask & evidence).sum(axis=(1, 2)) / np.maximum(kept, 1)


def mask_ground_truth(mask, evidence) -> dict:
    """TPR and FDR of a binary mask as it is (its own size), per image."""
    mask, evidence = np.asarray(mask, bool), np.asarray(evidence, bool)
    hits = (mask & evidence).sum(axis=(1, 2))
    return {"tpr": hits / np.maximum(evidence.sum(axis=(1, 2)), 1),
            "fdr": (mask.sum(axis=(1, 2)) - hits) / np.maximum(mask.sum(axis=(1, 2)), 1)}
