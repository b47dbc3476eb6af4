"""Accuracy of a trained seeker on the whole test split: the baseline that Fidelity divides by.

    python baseline.py --config mnist-5k [--seeker_weights PATH]

Writes results/<config>/seeker/<identifier>/baseline.json (and baseline.txt, the bare accuracy).
"""
from utils.cli import run
from utils.config import parse_config
from utils.errors import UsageError


def main(argv):
    cfg, _ = parse_config(argv, "baseline.py", __doc__)
    from utils.paths import default_seeker_weights, run_paths

    weights = cfg.seeker_weights or str(default_seeker_weights(cfg))
    if cfg.seeker_weights is None and not default_seeker_weights(cfg).is_file():
        raise UsageError(f"no seeker weights at {weights}: run pretrain_seeker.py --config {cfg.config} "
                         f"--identifier {cfg.identifier} first, or pass --seeker_weights PATH")

    import numpy as np

    from networks.seeker import build_seeker
    from utils.config import as_dict
    from utils.data import load_data
    from utils.io import atomic_write_json, atomic_write_text
    from utils.metrics import predict_classes
    from utils.weights import load_weights

    data = load_data(cfg)
    model = build_seeker(cfg.model, data.image_shape, data.num_classes)
    load_weights(model, weights)
    preds = predict_classes(model, data.test, cfg.batch_size)
    accuracy = float(np.mean(preds == data.test.y))
    # The validation accuracy lets evaluation.py judge Fidelity on validation data alone.
    val_accuracy = float(np.mean(predict_classes(model, data.val, cfg.batch_size) == data.val.y))
    print(f"baseline accuracy: {accuracy:.4f} on {len(preds)} test images "
          f"(validation: {val_accuracy:.4f} on {len(data.val)})")
    if cfg.debug:
        return
    results = run_paths(cfg, "seeker").results
    atomic_write_json(results / "baseline.json", {
        "accuracy": accuracy, "test_images": len(preds), "correct": int(np.sum(preds == data.test.y)),
        "val_accuracy": val_accuracy, "val_images": len(data.val),
        "weights": weights, "config": as_dict(cfg),
    })
    atomic_write_text(results / "baseline.txt", f"{accuracy}\n")
    print(f"baseline: {results}/baseline.json")


if __name__ == "__main__":
    run(main)
