"""Run alibi 0.9.6's CEM on given models and images; executed by an alibi environment's Python, not ours.

    /path/to/alibi-env/bin/python benchmarks/alibi_cem_runner.py IN.npz OUT.npz

The alibi environment is its own venv (``alibi[tensorflow]==0.9.6 tensorflow==2.14.1
numpy==1.26.4 click``); this project never imports alibi. IN.npz holds the images ``x``, the weights of
alibi's MNIST example CNN (``cnn_0`` ...) and autoencoder (``ae_0`` ...), in the order of
`benchmarks.bench_cem_alibi` (which writes the file), and the settings (``mode``, ``kappa``, ``beta``,
``gamma``, ``c_init``, ``c_steps``, ``max_iterations``, ``lr``, ``clip``, ``feature_range``,
``no_info_val``, ``record``). Each image is explained alone, as alibi requires, by a fresh explainer (a
second ``explain`` on the same alibi explainer does not repeat the first one's answer), with one intra- and one
inter-op thread (its results repeat exactly only then). OUT.npz gets the results (``result``,
``found``, ``seconds``) and, with ``record`` > 0, alibi's iterates ``adv`` (and ``adv_s``) of the first
``record`` iterations of the first c step of the first image, taken from alibi's own graph ops.
What the comparison measured: docs/results/2026-11-24-cem-alibi.md.
"""
import sys
import time

import numpy as np
import tensorflow as tf

tf.compat.v1.disable_v2_behavior()
tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)

from tensorflow import keras  # noqa: E402
from tensorflow.keras.layers import Conv2D, Dense, Dropout, Flatten, Input, MaxPooling2D, UpSampling2D  # noqa: E402


def cnn_model():
    """alibi's MNIST example CNN (softmax output)."""
    x_in = Input(shape=(28, 28, 1))
    x = Conv2D(filters=64, kernel_size=2, padding="same", activation="relu")(x_in)
    x = MaxPooling2D(pool_size=2)(x)
    x = Dropout(0.3)(x)
    x = Conv2D(filters=32, kernel_size=2, padding="same", activation="relu")(x)
    x = MaxPooling2D(pool_size=2)(x)
    x = Dropout(0.3)(x)
    x = Conv2D(filters=32, kernel_size=2, padding="same", activation="relu")(x)
    x = MaxPooling2D(pool_size=2)(x)
    x = Dropout(0.3)(x)
    x = Flatten()(x)
    x = Dense(256, activation="relu")(x)
    x = Dropout(0.5)(x)
    return keras.Model(x_in, Dense(10, activation="softmax")(x))


def ae_model():
    """alibi's MNIST example autoencoder."""
    x_in = Input(shape=(28, 28, 1))
    x = Conv2D(16, (3, 3), activation="relu", padding="same")(x_in)
    x = Conv2D(16, (3, 3), activation="relu", padding="same")(x)
    x = MaxPooling2D((2, 2), padding="same")(x)
    encoded = Conv2D(1, (3, 3), activation=None, padding="same")(x)
    x = Conv2D(16, (3, 3), activation="relu", padding="same")(encoded)
    x = UpSampling2D((2, 2))(x)
    x = Conv2D(16, (3, 3), activation="relu", padding="same")(x)
    return keras.Model(x_in, Conv2D(1, (3, 3), activation=None, padding="same")(x))


def weights(f, prefix):
    return [f[f"{prefix}_{i}"] for i in range(int(f[f"{prefix}_count"]))]


def record_first_step(cem, x, steps):
    """alibi's attack loop for the first c step, `steps` iterations, keeping adv and adv_s each time."""
    y = cem.sess.run(cem.predict(tf.convert_to_tensor(x, dtype=tf.float32)))
    target = np.zeros_like(y)
    target[0, y.argmax()] = 1
    cem.sess.run(cem.init)
    cem.sess.run(cem.setup, {cem.assign_orig: x, cem.assign_target: target,
                             cem.assign_const: np.ones(1) * cem.c_init, cem.assign_adv: x, cem.assign_adv_s: x,
                             cem.assign_no_info: cem.no_info_val})
    advs, adv_ss = [], []
    for _ in range(steps):
        grads = cem.sess.run(cem.compute_grads)[0][0]
        cem.sess.run(cem.apply_grads, feed_dict={cem.grad_ph: np.clip(grads, cem.clip[0], cem.clip[1])})
        cem.sess.run([cem.adv_updater, cem.adv_updater_s, cem.delta, cem.delta_s])
        adv, adv_s = cem.sess.run([cem.adv, cem.adv_s])
        advs.append(adv[0])
        adv_ss.append(adv_s[0])
    return np.stack(advs), np.stack(adv_ss)


def main(src, dst):
    # deferred: optional dependency, alibi exists only in the alibi environment that runs this file
    from alibi.explainers import CEM

    f = np.load(src, allow_pickle=False)
    cnn, ae = cnn_model(), ae_model()
    cnn.set_weights(weights(f, "cnn"))
    ae.set_weights(weights(f, "ae"))
    s = {k: f[k].item() if f[k].ndim == 0 else f[k] for k in ("mode", "kappa", "beta", "gamma", "c_init", "c_steps",
                                                               "max_iterations", "lr", "clip", "feature_range",
                                                               "no_info_val", "record")}
    x = f["x"]
    out = {"result": np.zeros_like(x), "found": np.zeros(len(x), bool), "seconds": np.zeros(len(x))}

    def explainer():
        return CEM(cnn, str(s["mode"]), (1,) + x.shape[1:], kappa=float(s["kappa"]), beta=float(s["beta"]),
                   feature_range=tuple(map(float, s["feature_range"])), gamma=float(s["gamma"]),
                   ae_model=ae if s["gamma"] > 0 else None, max_iterations=int(s["max_iterations"]),
                   c_init=float(s["c_init"]), c_steps=int(s["c_steps"]), learning_rate_init=float(s["lr"]),
                   clip=tuple(map(float, s["clip"])), no_info_val=float(s["no_info_val"]))

    if s["record"]:
        out["adv"], out["adv_s"] = record_first_step(explainer(), x[:1], int(s["record"]))
    for i in range(len(x)):
        # A fresh explainer per image: alibi 0.9.6's CEM.explain does not repeat itself on one explainer (a
        # second call on the same digit found no PN where the first found one), so only first calls compare.
        cem = explainer()
        start = time.perf_counter()
        explanation = cem.explain(x[i:i + 1])
        out["seconds"][i] = time.perf_counter() - start
        result = getattr(explanation, str(s["mode"]))
        if result is not None:
            out["result"][i] = result[0]
            out["found"][i] = True
    np.savez(dst, **out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
