"""Train a Hide-and-Seek model: a hider masks the input, a seeker classifies what is left.

    python collaborative_training.py --config mnist-5k \
        --hider_weights weights/mnist-5k/hider/default/best.weights.h5 \
        --seeker_weights weights/mnist-5k/seeker/default/best.weights.h5

Without --alpha, alpha adapts: it starts at 1.0 and drops by --alpha_step whenever the
monitored loss reaches a plateau, saving alpha_<a>.weights.h5 each time.
Outputs: weights|logs|results/<config>/hns/<deterministic|stochastic/<estimator>>/<identifier>/.
"""
from utils.cli import run
from utils.config import COMMON, HNS, parse_config


def main(argv):
    cfg, _ = parse_config(argv, "collaborative_training.py", __doc__, groups=(COMMON, HNS))
    from utils.collaborative import build_hns, claim_runs, train_hns
    from utils.data import load_data
    from utils.metrics import read_baseline
    from utils.paths import hns_model_type, run_paths
    from utils.training import seed_everything

    baseline = read_baseline(cfg.baseline) if cfg.baseline else None
    runs = [None] if cfg.num_trainings == 1 else list(range(1, cfg.num_trainings + 1))
    all_paths = [run_paths(cfg, hns_model_type(cfg), run) for run in runs]
    seed_everything(cfg.seed)
    data = load_data(cfg)
    build_hns(cfg, data.image_shape, data.num_classes)  # bad start weights fail here, before any run is touched
    todo = list(zip(runs, all_paths)) if cfg.debug else claim_runs(cfg, runs, all_paths)
    for run_index, paths in todo:
        seed = cfg.seed + (run_index or 1) - 1
        seed_everything(seed)
        result = train_hns(cfg, data, paths, baseline, seed)
        print(f"trained in {result.seconds:.0f} s ({result.images_per_second:.0f} images/s); "
              f"alpha steps: {[(s, round(a, 2)) for s, a in result.alpha_history]}")
        if not cfg.debug:
            print(f"weights: {paths.weights}\nTensorBoard: tensorboard --logdir {paths.logs}")
    if cfg.evaluate and not cfg.debug:
        import evaluation

        evaluation.main(argv)


if __name__ == "__main__":
    run(main)
