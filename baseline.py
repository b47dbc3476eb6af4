"""Accuracy of a trained seeker on the whole test split: the baseline that Fidelity divides by.

    python baseline.py [--config PRESET] [--seeker_weights PATH]

The seeker is the pretrained one of the preset and identifier unless --seeker_weights names another.

Writes results/<config>/seeker/<identifier>/baseline.json (and baseline.txt, the bare accuracy).
"""
from utils.config import as_dict, parse_config, run
from utils.errors import UsageError
from utils.runs import atomic_write_json, atomic_write_text
from utils.stages.process import start_process
from utils.stages.runs import default_seeker_weights, locked, run_paths, seeker_model_type


def main(argv):
    cfg = start_process(parse_config(argv, "baseline.py", __doc__))
    weights = cfg.seeker_weights or str(default_seeker_weights(cfg))
    if cfg.seeker_weights is None and not default_seeker_weights(cfg).is_file():
        raise UsageError(f"no seeker weights at {weights}: run pretrain_seeker.py --config {cfg.config} "
                         f"--identifier {cfg.identifier} first, or pass --seeker_weights PATH")

    # deferred: TensorFlow start-up, --help stays fast
    from networks.build import load_seeker
    from utils.evaluation import measure_baseline
    from utils.stages.data import load_data

    data = load_data(cfg)
    seeker = load_seeker(cfg.seeker_architecture, data.image_shape, data.num_classes, weights)
    with locked(cfg, seeker_model_type(cfg)):
        record = measure_baseline(seeker, data, cfg.batch_size)
        print(f"baseline accuracy: {record['accuracy']:.4f} on {record['test_images']} test images "
              f"(validation: {record['val_accuracy']:.4f} on {record['val_images']})")
        if cfg.debug:
            return
        paths = run_paths(cfg, seeker_model_type(cfg))
        atomic_write_text(paths.results / "baseline.txt", f"{record['accuracy']}\n")
        atomic_write_json(paths.baseline, {**record, "weights": weights, "config": as_dict(cfg)})
        print(f"baseline: {paths.baseline}")


if __name__ == "__main__":
    run(main)
