"""Train the seeker (the classifier) alone: the starting point of Hide-and-Seek and its baseline.

    python pretrain_seeker.py --config mnist-5k

A run that was killed continues from its last completed epoch when the same command is run again.
"""
from utils.config import parse_config, run


def main(argv):
    cfg = parse_config(argv, "pretrain_seeker.py", __doc__)
    from utils.training import pretrain

    _, _, paths = pretrain(cfg, "seeker")
    if not cfg.debug:
        print(f"seeker weights: {paths.best} (best validation accuracy), {paths.final.name}")
        print(f"TensorBoard: tensorboard --logdir {paths.logs}")


if __name__ == "__main__":
    run(main)
