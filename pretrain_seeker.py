"""Train the seeker (the classifier) alone: the starting point of Hide-and-Seek and its baseline.

    python pretrain_seeker.py [--config PRESET] [--random_masks]

With --random_masks the seeker learns from randomly masked images instead (EVAL-X: each image keeps
a random share U(--evalx_min_rate, 1) of its pixels, or of the cells of an --evalx_grid grid, the
rest zero), into seeker-random/<identifier>: the frozen seeker of collaborative_training.py
--seeker_training frozen (REAL-X). --seeker_weights starts either kind of seeker from those weights
(from scratch a random-mask seeker can stay at chance for many epochs). Writes
weights|logs/<config>/seeker[-random][+<seeker_model>]/<identifier>/.
A run that was killed continues from its last completed epoch when the same command is run again.
"""
from utils.config import COMMON, EVALX, PRETRAIN, parse_config, run
from utils.stages.process import start_process


def main(argv):
    cfg = start_process(parse_config(argv, "pretrain_seeker.py", __doc__, groups=(COMMON, PRETRAIN, EVALX)))
    # deferred: TensorFlow start-up, --help stays fast
    from utils.stages.pretraining import pretrain, pretrain_random_masks

    _, _, paths = pretrain_random_masks(cfg) if cfg.random_masks else pretrain(cfg, "seeker")
    if not cfg.debug:
        print(f"seeker weights: {paths.best} (best validation accuracy), {paths.final.name}")
        print(f"TensorBoard: tensorboard --logdir {paths.logs}")


if __name__ == "__main__":
    run(main)
