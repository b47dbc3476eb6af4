"""Evaluate a trained Hide-and-Seek run: Fidelity, Interpretability, leakage, figures.

    python evaluation.py --config mnist-5k [--identifier ID] [--stochastic --estimator st1 ...]

Picks the run with the same flags as collaborative_training.py, evaluates every per-alpha
checkpoint and the final weights on the whole test split (and the validation split, which
alone chooses the recommended checkpoint), and writes evaluation.json, evaluation.csv and
PNG figures to results/<config>/hns/.../<identifier>/. See utils/evaluation.py for the
definition of every figure.
"""
from utils.cli import run
from utils.config import COMMON, HNS, parse_config

EXTRA = [
    ("min_fidelity", dict(type=float, metavar="F", help="Recommended checkpoint: validation Fidelity floor "
                          "(default 0.98).")),
    ("fidelity_se", dict(type=float, metavar="K", help="A checkpoint meets the floor when its validation F "
                         "plus K standard errors (binomial, from the validation split's size) reaches it; "
                         "0 makes the floor hard (default 1).")),
    ("leakage_epochs", dict(type=int, metavar="N", help="Epochs of the mask-only leakage classifier; 0 skips "
                            "it (default 3).")),
    ("examples", dict(type=int, metavar="N", help="Test images in each mask figure (default 8).")),
    ("cem_images", dict(type=int, metavar="N", help="Test images explained with CEM (PP and PN) on the "
                        "pretrained and the HnS seeker at the recommended checkpoint; 0 skips (default 10).")),
    ("cem_c_steps", dict(type=int, metavar="N", help="CEM c search steps for that comparison (default 5).")),
    ("cem_iterations", dict(type=int, metavar="N", help="CEM iterations per c step (default 300).")),
]


def main(argv):
    cfg, opts = parse_config(argv, "evaluation.py", __doc__, groups=(COMMON, HNS), extra=EXTRA)
    from utils.report import evaluate

    evaluate(cfg, min_fidelity=getattr(opts, "min_fidelity", 0.98),
             tolerance_se=getattr(opts, "fidelity_se", 1.0),
             leakage_epochs=getattr(opts, "leakage_epochs", 3), examples=getattr(opts, "examples", 8),
             cem=dict(images=getattr(opts, "cem_images", 10), c_steps=getattr(opts, "cem_c_steps", 5),
                      iterations=getattr(opts, "cem_iterations", 300)))


if __name__ == "__main__":
    run(main)
