"""Faithfulness benchmark: Hide-and-Seek masks against every post-hoc method, judged independently.

    python faithfulness.py [--config PRESET] [--identifier ID] [--methods all] [--faith_images 200]

Scores the HnS run of the usual flags (its recommended checkpoint from evaluation.json, or
--checkpoint) and every method of explain.py on the pretrained seeker, on the first
--faith_images test images: keep and remove accuracy at each image's HnS budget and at the
--budgets sweep, under two judges that never made a mask (an EVAL-X evaluator trained on random
masks, at weights/<config>/evalx/<evaluator>/, trained here with --max_epochs when missing, and
the frozen pretrained seeker); insertion and deletion areas with ROAD imputation; mask-only
leakage; seconds per image; on data with known evidence (the patches preset, a folder with
evidence masks) TPR, FDR and the pointing game. The judge is checked first, on whole images, random
pixels, random cells of its grid and, where known, the evidence alone; one no better than chance on
whole images is refused. --refine_steps 3,10,30 adds rows hns+refine<K>: BBMP run K steps from the
hider's logits on the pretrained seeker (--refine_objectives: the budget mode's top-k objective, BBMP-SSR's
own, or both), timed with the hider's pass. Writes faithfulness.json/.csv and two figures to the HnS run's
results folder.
Definitions: utils/evaluation/faithfulness.py.
"""
from utils.config import COMMON, EVALX, EXPLAIN, FAITH, HNS, parse_config, run, start_process


def main(argv):
    cfg = start_process(parse_config(argv, "faithfulness.py", __doc__, groups=(COMMON, HNS, EVALX, EXPLAIN, FAITH)))
    from utils.evaluation.benchmark import run_benchmark

    run_benchmark(cfg)


if __name__ == "__main__":
    run(main)
