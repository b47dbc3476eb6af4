"""Train a Hide-and-Seek model: a hider masks the input, a seeker classifies what is left.

    python collaborative_training.py [--config PRESET] \
        --hider_weights weights/<config>/hider/<identifier>/best.weights.h5 \
        --seeker_weights weights/<config>/seeker/<identifier>/best.weights.h5

(--hider_weights: the pretrained autoencoder; a hider on the seeker's features, --hider_features,
takes none.) The preset chooses how the mask is sized. --mask_mode threshold (the original): without
--alpha, alpha adapts: it starts at 1.0 and drops by --alpha_step whenever the monitored loss reaches
a plateau, saving alpha_<a>.weights.h5 each time; so the schedule, with --patience, --alpha_step and
--min_alpha, sets the run's length and --max_epochs only caps it (the bounds are printed at start).
--mask_mode topk: every mask keeps exactly a budget of the pixels, lowered from --start_budget to
--final_budget (--budget_schedule), saving budget_<b>.weights.h5 at each budget. A --seeker_weights
whose validation accuracy is within 1.5 times chance is refused (--allow_weak_seeker starts from it
anyway). Outputs: weights|logs|results/<config>/hns/<variant>/<identifier>/, the variant named by the
neuron and mask flags (deterministic, stochastic/<estimator>, topk, ...).
A run that was killed continues from its last completed epoch when the same command is run again.
"""
from utils.config import COMMON, EVAL, EVALX, HNS, parse_config, run
from utils.runs.records import load_baseline
from utils.stages.process import start_process


def main(argv):
    cfg = start_process(parse_config(argv, "collaborative_training.py", __doc__, groups=(COMMON, HNS, EVALX, EVAL)))
    # deferred: TensorFlow start-up, --help stays fast
    from utils.stages.data import load_data
    from utils.stages.evaluation import evaluate
    from utils.stages.hns import train_series
    from utils.seeding import seed_everything

    baseline = load_baseline(cfg.baseline).test if cfg.baseline else None
    seed_everything(cfg.seed)
    train_series(cfg, load_data(cfg), baseline)
    if cfg.evaluate and not cfg.debug:
        evaluate(cfg)


if __name__ == "__main__":
    run(main)
