"""Train the seeker (the classifier) alone: the starting point of Hide-and-Seek and its baseline.

    python pretrain_seeker.py --config mnist-5k
"""
from utils.cli import run
from utils.config import parse_config


def main(argv):
    cfg, _ = parse_config(argv, "pretrain_seeker.py", __doc__)
    from utils.paths import run_paths
    from utils.training import pretrain

    paths = run_paths(cfg, "seeker")
    model, data = pretrain(cfg, "seeker", paths)
    if not cfg.debug:
        print(f"seeker weights: {paths.weights}/best.weights.h5 (best validation accuracy), final.weights.h5")
        print(f"TensorBoard: tensorboard --logdir {paths.logs}")


if __name__ == "__main__":
    run(main)
