"""Train the hider as an autoencoder, to start Hide-and-Seek from a hider that has seen the data.

    python pretrain_hider.py --config mnist-5k

Writes a PNG of test reconstructions to results/<config>/hider/<identifier>/.
"""
from utils.cli import run
from utils.config import parse_config


def main(argv):
    cfg, _ = parse_config(argv, "pretrain_hider.py", __doc__)
    from utils.data import to_float
    from utils.paths import run_paths
    from utils.plotting import reconstructions
    from utils.training import pretrain

    paths = run_paths(cfg, "hider")
    model, data = pretrain(cfg, "hider", paths)
    if not cfg.debug:
        x = to_float(data.test.x[:8])
        reconstructions(x.numpy(), model(x, training=False).numpy(), paths.results / "reconstructions.png")
        print(f"hider weights: {paths.weights}/best.weights.h5 (lowest validation loss), final.weights.h5")
        print(f"reconstructions: {paths.results}/reconstructions.png")


if __name__ == "__main__":
    run(main)
