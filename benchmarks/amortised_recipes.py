"""Recipes of the one-pass explainer on mnist-5k, epoch by epoch (docs/results/2026-12-07-amortised.md).

    make demo      # the seeker, the HnS run and the EVAL-X judge this reads
    python benchmarks/amortised_recipes.py '{"lr": 5e-4, "budget": 0.022, "epochs": 8}'
    python benchmarks/amortised_recipes.py '{"lr": 5e-4, "neuron": "threshold", "alpha": 0.1, "epochs": 6}'

A hider, started from the demo's HnS hider (or "start": "scratch"), trained against the frozen pretrained seeker
(targets: its own classes; "labels": "true" for the labels) with a top-k budget ("budget") or the thresholded neuron
at a fixed alpha; after each epoch the demo's independent EVAL-X judge reads the validation and test images cut at
each image's HnS budget (the benchmark's cut), and the frozen seeker the validation ones (frozen_val). Choose on val.
"""
import dataclasses
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from utils.config.parser import parse_config
from utils.config.schema import COMMON, EVALX, EXPLAIN, FAITH, HNS
from utils.stages.faithfulness import benchmark_inputs, load_benchmark_data
from utils.stages.judge import judge_classifier
from utils.stages.explain import load_hns
from utils.evaluation.faithfulness import Judge, fill, mean_se
from utils.evaluation.prediction import as_float_images
from utils.explainers.topk import top_k_mask
from utils.data import epoch_pipeline, steps_per_epoch
from networks.budget import TopKNeuron
from networks.hns import HideAndSeek

cfg = parse_config(["--config", "mnist-5k", "--faith_images", "1000"], "faithfulness.py", "",
                   groups=(COMMON, HNS, EVALX, EXPLAIN, FAITH))
inputs = benchmark_inputs(cfg)
loaded = load_benchmark_data(cfg, inputs)
judge_model = judge_classifier(cfg, inputs.evaluator, inputs.evaluator_weights, inputs.seeker, loaded.data, loaded.judge_infiller)
judge = Judge("evalx", judge_model)
data = loaded.data
hns = load_hns(cfg, data, inputs.checkpoint)
seeker = loaded.seeker

def split(s):
    return as_float_images(s.x), s.y
xv, yv = split(data.val); xt, yt = split(data.test)
def hns_counts(x):
    m, p, h = (t.numpy()[..., 0] for t in hns.mask(tf.constant(x)))
    return (m > 0.5).sum(axis=(1, 2)), h
kv, hv = hns_counts(xv); kt, ht = hns_counts(xt)
print("HnS budget mean", kt.mean(), "val", kv.mean())
def keep(scores, k, x, y):
    mask = top_k_mask(scores, np.maximum(k, 1))
    return mean_se(judge.correct(fill(x, mask, loaded.judge_infiller, np.arange(len(x)) + cfg.seed), y))
print("HnS logits: val", keep(hv, kv, xv, yv), "test", keep(ht, kt, xt, yt))

config = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
lr = config.get("lr", 5e-4); budget = config.get("budget", 0.022); epochs = config.get("epochs", 10)
nested = config.get("nested", 0.0); start = config.get("start", "hns"); labels_from = config.get("labels", "pred")
hider = keras.models.clone_model(hns.hider)
if start == "hns":
    hider.set_weights(hns.hider.get_weights())
seeker.trainable = False
from networks.binary import build_neuron
if config.get("neuron") == "threshold":
    model = HideAndSeek(hider, seeker, build_neuron(False, "st1", seed=0), seeker_training="frozen", seed=cfg.seed,
                        alpha=config.get("alpha", 0.1), area_hinge=config.get("hinge", True))
else:
    model = HideAndSeek(hider, seeker, TopKNeuron(budget, name="binary_neuron"), seeker_training="frozen",
                    nested_budget=nested, seed=cfg.seed, alpha=1.0)
model.compile(optimizer=keras.optimizers.Adam(lr), steps_per_execution=1)
model.build((None, 28, 28, 1))
train = data.train
if labels_from == "pred":
    pred = seeker.predict(as_float_images(train.x), verbose=0, batch_size=500).argmax(1).astype(train.y.dtype)
    print("seeker agrees with labels on train", (pred == train.y).mean())
    train = dataclasses.replace(train, y=pred)
steps = steps_per_epoch(train, cfg.batch_size)
w0 = [w.copy() for w in seeker.get_weights()]
results = []
for epoch in range(epochs):
    t0 = time.time()
    model.fit(epoch_pipeline(train, cfg.batch_size, cfg.seed, epoch, epoch + 1, shift=2, fill=cfg.shift_fill),
              steps_per_epoch=steps, epochs=1, verbose=2)
    sv = hider.predict(xv, verbose=0)[..., 0]; st = hider.predict(xt, verbose=0)[..., 0]
    own = (seeker.predict(fill(xv, top_k_mask(sv, np.maximum(kv, 1)), loaded.judge_infiller, np.arange(len(xv))), verbose=0).argmax(1) == yv).mean()
    r = dict(frozen_val=round(float(own), 3), epoch=epoch + 1, seconds=round(time.time() - t0, 1), val=keep(sv, kv, xv, yv), test=keep(st, kt, xt, yt))
    print(config, r, flush=True)
    results.append(r)
assert all(np.array_equal(a, b) for a, b in zip(w0, seeker.get_weights()))
t0 = time.perf_counter(); hider.predict(xt, verbose=0, batch_size=1000); print("ms/image", (time.perf_counter()-t0)/len(xt)*1000)
