"""Explain a trained seeker's decisions on test images with a post-hoc method or CEM.

    python explain.py [--config PRESET] --method fido-ssr [--n 10] [--sample_from_class K] [--infiller local-mean]

Methods (--method): fido-ssr, fido-sdr (FIDO's smallest sufficient / destroying region with an
in-filler), bbmp-ssr, bbmp-sdr (meaningful perturbation, a deterministic mask), gradient,
gradient-input, integrated-gradients, smoothgrad, occlusion, cem-pp, cem-pn (CEM's pertinent
positive / negative), and sobel (the image's Sobel edge magnitude: model-free, the floor of
known-evidence benchmarks). Each explains the first --n test images (of class K with
--sample_from_class) with the seeker of --seeker_weights (default: the pretrained seeker of the
preset and identifier), for the class the seeker predicts. --infiller fills dropped pixels
(zero, mean, local-mean, blur, noise, autoencoder: the pretrained hider, --hider_weights).
The formulas and defaults are in utils/explainers/; a typed --learning_rate is the method's
(FIDO/BBMP 0.05, CEM 1e-2), the preset's is Adam's and is not used here.

    python explain.py [--config PRESET] --method bbmp-ssr --start hns --steps 30 [--refine_objective topk]

refines each image's mask from the logits of the HnS run that the Hide-and-Seek flags name (as for
evaluation.py and faithfulness.py; its checkpoint recommended by evaluation.json, else its final
weights): --steps iterations of FIDO or BBMP with the method's own objective, or with the budget
mode's top-k objective at the HnS mask's pixels per image (bbmp-ssr). Its run is named
<start>+refine<K>[-<method>]; its time per image includes the hider's pass.

Writes to results/<config>/explanations/<method>/<identifier>/: explanations.json (settings and,
per image, target, final loss, pixels kept at the method's own threshold and at --budget, the
seeker's class on the in-filled image, seconds) and explanations[_<page>].png (input | score map |
kept pixels at --budget | in-filled image with the seeker's class). --debug writes nothing.
"""
from utils.config import AMORTISED, COMMON, EXPLAIN, HNS, parse_config, run
from utils.stages.process import start_process


def main(argv):
    cfg = start_process(parse_config(argv, "explain.py", __doc__, groups=(COMMON, HNS, EXPLAIN, AMORTISED)))
    # deferred: TensorFlow start-up, --help stays fast
    from utils.stages.explain import explain_images

    explain_images(cfg)


if __name__ == "__main__":
    run(main)
