"""Evaluating the checkpoints of a Hide-and-Seek run: Fidelity, Interpretability, leakage.

For every checkpoint (``alpha_<a>.weights.h5`` and ``final.weights.h5``) the whole test split
is classified once per image with the deterministic evaluation mask, and the same is done on
the validation split, which alone decides the recommended checkpoint.

Figures of merit (mask y = 1 where a pixel is kept; foreground = pixels whose largest channel
exceeds ``foreground_threshold``, 0.1 by default, since on MNIST the black background is free
to hide and I alone flatters a model):

    accuracy      share of images classified correctly
    F             accuracy / baseline (the seeker trained alone, same split)
    I             share of input elements hidden, 1 - mean(y)
    I_fg          share of foreground pixels hidden
    FIR           F / (F + I)
    FII, FII_fg   F * I, F * I_fg
    kept_pixels   mean number of kept pixels per image
    all_fg_hidden share of images whose every foreground pixel is hidden

Label leakage: a small CNN trained on the training split's masks alone (no pixels) and scored
on the test masks. Chance is 1 / num_classes. A high score means the mask's *shape* tells the
class. On MNIST a mask that keeps exactly the strokes is itself a digit, so a high score is
expected there; compare it with ``masked_by_seeker``, the accuracy of the independently
trained (frozen) seeker on the masked test images, when seeker weights are available.

Recommended checkpoint: the highest validation FII_fg among checkpoints whose validation
Fidelity (validation accuracy / the seeker's validation accuracy) reaches ``min_fidelity``
within ``tolerance_se`` standard errors of its binomial sampling error (see `recommend`); if
none qualifies, the highest validation FII_fg. Without a baseline the ranking
is by validation accuracy * I_fg (the same ranking, as the baseline is a constant) and no
floor applies. Test figures never enter the choice.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from utils.data import Split, pipeline
from utils.metrics import fidelity, fii, fir


@dataclass
class MaskedPredictions:
    preds: np.ndarray   # (N,) predicted classes
    masks: np.ndarray   # (N, H, W) bool, True = kept
    foreground: np.ndarray  # (N, H, W) bool


def checkpoint_alpha(path: Path) -> float | None:
    m = re.match(r"alpha_([0-9.]+)\.weights\.h5$", Path(path).name)
    return float(m.group(1)) if m else None


def make_infer(model):
    """A compiled (images -> predictions, mask, probability) function of an HnS model."""
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def infer(x):
        y, p, _ = model.mask(x, training=False)
        return tf.argmax(model.seeker(x * y, training=False), axis=-1), y, p

    return infer


def masked_predictions(infer, split: Split, batch_size: int, threshold: float) -> MaskedPredictions:
    """Predictions and masks for every image of `split`, each exactly once, in order."""
    preds, masks, fgs = [], [], []
    for x, _ in pipeline(split, batch_size):
        p, y, _ = infer(x)
        preds.append(p.numpy())
        masks.append(y.numpy()[..., 0] > 0.5)
        fgs.append(x.numpy().max(axis=-1) > threshold)
    out = MaskedPredictions(np.concatenate(preds), np.concatenate(masks), np.concatenate(fgs))
    if len(out.preds) != len(split):
        raise AssertionError(f"evaluated {len(out.preds)} images instead of {len(split)}")
    return out


def figures_of_merit(preds, labels, masks, foreground, baseline: float | None) -> dict:
    """All per-checkpoint figures (see the module docstring) from predictions and binary masks."""
    preds, labels = np.asarray(preds), np.asarray(labels)
    masks, foreground = np.asarray(masks, bool), np.asarray(foreground, bool)
    n = len(labels)
    accuracy = float(np.mean(preds == labels)) if n else 0.0
    hidden = 1.0 - float(masks.mean())
    fg_total = foreground.sum()
    hidden_fg = float((~masks & foreground).sum() / fg_total) if fg_total else 0.0
    per_image_fg_kept = (masks & foreground).reshape(n, -1).sum(axis=1)
    per_image_fg = foreground.reshape(n, -1).sum(axis=1)
    out = {
        "images": n,
        "accuracy": accuracy,
        "I": hidden,
        "I_fg": hidden_fg,
        "kept_pixels": float(masks.reshape(n, -1).sum(axis=1).mean()),
        "all_fg_hidden": float(np.mean((per_image_fg_kept == 0) & (per_image_fg > 0))),
    }
    if baseline:
        f = fidelity(accuracy, baseline)
        out.update(F=f, FIR=fir(f, hidden), FII=fii(f, hidden), FII_fg=fii(f, hidden_fg))
    else:
        out["acc_x_I_fg"] = accuracy * hidden_fg
    return out


class LeakageProbe:
    """A small CNN that classifies masks alone (see the module docstring).

    Built and compiled once; every `score` call starts it again from the same initial weights
    and a fresh optimizer state, so each checkpoint gets an identical, independent probe
    without recompiling.
    """

    def __init__(self, mask_shape, num_classes: int, epochs: int = 3, seed: int = 0):
        import keras

        keras.utils.set_random_seed(seed)
        self.epochs = epochs
        self.model = keras.Sequential([
            keras.Input((*mask_shape, 1)),
            keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu"),
            keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(num_classes),
        ])
        self.model.compile(keras.optimizers.Adam(2e-3),
                           keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        self.model.optimizer.build(self.model.trainable_variables)
        self.variables = [*self.model.variables, *self.model.optimizer.variables]
        self.initial = [v.numpy() for v in self.variables]
        self.seed = seed

    def score(self, train_masks, train_labels, test_masks, test_labels) -> float:
        """Test accuracy after training on the training masks for `epochs` epochs."""
        import keras

        keras.utils.set_random_seed(self.seed)
        for v, value in zip(self.variables, self.initial):
            v.assign(value)
        self.model.fit(train_masks[..., None].astype(np.float32), train_labels, batch_size=128,
                       epochs=self.epochs, verbose=0, shuffle=True)
        logits = self.model.predict(test_masks[..., None].astype(np.float32), batch_size=512, verbose=0)
        return float(np.mean(np.argmax(logits, -1) == test_labels))


def leakage_accuracy(train_masks, train_labels, test_masks, test_labels, num_classes: int,
                     epochs: int = 3, seed: int = 0) -> float:
    """Test accuracy of a fresh `LeakageProbe` trained on `train_masks`."""
    probe = LeakageProbe(train_masks.shape[1:], num_classes, epochs, seed)
    return probe.score(train_masks, train_labels, test_masks, test_labels)


def fidelity_standard_error(val: dict) -> float:
    """Standard error of a validation F: sqrt(a (1 - a) / n) / baseline = F sqrt((1 - a) / (a n)),
    with a the checkpoint's validation accuracy over n images (binomial sampling error; the
    baseline is taken as fixed)."""
    a, n = val["accuracy"], max(int(val["images"]), 1)
    return float(val["F"] * np.sqrt((1.0 - a) / (a * n))) if a > 0 else 0.0


def recommend(rows: list[dict], min_fidelity: float, have_baseline: bool,
              tolerance_se: float = 1.0) -> tuple[int, str]:
    """Index of the recommended checkpoint from validation figures only, and the rule used.

    With a baseline, a checkpoint qualifies when its validation F is at least `min_fidelity`
    within `tolerance_se` standard errors: F + tolerance_se * SE(F) >= min_fidelity, with SE(F)
    from `fidelity_standard_error`. On a small validation split one image moves F by more
    than the gaps between checkpoints (400 images: 0.0025 per image, SE about 0.011 at 95 %
    accuracy), so a hard floor (tolerance_se = 0) would reject checkpoints on sampling noise;
    the one-standard-error allowance is the usual guard (as in the 1-SE rule of CART).
    Among qualifying checkpoints the highest validation FII_fg wins.
    """
    key = "FII_fg" if have_baseline else "acc_x_I_fg"
    candidates = list(range(len(rows)))
    rule = f"highest validation {key}"
    if have_baseline:
        within = f"F >= {min_fidelity}" if tolerance_se == 0 else \
            f"F + {tolerance_se:g} SE >= {min_fidelity}"
        floor = [i for i in candidates
                 if rows[i]["val"]["F"] + tolerance_se * fidelity_standard_error(rows[i]["val"]) >= min_fidelity]
        if floor:
            candidates = floor
            rule += f" among checkpoints with validation {within}"
        else:
            rule += f" (no checkpoint reached validation {within})"
    best = max(candidates, key=lambda i: rows[i]["val"][key])
    return best, rule


def aggregate_runs(runs: list[list[dict]]) -> list[dict]:
    """Mean and standard deviation over runs of the test figures, per checkpoint name."""
    names = []
    for rows in runs:
        names += [r["checkpoint"] for r in rows if r["checkpoint"] not in names]
    out = []
    for name in names:
        rows = [r for run in runs for r in run if r["checkpoint"] == name]
        keys = [k for k, v in rows[0]["test"].items() if isinstance(v, float)]
        out.append({"checkpoint": name, "alpha": rows[0]["alpha"], "runs": len(rows),
                    **{f"{k}_mean": float(np.mean([r["test"][k] for r in rows])) for k in keys},
                    **{f"{k}_std": float(np.std([r["test"][k] for r in rows])) for k in keys}})
    return out


# --- a whole run -------------------------------------------------------------------------

FIGURE_KEYS = ("accuracy", "F", "I", "I_fg", "FIR", "FII", "FII_fg", "kept_pixels", "all_fg_hidden")


def evaluate_run(model, checkpoints: list[Path], data, cfg, baseline=None, val_baseline=None,
                 frozen_seeker=None, leakage_epochs: int = 3, log=print) -> list[dict]:
    """One row per checkpoint: test and validation figures, leakage, frozen-seeker accuracy."""
    from utils.weights import load_weights

    infer = make_infer(model)
    probe = LeakageProbe(data.image_shape[:2], data.num_classes, leakage_epochs, cfg.seed) if leakage_epochs else None
    rows = []
    for path in checkpoints:
        load_weights(model, path)
        test = masked_predictions(infer, data.test, 256, cfg.foreground_threshold)
        val = masked_predictions(infer, data.val, 256, cfg.foreground_threshold)
        row = {
            "checkpoint": path.name, "alpha": checkpoint_alpha(path), "path": str(path),
            "test": figures_of_merit(test.preds, data.test.y, test.masks, test.foreground, baseline),
            "val": figures_of_merit(val.preds, data.val.y, val.masks, val.foreground, val_baseline),
        }
        if probe is not None:
            train = masked_predictions(infer, data.train, 256, cfg.foreground_threshold)
            row["leakage"] = probe.score(train.masks, data.train.y, test.masks, data.test.y)
        if frozen_seeker is not None:
            row["masked_by_seeker"] = float(np.mean(_frozen_predictions(frozen_seeker, data.test, test.masks)
                                                    == data.test.y))
        rows.append(row)
        t = row["test"]
        log(f"  {path.name:24s} acc {t['accuracy']:.3f}  I {t['I']:.3f}  I_fg {t['I_fg']:.3f}")
    return rows


def _frozen_predictions(seeker, split: Split, masks: np.ndarray) -> np.ndarray:
    from utils.data import to_float

    out = []
    for start in range(0, len(split), 256):
        x = to_float(split.x[start:start + 256]) * masks[start:start + 256, ..., None]
        out.append(np.argmax(seeker(x, training=False), -1))
    return np.concatenate(out)


def table(rows: list[dict], recommended: int | None) -> str:
    """A readable fixed-width table of the test figures (and leakage) per checkpoint."""
    keys = [k for k in FIGURE_KEYS if k in rows[0]["test"]]
    extra = [k for k in ("leakage", "masked_by_seeker") if k in rows[0]]
    head = f"{'checkpoint':22s} " + " ".join(f"{k:>9s}" for k in keys + extra + ["val FII_fg" if "F" in keys
                                                                                 else "val a*I_fg"])
    lines = [head, "-" * len(head)]
    for i, r in enumerate(rows):
        vals = [r["test"][k] for k in keys] + [r[k] for k in extra]
        vals.append(r["val"].get("FII_fg", r["val"].get("acc_x_I_fg")))
        cells = " ".join(f"{v:9.1f}" if k == "kept_pixels" else f"{v:9.3f}" for k, v in zip(keys + extra + [""], vals))
        mark = " <- recommended" if i == recommended else ""
        lines.append(f"{r['checkpoint'].replace('.weights.h5', ''):22s} {cells}{mark}")
    return "\n".join(lines)


def csv_text(rows: list[dict], settings: dict) -> str:
    import csv
    import io

    keys = [k for k in FIGURE_KEYS if k in rows[0]["test"]]
    extra = [k for k in ("leakage", "masked_by_seeker") if k in rows[0]]
    buf = io.StringIO()
    writer = csv.writer(buf)
    setting_keys = sorted(settings)
    writer.writerow(["checkpoint", "alpha", "test_images"] + [f"test_{k}" for k in keys]
                    + [f"val_{k}" for k in keys] + extra + setting_keys)
    for r in rows:
        writer.writerow([r["checkpoint"], r["alpha"], r["test"]["images"]] + [r["test"][k] for k in keys]
                        + [r["val"][k] for k in keys] + [r[k] for k in extra]
                        + [settings[k] for k in setting_keys])
    return buf.getvalue()


def log_to_tensorboard(rows: list[dict], log_dir) -> None:
    """Test figures per checkpoint as TensorBoard scalars (step = index of the checkpoint)."""
    import tensorflow as tf

    writer = tf.summary.create_file_writer(str(log_dir))
    with writer.as_default():
        for step, r in enumerate(rows):
            for k, v in r["test"].items():
                if isinstance(v, float):
                    tf.summary.scalar(f"evaluation/test_{k}", v, step=step)
            if r["alpha"] is not None:
                tf.summary.scalar("evaluation/alpha", r["alpha"], step=step)
            for k in ("leakage", "masked_by_seeker"):
                if k in r:
                    tf.summary.scalar(f"evaluation/{k}", r[k], step=step)
    writer.close()


def example_figures(model, rows, recommended: int, data, results_dir: Path, n: int = 8) -> list[Path]:
    """Mask grids on the first `n` test images for the recommended and a few other checkpoints."""
    from utils.data import to_float
    from utils.plotting import mask_grid
    from utils.weights import load_weights

    picks = sorted({recommended, 0, len(rows) // 2, len(rows) - 1})
    x = to_float(data.test.x[:n])
    written = []
    for i in picks:
        name = rows[i]["checkpoint"]
        load_weights(model, Path(rows[i]["path"]))
        y, p, _ = model.mask(x, training=False)
        preds = np.argmax(model.seeker(x * y, training=False), -1)
        label = "recommended" if i == recommended else name.replace(".weights.h5", "")
        path = results_dir / f"masks_{name.replace('.weights.h5', '')}.png"
        mask_grid(x.numpy(), p.numpy(), y.numpy(), preds, data.test.y[:n], path,
                  title=f"{name} ({label}): test acc {rows[i]['test']['accuracy']:.3f}, "
                        f"I_fg {rows[i]['test']['I_fg']:.3f}")
        written.append(path)
    return written
