"""Refinement from the HnS mask (explain.py --start hns, faithfulness.py --refine_steps): the start and the
name of its row or run (`utils.stages.explain.refine` runs the refining explainer).

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
import tensorflow as tf

TOPK = "topk"
HNS_START = "hns"
# What faithfulness.py's refinement rows refine: BBMP's deterministic mask (the top-k objective is deterministic,
# and BBMP-SSR is the per-image method the HnS mask is compared with).
REFINED = "bbmp-ssr"


def refined_name(start: str, steps: int, method: str | None = None) -> str:
    """The row (faithfulness.py) or run (explain.py) name of a refinement: '<start>+refine<K>' on the top-k
    objective, '<start>+refine<K>-<method>' on `method`'s own."""
    return f"{start}+refine{steps}" + (f"-{method}" if method else "")


def hider_pass(hns, x) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(binary mask, keep probability, logits), each (n, H, W), of the hider on images x, and the seconds per
    image of one compiled pass (traced first for this batch shape, so that the timed call does not trace)."""
    compiled = tf.function(lambda images: hns.mask(images, training=False))
    compiled(tf.constant(x))
    start = time.perf_counter()
    mask, probability, logits = (t.numpy()[..., 0] for t in compiled(tf.constant(x)))
    return mask, probability, logits, (time.perf_counter() - start) / len(x)
