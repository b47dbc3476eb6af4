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
from utils.config import COMMON, EVALX, EXPLAIN, FAITH, HNS, parse_config, run
from utils.stages.process import start_process


def main(argv):
    cfg = start_process(parse_config(argv, "faithfulness.py", __doc__, groups=(COMMON, HNS, EVALX, EXPLAIN, FAITH)))
    # deferred: TensorFlow start-up, --help stays fast
    from utils.stages.faithfulness import benchmark_inputs, load_benchmark_data, run_benchmark
    from utils.stages.judge import judge_classifier
    from utils.stages.runs import hns_model_type, locked

    inputs = benchmark_inputs(cfg)
    with locked(cfg, hns_model_type(cfg)):
        loaded = load_benchmark_data(cfg, inputs)
        judge = judge_classifier(cfg, inputs.evaluator, inputs.evaluator_weights, inputs.seeker, loaded.data,
                                 loaded.judge_infiller)
        run_benchmark(cfg, inputs, loaded, judge)


if __name__ == "__main__":
    run(main)
