"""Contrastive explanations (CEM) of a trained seeker on test images: pertinent positives and negatives.

    python explain.py --config mnist-5k [--mode PP|PN] [--n 10] [--sample_from_class K] [--no_ae]

Explains the first --n test images (of class K with --sample_from_class) with the seeker of
--seeker_weights (default: the pretrained seeker of the preset and identifier), both PP and PN
unless --mode picks one. The autoencoder term uses the pretrained hider autoencoder
(--hider_weights, default: that of pretrain_hider.py); --no_ae drops it (gamma 0). Defaults are
the MNIST settings of the CEM paper: kappa 0, beta 0.1, gamma 100, c_init 1, c_steps 10,
max_iterations 1000, learning rate 1e-2. The seeker outputs logits: kappa is a logit margin, and
a typed --learning_rate here is CEM's initial learning rate (the preset's is Adam's, not used).

Every returned PP/PN is checked by running the seeker on it again. Writes to
results/<config>/explanations/<identifier>/: explanations.json (settings, summary, per image:
label, X_pred, and per mode found, pred, c, l0, l1, l2), explanations[_<page>].png (rows of
input | PP | PN) and, with --save_every, savepoints_<mode>.npz. --debug writes nothing.
"""
from utils.config import COMMON, EXPLAIN, parse_config, run


def main(argv):
    cfg = parse_config(argv, "explain.py", __doc__, groups=(COMMON, EXPLAIN))
    from utils.reporting.explanations import explain_cem

    explain_cem(cfg)


if __name__ == "__main__":
    run(main)
