"""Train the hider as an autoencoder, to start Hide-and-Seek from a hider that has seen the data.

    python pretrain_hider.py [--config PRESET]

The hider of --model and --hider_decoder learns to reconstruct its input; its weights start
collaborative_training.py's hider (--hider_weights) and give CEM its reconstruction term. Writes a
PNG of test reconstructions to results/<config>/hider/<identifier>/. A run that was killed continues
from its last completed epoch when the same command is run again.
"""
from utils.config import parse_config, run
from utils.stages.process import start_process


def main(argv):
    cfg = start_process(parse_config(argv, "pretrain_hider.py", __doc__))
    # deferred: TensorFlow start-up, --help stays fast
    from utils.evaluation.prediction import as_float_images
    from utils.reporting.plotting import reconstructions
    from utils.stages.pretraining import pretrain

    model, data, paths = pretrain(cfg, "hider")
    if not cfg.debug:
        x = as_float_images(data.test.x[:8])
        reconstructions(x, model(x, training=False).numpy(), paths.results / "reconstructions.png")
        print(f"hider weights: {paths.best} (lowest validation loss), {paths.final.name}")
        print(f"reconstructions: {paths.results / 'reconstructions.png'}")


if __name__ == "__main__":
    run(main)
