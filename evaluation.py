"""Evaluate a trained Hide-and-Seek run: Fidelity, Interpretability, leakage, figures.

    python evaluation.py [--config PRESET] [--identifier ID] [--stochastic --estimator st1 ...]

Picks the run with the same flags as collaborative_training.py, evaluates every per-alpha
checkpoint (per-budget with --mask_mode topk) and the final weights on the whole test split (and
the validation split, which alone chooses the recommended checkpoint), and writes evaluation.json,
evaluation.csv and PNG figures to results/<config>/hns/.../<identifier>/. See utils/evaluation/ for the
definition of every figure.
"""
from utils.config import COMMON, EVAL, HNS, parse_config, run
from utils.stages.process import start_process


def main(argv):
    cfg = start_process(parse_config(argv, "evaluation.py", __doc__, groups=(COMMON, HNS, EVAL)))
    # deferred: TensorFlow start-up, --help stays fast
    from utils.stages.evaluation import evaluate

    evaluate(cfg)


if __name__ == "__main__":
    run(main)
