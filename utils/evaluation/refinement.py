"""Refinement from the HnS mask (explain.py --start hns, faithfulness.py --refine_steps): the start, the
refining explainer and the name of its row or run.

Semi-amortised explanation (Kim et al. 2018, "Semi-Amortized Variational Autoencoders", ICML: per-image
optimisation started from an amortised guess): the hider's one-pass logits h are the start, and BBMP
(Fong & Vedaldi 2017) or FIDO (Chang et al. 2019) run K steps from them on the pretrained seeker
(`utils.explainers.masks` holds the objectives and the schedule over K steps). The top-k objective
keeps each image's HnS budget, k_i = max(1, pixels the HnS mask keeps), so the refined mask is judged
against the HnS mask at the same size; the method's own objective (SSR/SDR) keeps its area penalty.
A refinement's time per image is the hider's pass plus its K steps: making the start is part of its
cost.
"""
from __future__ import annotations

import time

import numpy as np

TOPK = "topk"
HNS_START = "hns"
# What faithfulness.py's refinement rows refine: BBMP's deterministic mask (the top-k objective is deterministic,
# and BBMP-SSR is the per-image method the HnS mask is compared with).
REFINED = "bbmp-ssr"


def refined_name(start: str, steps: int, method: str | None = None) -> str:
    """The row (faithfulness.py) or run (explain.py) name of a refinement: '<start>+refine<K>' on the top-k
    objective, '<start>+refine<K>-<method>' on `method`'s own."""
    return f"{start}+refine{steps}" + (f"-{method}" if method else "")


def load_hns(cfg, data, checkpoint):
    """The HideAndSeek model of the flags, with the weights of `checkpoint`."""
    from networks.build import build_hns
    from networks.weights import load_weights
    from utils.config.arguments import hns_arguments

    hns = build_hns(data.image_shape, data.num_classes, **hns_arguments(cfg, start_weights=False))
    load_weights(hns, checkpoint)
    return hns


def hider_pass(hns, x) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(binary mask, keep probability, logits), each (n, H, W), of the hider on images x, and the seconds per
    image of one compiled pass (traced first for this batch shape, so that the timed call does not trace)."""
    import tensorflow as tf

    compiled = tf.function(lambda images: hns.mask(images, training=False))
    compiled(tf.constant(x))
    start = time.perf_counter()
    mask, probability, logits = (t.numpy()[..., 0] for t in compiled(tf.constant(x)))
    return mask, probability, logits, (time.perf_counter() - start) / len(x)


def refine(cfg, method: str, objective: str, seeker, x, start, mask, steps: int, train=None, autoencoder=None,
           seeds=None):
    """`method` (fido-* or bbmp-*) run for `steps` from the logits `start` (n, H, W) on `seeker`, with its own
    objective or, `objective` "topk", the top-k objective at each image's pixels of the binary `mask` (at
    least 1); the explainer's settings are the flags' (`explainer_arguments`), its iterations `steps`, no grid."""
    from utils.config.arguments import explainer_arguments
    from utils.explainers.factory import build_explainer

    # a start has one logit per pixel: the grid of a preset's FIDO/BBMP does not apply
    settings = {**explainer_arguments(cfg, method), "epochs": steps, "grid": None}
    if objective == TOPK:
        settings["objective"] = TOPK
    explainer = build_explainer(method, seeker, train, autoencoder, **settings)
    budget = np.maximum(1, np.asarray(mask > 0.5).sum(axis=(1, 2))) if objective == TOPK else None
    return explainer.explain(x, seeds=seeds, start=start, budget=budget)
