"""Contrastive explanations (CEM) of a trained seeker on test images: pertinent positives and negatives.

    python explain.py --config mnist-5k [--mode PP|PN] [--n 10] [--sample_from_class K] [--no_ae]

Explains the first --n test images (of class K with --sample_from_class) with the seeker of
--seeker_weights (default: the pretrained seeker of the preset and identifier), both PP and PN
unless --mode picks one. The autoencoder term uses the pretrained hider autoencoder
(--hider_weights, default: that of pretrain_hider.py); --no_ae drops it (gamma 0). Defaults are
the MNIST settings of the CEM paper: kappa 0, beta 0.1, gamma 100, c_init 1, c_steps 10,
max_iterations 1000, learning rate 1e-2. The seeker outputs logits: kappa is a logit margin, and
--learning_rate here is CEM's initial learning rate, not Adam's.

Every returned PP/PN is checked by running the seeker on it again. Writes to
results/<config>/explanations/<identifier>/: explanations.json (settings, summary, per image:
label, X_pred, and per mode found, pred, c, l0, l1, l2), explanations[_<page>].png (rows of
input | PP | PN) and, with --save_every, savepoints_<mode>.npz. --debug writes nothing.
"""
from utils.cli import run
from utils.config import parse_config
from utils.errors import UsageError

EXTRA = [
    ("mode", dict(choices=("PP", "PN"), help="Explain only pertinent positives or negatives (default: both).")),
    ("kappa", dict(type=float, help="Confidence margin >= 0 on the seeker's logits (default 0).")),
    ("beta", dict(type=float, help="L1 weight: the shrinkage threshold (default 0.1).")),
    ("gamma", dict(type=float, help="Weight of the autoencoder term (default 100).")),
    ("c_init", dict(type=float, help="Initial weight c of the attack term (default 1).")),
    ("c_steps", dict(type=int, help="Steps of the search on c (default 10).")),
    ("max_iterations", dict(type=int, help="FISTA iterations per c step (default 1000).")),
    ("no_ae", dict(action="store_true", help="No autoencoder term (gamma 0); no hider weights needed.")),
    ("n", dict(type=int, help="Number of test images to explain (default 10).")),
    ("sample_from_class", dict(type=int, metavar="K", help="Take the first --n test images of true class K.")),
    ("save_every", dict(type=int, help="Keep the iterates every N iterations of each c step in "
                        "savepoints_<mode>.npz.")),
]
SETTINGS = ("kappa", "beta", "gamma", "c_init", "c_steps", "max_iterations")


def _typed(argv, name):
    """Whether the user gave --name (argparse also takes a unique prefix such as --learning)."""
    flag = f"--{name}"
    return any(a.startswith("--") and len(a.split("=")[0]) > 2 and flag.startswith(a.split("=")[0])
               for a in argv)


def _check_class(cls, num_classes):
    if cls is not None and (cls < 0 or num_classes is not None and cls >= num_classes):
        upper = "" if num_classes is None else f" (at most {num_classes - 1})"
        raise UsageError(f"--sample_from_class must be a class index >= 0{upper}, got {cls}")


def main(argv):
    cfg, opts = parse_config(argv, "explain.py", __doc__, extra=EXTRA)
    from utils.contrastive_report import MNIST_SETTINGS, check_settings
    from utils.paths import default_hider_weights, default_seeker_weights, run_paths

    settings = {**MNIST_SETTINGS, **{k: getattr(opts, k) for k in SETTINGS if hasattr(opts, k)}}
    # The common --learning_rate is Adam's: only a typed one replaces CEM's own default.
    if _typed(argv, "learning_rate"):
        settings["learning_rate_init"] = cfg.learning_rate
    if getattr(opts, "no_ae", False):
        if settings["gamma"] > 0 and hasattr(opts, "gamma"):
            raise UsageError("--no_ae and --gamma > 0 exclude each other: drop one")
        settings["gamma"] = 0.0
    if hasattr(opts, "save_every"):
        settings["save_every"] = opts.save_every
    settings = check_settings(settings)
    n, cls = getattr(opts, "n", 10), getattr(opts, "sample_from_class", None)
    if n < 1:
        raise UsageError(f"--n must be >= 1, got {n}")
    _check_class(cls, cfg.num_classes)
    seeker_path = cfg.seeker_weights or str(default_seeker_weights(cfg))
    if cfg.seeker_weights is None and not default_seeker_weights(cfg).is_file():
        raise UsageError(f"no seeker weights at {seeker_path}: run pretrain_seeker.py --config {cfg.config} "
                         f"--identifier {cfg.identifier} first, or pass --seeker_weights PATH")
    hider_path = None
    if settings["gamma"] > 0:
        hider_path = cfg.hider_weights or str(default_hider_weights(cfg))
        if cfg.hider_weights is None and not default_hider_weights(cfg).is_file():
            raise UsageError(f"no hider autoencoder at {hider_path}: run pretrain_hider.py --config {cfg.config} "
                             f"--identifier {cfg.identifier} first, pass --hider_weights PATH, or use --no_ae")
    modes = [opts.mode] if hasattr(opts, "mode") else ["PP", "PN"]

    import numpy as np

    from networks.seeker import build_seeker
    from utils.config import as_dict
    from utils.contrastive_report import (draw_rows, explain, explanation_cells, image_records,
                                          load_autoencoder, page_paths, save_savepoints, summarize)
    from utils.data import load_data, to_float
    from utils.io import atomic_write_json, claim_run
    from utils.weights import load_weights

    data = load_data(cfg)
    _check_class(cls, data.num_classes)
    indices = np.arange(len(data.test)) if cls is None else np.flatnonzero(data.test.y == cls)
    if len(indices) < n:
        raise UsageError(f"--n {n}: only {len(indices)} test images" + (f" of class {cls}" if cls is not None else "")
                         + f"; use --n {len(indices)} or less")
    indices = indices[:n]
    seeker = build_seeker(cfg.model, data.image_shape, data.num_classes)
    load_weights(seeker, seeker_path)
    autoencoder = load_autoencoder(cfg.model, data.image_shape, hider_path) if hider_path else None
    paths = run_paths(cfg, "explanations")
    if not cfg.debug:
        claim_run(paths, overwrite=cfg.overwrite)

    x, labels = to_float(data.test.x[indices]).numpy(), data.test.y[indices]
    explanations = {mode: explain(seeker, x, mode, settings, autoencoder) for mode in modes}
    summary = {mode: summarize(seeker, exp) for mode, exp in explanations.items()}
    first = explanations[modes[0]]
    print(f"{n} test images, seeker accuracy {np.mean(first.X_pred == labels):.3f}")
    for mode, s in summary.items():
        print(f"{mode}: found for {s['found']}/{s['images']} ({s['found_rate']:.1%}); re-run: "
              f"{s['verified']}/{s['found']} {s['verification']}; mean L0 {s['mean_l0'] or 0:.1f} "
              f"({s['nonzero_share'] or 0:.1%} of the entries), mean L1 {s['mean_l1'] or 0:.2f}"
              + (f"; {s['empty']} empty" if mode == "PP" else ""))
    if cfg.debug:
        return
    results = paths.results
    rows = [[(x[i], f"#{indices[i]}: label {labels[i]}, pred {first.X_pred[i]}", first.X_pred[i] == labels[i]),
             *explanation_cells(explanations, i)] for i in range(n)]
    pages = page_paths(results, "explanations", n)
    for path, page in pages:
        draw_rows(rows[page], path, title=f"CEM of {seeker_path} ({cfg.config})")
    for mode, exp in explanations.items():
        if exp.savepoints:
            save_savepoints(results / f"savepoints_{mode}.npz", exp, indices)
    atomic_write_json(results / "explanations.json", {
        "settings": {**settings, "modes": modes, "autoencoder": hider_path, "seeker": seeker_path},
        "config": as_dict(cfg), "summary": summary,
        "images": image_records(explanations, labels, indices),
    })
    print(f"explanations: {results}/explanations.json, {', '.join(p.name for p, _ in pages)}")


if __name__ == "__main__":
    run(main)
