"""Train a one-pass explainer of a classifier you already have: a hider trained against the frozen classifier.

    python train_explainer.py [--config PRESET] [--classifier MODEL.keras] [--explainer_start hns]
    python explain.py [--config PRESET] --method amortised [--classifier MODEL.keras] [--n 10]

The classifier is --classifier (a Keras model file from images to logits, trained on the preset's data)
or else the pretrained seeker (pretrain_seeker.py, or --seeker_weights). It is never updated: only the
hider learns, over the training images, to keep the --explainer_budget share of the pixels from which the
classifier still predicts its own class for the image, with the preset's in-fill (the judges') and
objective terms: the objective of BBMP and FIDO, amortised over the data set (Dabkowski & Gal 2017;
formula in utils/explainers/amortised.py). The hider starts from the Hide-and-Seek run's hider
(--explainer_start hns, the run the HnS flags name, as for faithfulness.py), the pretrained hider
autoencoder (autoencoder) or random weights (scratch). Afterwards one forward pass explains any image
(explain.py --method amortised; faithfulness.py scores it as the row `amortised`), and BBMP can refine
its logits per image (explain.py --method bbmp-ssr --start amortised --steps K).

Writes to weights/<config>/amortised[+<variant>]/<identifier>/ (the whole model's weights per epoch, the
hider's and the frozen classifier's), with its logs and history; a killed run continues from its last
saved epoch. --debug writes nothing.
"""
from utils.config import AMORTISED, COMMON, HNS, parse_config, run
from utils.stages.process import start_process


def main(argv):
    cfg = start_process(parse_config(argv, "train_explainer.py", __doc__, groups=(COMMON, HNS, AMORTISED)))
    # deferred: TensorFlow start-up, --help stays fast
    from utils.stages.amortised import train_amortised
    from utils.stages.data import load_data

    train_amortised(cfg, load_data(cfg))


if __name__ == "__main__":
    run(main)
