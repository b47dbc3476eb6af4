"""Contrastive explanations (CEM, Dhurandhar et al. 2018, arXiv 1802.07623), batched, for Keras 3.

A contrastive explanation of the prediction ``t = argmax f(x)`` of a classifier ``f`` has two halves:

* **Pertinent negative (PN)**: what must stay *absent* for the prediction to be t. CEM looks for the
  smallest *addition* to x that changes the prediction: the model sees the perturbed instance
  ``adv`` and ``PN = adv`` (the PN proper is ``adv - x``).
* **Pertinent positive (PP)**: what is minimally *sufficient* for the prediction t. CEM removes as
  much of x as it can: ``adv`` moves x toward the no-information value, the model sees what is left,
  ``delta = x - adv``, and ``PP = delta``.

Adding and removing are measured against a no-information value ``v`` per feature (``no_info_val``:
0 for MNIST's black background, or the training median/mean from :meth:`ContrastiveExplainer.fit`).
A PN may only move a feature further from v than x is; a PP's ``adv`` only moves it toward v. With
``v = 0`` and inputs >= 0 the PP is literally a part of x (``0 <= PP <= x``); with another v it is the
difference ``x - adv``, as in alibi.

Both are found by FISTA on ``c * attack + ||delta||^2 + beta * ||delta||_1 + gamma * ||AE(z) - z||^2``
(``z = adv`` for PN, ``delta`` for PP), with a bisection on the weight c per instance; see
:class:`ContrastiveExplainer` for every formula. The autoencoder term keeps ``z`` close to the data
manifold. For Hide-and-Seek runs the pretrained hider autoencoder (``networks.hider`` built with
as many output channels as the input and a sigmoid output, pretrained to reconstruct its input by
``pretrain_hider.py``) can serve as the CEM autoencoder as it is.

Unlike alibi (TF1 graph mode, one instance per call), a whole batch is explained at once: every
instance has its own c and its own bookkeeping, and one compiled ``tf.function`` runs all
``max_iterations`` iterations of a c step for the whole batch without returning to Python.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from utils.explainers.base import Explainer, Explanation, call_model

MODES = ("PN", "PP")
NO_INFO_TYPES = ("median", "mean")
C_UPPER_INIT = 1e10
# While the upper bound of c is still above this, no valid solution has been found for the
# instance yet: c grows tenfold instead of being bisected.
C_UPPER_UNSET = 1e9


def shrink(z, x, beta, lower, upper):
    """Elastic-net shrinkage of z around x, then a clip to the feature range.

    Element-wise (soft thresholding of z - x with threshold beta)::

        S(z)_j = clip(z_j - beta, lower_j, upper_j)   if z_j - x_j >  beta
                 x_j                                  if |z_j - x_j| <= beta
                 clip(z_j + beta, lower_j, upper_j)   if z_j - x_j < -beta

    i.e. ``clip(x + sign(z - x) * max(|z - x| - beta, 0), lower, upper)`` for x inside the range.
    """
    d = z - x
    return tf.clip_by_value(x + tf.sign(d) * tf.maximum(tf.abs(d) - beta, 0.0), lower, upper)


def project(new, x, no_info, mode):
    """Keep the coordinates of ``new`` that changed x in the direction ``mode`` allows, else x.

    With v = ``no_info`` (element-wise)::

        PN: P(new)_j = new_j  if |new_j - v_j| >  |x_j - v_j|   (moved strictly away from v)
                       x_j    otherwise
        PP: P(new)_j = new_j  if |new_j - v_j| <= |x_j - v_j|   (moved toward v, or not farther)
                       x_j    otherwise
    """
    farther = tf.abs(new - no_info) > tf.abs(x - no_info)
    keep = farther if mode == "PN" else tf.logical_not(farther)
    return tf.where(keep, new, x)


def update_c(c, lower, upper, found):
    """One step of the per-instance search on the attack weight c (numpy, element-wise).

    Starting from ``lower = 0``, ``upper = 1e10``, ``c = c_init``::

        found:      upper = min(upper, c);  c = (lower + upper) / 2
        not found:  lower = max(lower, c);  c = (lower + upper) / 2  if upper < 1e9  else  10 * c

    ``found`` says whether the c step just run produced any valid iterate. Returns (c, lower, upper).
    """
    c, lower, upper = (np.asarray(a, np.float64) for a in (c, lower, upper))
    found = np.asarray(found, bool)
    upper = np.where(found, np.minimum(upper, c), upper)
    lower = np.where(found, lower, np.maximum(lower, c))
    c = np.where(found | (upper < C_UPPER_UNSET), (lower + upper) / 2, 10 * c)
    return c, lower, upper


def stop_rule(step_best, since, active, valid, dist, patience):
    """One iteration of the early stop of a c step (element-wise; tensors, or numpy arrays in tests).

    ``step_best`` is the smallest elastic-net distance of a valid iterate in this c step so far
    (inf before the first), ``since`` the iterations since it last improved::

        improved  = active & valid & (dist < step_best)
        step_best = dist        if improved else step_best
        since     = 0           if improved or step_best == inf else since + 1
        active    = active & (since < patience)

    An instance whose best valid solution of the c step has not improved for ``patience``
    consecutive iterations stops its c step. The clock starts at the first valid iterate: a c
    step that has found nothing runs all its iterations, as in alibi, so whether a c step finds a
    solution, and with it the whole search on c, is alibi's. (A first version also stopped c steps
    that found nothing in their first ``patience`` iterations; at low c the first valid iterate
    often comes later, so the bisection drifted to large c and the PNs lost their sparsity. What the
    early stop costs in sparsity and saves in iterations: docs/results/2026-11-24-cem-alibi.md.)
    Returns (step_best, since, active).
    """
    improved = active & valid & (dist < step_best)
    step_best = tf.where(improved, dist, step_best)
    waiting = step_best == np.inf
    since = tf.where(improved | waiting, tf.zeros_like(since), since + 1)
    return step_best, since, active & (since < patience)


def judged(x, adv, mode):
    """What the model sees of an iterate: ``adv`` for a PN, ``delta = x - adv`` for a PP."""
    return adv if mode == "PN" else x - adv


def objective(scores, autoencoder, x, y, onehot, c, mode, kappa, gamma, axes):
    """The smooth part of CEM's loss, summed over the batch, at iterate y with z = judged(x, y):

        c * max(0, hinge) + ||x - y||^2 (+ gamma * ||AE(z) - z||^2)

    with margin = f_t(z) - max_{j != t} f_j(z), hinge = margin + kappa (PN) or kappa - margin (PP)."""
    z = judged(x, y, mode)
    out = scores(z)
    margin = tf.reduce_sum(out * onehot, 1) - tf.reduce_max(tf.where(onehot > 0, -np.inf, out), 1)
    hinge = margin + kappa if mode == "PN" else kappa - margin
    loss = c * tf.maximum(0.0, hinge) + tf.reduce_sum(tf.square(x - y), axes)
    if gamma > 0:
        reconstruction = tf.cast(autoencoder(z, training=False), tf.float32)
        loss += gamma * tf.reduce_sum(tf.square(reconstruction - z), axes)
    return tf.reduce_sum(loss)


def is_valid(out, onehot, target, mode, kappa):
    """Per row: a PN changes the class by more than kappa; a PP keeps it by more than kappa."""
    if mode == "PN":
        return tf.argmax(out + kappa * onehot, 1, output_type=tf.int32) != target
    return tf.argmax(out - kappa * onehot, 1, output_type=tf.int32) == target


def fista_step(y, adv, grad, lr, kf, x, beta, lower, upper, no_info, mode):
    """One FISTA iteration k (kf = k as a float): the projected shrinkage step from the momentum iterate y,
    then the new momentum iterate; returns (adv_{k+1}, y_{k+1})."""
    new = project(shrink(y - lr * grad, x, beta, lower, upper), x, no_info, mode)
    return new, project(new + (kf + 1.0) / (kf + 4.0) * (new - adv), x, no_info, mode)


def elastic_distance(delta, beta, axes):
    """Per row: ||delta||_2^2 + beta * ||delta||_1, the distance CEM minimises."""
    return tf.reduce_sum(tf.square(delta), axes) + beta * tf.reduce_sum(tf.abs(delta), axes)


def bracket_closed(lower, upper, tolerance):
    """Whether the search on c can stop: a valid solution was found and ``upper - lower <= tolerance * upper``.

    After the first found c step the bisection halves the bracket [lower, upper] each step; once it
    is this narrow the remaining c steps would try nearly the same c again.
    """
    return (upper < C_UPPER_UNSET) & (upper - lower <= tolerance * upper)


class ContrastiveExplainer(Explainer):
    """Pertinent negatives or positives of a Keras 3 classifier for whole batches (see module doc).

    ``explain(x, targets=None)`` takes a batch (n, *instance_shape), images or flat features, and
    returns an `utils.explainers.base.Explanation` of method ``cem-pn`` / ``cem-pp``: ``scores``
    rates every pixel (or feature of flat inputs) by ``|delta|`` summed over channels (0 where not
    found), ``targets`` is the class explained (``X_pred`` unless given), ``kept`` is None, and
    ``extras`` holds

    * ``mode``, and ``PN`` or ``PP`` (the one of ``mode``), shaped as x: where no valid solution was
      found, ``found`` is False, the row is the original instance and ``PN_pred``/``PP_pred`` is
      -1; elsewhere that is the model's class for the returned row. ``X_pred``: the model's class
      of x.
    * ``l0``, ``l1``, ``l2``: the number of non-zero entries, the L1 norm and the (not squared) L2
      norm of ``delta = x - adv`` (0 where not found); for PP, ``delta`` is the PP itself.
    * ``c``: the attack weight of the last c step; ``iterations``: the FISTA iterations each
      instance ran over all its c steps (``c_steps * max_iterations`` without early stop).
    * ``savepoints``: ``(iteration, array)`` pairs, the current iterate of the whole batch (``adv``
      for PN, ``delta`` for PP) every ``save_every`` iterations of each c step, iterations counted
      1-based over all c steps; empty when ``save_every`` is None.

    ``seeds`` are accepted for the common interface and unused (CEM draws no random numbers).

    Notation per instance: x the input, t = argmax f(x) its predicted class, ``adv`` the perturbed
    instance and ``y`` its FISTA slack (both start at x at every c step), ``delta = x - adv``,
    ``z = adv`` (PN) or ``delta`` (PP) the input the model judges, and
    ``m(z) = f_t(z) - max_{i != t} f_i(z)`` the margin of class t.

    Loss, per instance (the L1 term is handled by the shrinkage, not differentiated)::

        attack = c * max(0,  m(z) + kappa)      PN: push t below another class by kappa
                 c * max(0, -m(z) + kappa)      PP: keep t above every other class by kappa
        smooth = attack + ||delta||^2 + gamma * ||AE(z) - z||^2
        elastic-net distance  D = ||delta||^2 + beta * ||delta||_1

    FISTA iteration k = 0 .. max_iterations - 1 of one c step::

        g       = clip(grad_y smooth(y), clip[0], clip[1])          element-wise
        lr_k    = learning_rate_init * (1 - k / max_iterations) ** 0.5
        new     = project(shrink(y - lr_k * g, x, beta, feature_range), x, v)
        y       = project(new + (k + 1) / (k + 4) * (new - adv), x, v)
        adv     = new

    (:func:`shrink`, :func:`project`). As in the authors' code and alibi, the shrinkage threshold is
    beta itself, not lr_k * beta: a feature leaves x only once a single step lr_k * |g_j| exceeds
    beta, which the growth of c eventually brings about. The momentum (k + 1) / (k + 4) is alibi's
    (it advances its step counter before the momentum); the paper's k / (k + 3) gives a first step
    without momentum, so its iterates part from alibi's from the second iteration on. With this schedule the iterates
    match alibi 0.9.6's (tests/fixtures/alibi_cem_linear.json). After each iteration ``adv`` is
    valid when

        PN: argmax(f(adv)   + kappa * e_t) != t
        PP: argmax(f(delta) - kappa * e_t) == t

    and the valid iterate of smallest D over all c steps is the instance's answer. Between c steps
    c is updated per instance by :func:`update_c`.

    ``kappa`` is a margin on the model's own output scale: probabilities for a softmax output,
    logits otherwise; no softmax is applied here. The model is called with ``training=False`` and
    must treat the rows of a batch independently (no batch statistics), as Keras layers do in
    inference mode.

    Args:
        model: Keras 3 classifier mapping a batch ``(n, *instance_shape)`` to ``(n, classes)``
            scores (probabilities or logits), with ``classes >= 2``.
        mode: ``"PN"`` (pertinent negative) or ``"PP"`` (pertinent positive).
        kappa: confidence margin >= 0, on the model's output scale.
        beta: weight >= 0 of the L1 term, applied as the shrinkage threshold.
        gamma: weight >= 0 of the autoencoder term; > 0 requires ``autoencoder``.
        autoencoder: Keras model whose output has the shape of its input; used only when gamma > 0.
        c_init: initial attack weight c > 0.
        c_steps: number of c steps (>= 1).
        max_iterations: FISTA iterations per c step (>= 1).
        learning_rate_init: initial learning rate > 0.
        clip: (min, max) of the element-wise gradient clipping.
        feature_range: (min, max) of the perturbed instance, floats or arrays broadcastable to the
            instance shape. The instances to explain must lie inside it.
        no_info_val: value v carrying no information, a float or an array broadcastable to the
            instance shape. None means the values set by :meth:`fit`, or 0 if it was never fit.
        save_every: keep the current iterate every ``save_every`` iterations of each c step
            (``1 <= save_every <= max_iterations``), or None for no savepoints.
    """

    images = False  # any instance shape, flat features too

    def __init__(self, model, mode="PN", kappa=0., beta=0.1, gamma=0., autoencoder=None, c_init=10.,
                 c_steps=10, max_iterations=1000, learning_rate_init=1e-2, clip=(-100., 100.),
                 feature_range=(0., 1.), no_info_val=None, save_every=None, patience=None, c_tolerance=None,
                 progress=False):
        super().__init__(model, progress=bool(progress))
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        for name, value in (("kappa", kappa), ("beta", beta), ("gamma", gamma)):
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if gamma > 0 and autoencoder is None:
            raise ValueError("gamma > 0 needs an autoencoder (pass autoencoder=...), or set gamma=0")
        if autoencoder is not None and not callable(autoencoder):
            raise ValueError("autoencoder must be a Keras model (a callable on a batch of instances)")
        if not np.isfinite(c_init) or c_init <= 0:
            raise ValueError(f"c_init must be a finite number > 0, got {c_init!r}")
        if not np.isfinite(learning_rate_init) or learning_rate_init <= 0:
            raise ValueError(f"learning_rate_init must be a finite number > 0, got {learning_rate_init!r}")
        for name, value in (("c_steps", c_steps), ("max_iterations", max_iterations)):
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if len(clip) != 2 or not clip[0] < clip[1]:
            raise ValueError(f"clip must be (min, max) with min < max, got {clip!r}")
        if len(feature_range) != 2:
            raise ValueError(f"feature_range must be (min, max), got {feature_range!r}")
        lower, upper = (np.asarray(b, np.float32) for b in feature_range)
        if not np.all(lower <= upper):
            raise ValueError("feature_range must have min <= max everywhere")
        if save_every is not None and (not isinstance(save_every, (int, np.integer))
                                       or not 1 <= save_every <= max_iterations):
            raise ValueError(f"save_every must be None or an integer in [1, max_iterations], got {save_every!r}")
        if patience is not None and (not isinstance(patience, (int, np.integer)) or patience < 1):
            raise ValueError(f"patience must be None or an integer >= 1, got {patience!r}")
        if c_tolerance is not None and not (np.isfinite(c_tolerance) and 0 < c_tolerance < 1):
            raise ValueError(f"c_tolerance must be None or a number in (0, 1), got {c_tolerance!r}")
        if save_every is not None and (patience is not None or c_tolerance is not None):
            raise ValueError("save_every needs the full search (patience=None, c_tolerance=None): "
                             "stopped instances leave the batch")
        self.mode, self.name = mode, f"cem-{mode.lower()}"
        self.kappa = float(kappa)
        self.beta = float(beta)
        self.gamma = float(gamma)
        self.autoencoder = autoencoder
        self.c_init = float(c_init)
        self.c_steps = int(c_steps)
        self.max_iterations = int(max_iterations)
        self.learning_rate_init = float(learning_rate_init)
        self.clip = (float(clip[0]), float(clip[1]))
        self.feature_range = (lower, upper)
        self.no_info_val = None if no_info_val is None else np.asarray(no_info_val, np.float32)
        self.no_info_type = None
        self.save_every = None if save_every is None else int(save_every)
        self.patience = None if patience is None else int(patience)
        self.c_tolerance = None if c_tolerance is None else float(c_tolerance)
        self._compiled = {}

    def fit(self, x_train, no_info_type="median"):
        """Set ``no_info_val`` to the per-feature median or mean of ``x_train`` (n, *instance_shape)."""
        if no_info_type not in NO_INFO_TYPES:
            raise ValueError(f"no_info_type must be one of {NO_INFO_TYPES}, got {no_info_type!r}")
        x_train = np.asarray(x_train, np.float32)
        if x_train.ndim < 2 or len(x_train) == 0:
            raise ValueError(f"x_train must be a non-empty batch (n, *instance_shape), got shape {x_train.shape}")
        reduce = np.median if no_info_type == "median" else np.mean
        self.no_info_val = reduce(x_train, axis=0).astype(np.float32)
        self.no_info_type = no_info_type
        return self

    def _explain(self, x, targets, seeds) -> Explanation:
        x, target = x.numpy(), targets.numpy()
        bounds = self._bounds(x)
        scores = np.asarray(self.model(tf.constant(x), training=False), np.float32)
        best_dist, best_adv, c_used, iterations, savepoints = self._search(x, bounds, target, scores.shape[1])
        return self._explanation(x, scores.argmax(axis=1).astype(np.int32), target, best_dist, best_adv, c_used,
                                 iterations, savepoints)

    def _bounds(self, x):
        """(no-information value, lower, upper) per feature; ValueError for what else CEM cannot explain
        (`Explainer.explain` checks the batch, the model's output and the targets)."""
        shape = x.shape[1:]
        no_info = self._per_feature(0.0 if self.no_info_val is None else self.no_info_val, shape, "no_info_val")
        lower, upper = (self._per_feature(b, shape, "feature_range") for b in self.feature_range)
        if np.any(x < lower) or np.any(x > upper):
            raise ValueError("x lies outside feature_range; widen feature_range or rescale the inputs")
        if self.gamma > 0:
            reconstruction = call_model(self.autoencoder, x[:1], "autoencoder")
            if reconstruction.shape != (1, *shape):
                raise ValueError(f"autoencoder must return its input's shape {(1, *shape)}, "
                                 f"got {reconstruction.shape}")
        return no_info, lower, upper

    def _search(self, x, bounds, target, classes):
        """The search on c: per c step, FISTA in compiled chunks over the instances still searching
        (stopped ones leave the batch); returns the best distance and iterate per instance, the c
        each instance last ran with, iterations run and the savepoints."""
        run = self._c_step_fn(x.shape[1:], classes)
        n = len(x)
        c, c_lower, c_upper = np.full(n, self.c_init), np.zeros(n), np.full(n, C_UPPER_INIT)
        c_used = c.copy()
        best_dist, best_adv = np.full(n, np.inf, np.float32), x.copy()
        iterations = np.zeros(n, np.int64)
        searching = np.ones(n, bool)
        patience = self.patience or self.max_iterations + 1
        chunk = self.max_iterations if self.patience is None else self.patience
        bar = self._progress_bar() if self.progress else None
        savepoints = []
        for step in range(self.c_steps):
            rows = np.flatnonzero(searching)
            if rows.size == 0:
                break
            c_used[rows] = c[rows]
            found_now = np.zeros(n, bool)
            adv = y = x[rows]
            step_best, since, active = np.full(rows.size, np.inf, np.float32), np.zeros(rows.size, np.int32), \
                np.ones(rows.size, bool)
            k = 0
            while k < self.max_iterations and rows.size:
                todo = min(chunk, self.max_iterations - k)
                out = run(x[rows], *bounds, target[rows], c[rows].astype(np.float32), best_dist[rows],
                          best_adv[rows], adv, y, np.int32(k), np.int32(todo), step_best, since, active,
                          np.int32(patience))
                dist_r, adv_best_r, found_r, adv, y, step_best, since, active, saves, ran = (o.numpy() for o in out)
                best_dist[rows], best_adv[rows] = dist_r, adv_best_r
                iterations[rows] += ran
                found_now[rows] |= found_r
                if self.save_every:
                    savepoints += [(step * self.max_iterations + k + (j + 1) * self.save_every, a)
                                   for j, a in enumerate(saves)]
                k += todo
                if not active.all():  # drop the stopped instances from the compiled batch
                    rows, adv, y, step_best, since, active = (a[active] for a in (rows, adv, y, step_best, since,
                                                                                   active))
            c_new, lower_new, upper_new = update_c(c, c_lower, c_upper, found_now)
            c, c_lower, c_upper = (np.where(searching, a, b) for a, b in ((c_new, c), (lower_new, c_lower),
                                                                            (upper_new, c_upper)))
            if self.c_tolerance is not None:
                searching &= ~bracket_closed(c_lower, c_upper, self.c_tolerance)
            if bar is not None:
                bar.update(step + 1, [("found", int(np.isfinite(best_dist).sum())), ("searching", int(searching.sum()))])
        return best_dist, best_adv, c_used, iterations, savepoints

    def _explanation(self, x, x_pred, target, best_dist, best_adv, c_used, iterations, savepoints):
        """The PP (x - delta) or PN (the best iterate) per instance, its class and sizes."""
        n, shape = len(x), x.shape[1:]
        found = np.isfinite(best_dist)
        delta = x - best_adv
        if self.mode == "PN":
            result = best_adv
        else:
            result = np.where(found.reshape((-1,) + (1,) * len(shape)), delta, x)
        result_pred = np.where(found, call_model(self.model, result, "model").argmax(axis=1), -1)
        flat = delta.reshape(n, -1)
        magnitude = np.where(found.reshape((-1,) + (1,) * len(shape)), np.abs(delta), 0.0)
        per_pixel = magnitude.sum(axis=-1) if len(shape) == 3 else magnitude
        extras = dict(mode=self.mode, X_pred=x_pred, found=found, c=c_used, l0=np.count_nonzero(flat, axis=1),
                      l1=np.abs(flat).sum(axis=1), l2=np.sqrt(np.square(flat).sum(axis=1)), iterations=iterations,
                      savepoints=savepoints, **{self.mode: result, f"{self.mode}_pred": result_pred})
        return Explanation(self.name, per_pixel, target, 0.0, extras=extras)

    def settings(self) -> dict:
        return dict(
            mode=self.mode, kappa=self.kappa, beta=self.beta, gamma=self.gamma,
            autoencoder=self.autoencoder is not None, c_init=self.c_init, c_steps=self.c_steps,
            max_iterations=self.max_iterations, learning_rate_init=self.learning_rate_init,
            clip=self.clip, feature_range=self.feature_range,
            no_info_val=0.0 if self.no_info_val is None else self.no_info_val,
            no_info_type=self.no_info_type, save_every=self.save_every)

    @staticmethod
    def _per_feature(value, shape, name):
        try:
            return np.ascontiguousarray(np.broadcast_to(np.asarray(value, np.float32), shape))
        except ValueError:
            raise ValueError(f"{name} of shape {np.shape(value)} does not broadcast to the instance "
                             f"shape {shape}") from None

    def _c_step_fn(self, shape, classes):
        """The compiled c step for this instance shape, built once per shape, models and hyperparameters."""
        key = (shape, classes, id(self.model), id(self.autoencoder), self.mode, self.kappa, self.beta,
               self.gamma, self.max_iterations, self.learning_rate_init, self.clip, self.save_every,
               self.patience is not None)
        if key not in self._compiled:
            self._compiled[key] = self._build_c_step(shape, classes)
        return self._compiled[key]

    def _progress_bar(self):
        print(f"CEM {self.mode}: {self.c_steps} c steps x {self.max_iterations} iterations")
        return keras.utils.Progbar(self.c_steps, unit_name="c step")

    def _build_c_step(self, shape, classes):
        mode, kappa, beta, gamma = self.mode, self.kappa, self.beta, self.gamma
        iterations, lr_init, clip, save_every = self.max_iterations, self.learning_rate_init, self.clip, self.save_every
        stopping = self.patience is not None
        model, autoencoder = self.model, self.autoencoder
        axes = list(range(1, len(shape) + 1))
        row = (-1,) + (1,) * len(shape)
        batch = tf.TensorSpec((None, *shape), tf.float32)
        instance = tf.TensorSpec(shape, tf.float32)
        per_row = tf.TensorSpec((None,), tf.float32)
        scalar = tf.TensorSpec((), tf.int32)

        def scores(z):
            return tf.cast(model(z, training=False), tf.float32)

        @tf.function(input_signature=[batch, instance, instance, instance, tf.TensorSpec((None,), tf.int32),
                                      per_row, per_row, batch, batch, batch, scalar, scalar, per_row,
                                      tf.TensorSpec((None,), tf.int32), tf.TensorSpec((None,), tf.bool), scalar])
        def run(x, no_info, lower, upper, target, c, best_dist, best_adv, adv, y, k0, todo, step_best, since,
                active, patience):
            """Iterations k0 .. k0 + todo - 1 of a c step for the batch (state in, state out)."""
            onehot = tf.one_hot(target, classes)

            found = tf.zeros_like(target, tf.bool)
            ran = tf.zeros_like(target)  # iterations each row ran in this call
            saves = tf.TensorArray(tf.float32, size=todo // save_every if save_every else 0,
                                   element_shape=x.shape)
            for k in tf.range(k0, k0 + todo):
                if stopping and not tf.reduce_any(active):
                    break
                kf = tf.cast(k, tf.float32)
                ran += tf.cast(active, tf.int32) if stopping else 1
                # Only the gradient in y is needed: not watching the weights skips their gradients.
                with tf.GradientTape(watch_accessed_variables=False) as tape:
                    tape.watch(y)
                    loss = objective(scores, autoencoder, x, y, onehot, c, mode, kappa, gamma, axes)
                grad = tf.clip_by_value(tape.gradient(loss, y), *clip)
                lr = lr_init * tf.sqrt(1.0 - kf / iterations)
                new, y_new = fista_step(y, adv, grad, lr, kf, x, beta, lower, upper, no_info, mode)
                if stopping:  # stopped rows keep their iterates and their best
                    y = tf.where(tf.reshape(active, row), y_new, y)
                    adv = tf.where(tf.reshape(active, row), new, adv)
                else:
                    y, adv = y_new, new
                valid = is_valid(scores(judged(x, adv, mode)), onehot, target, mode, kappa)
                dist = elastic_distance(x - adv, beta, axes)
                if stopping:
                    valid = valid & active
                    step_best, since, active = stop_rule(step_best, since, active, valid, dist, patience)
                better = valid & (dist < best_dist)
                best_dist = tf.where(better, dist, best_dist)
                best_adv = tf.where(tf.reshape(better, row), adv, best_adv)
                found = found | valid
                if save_every:
                    if (k - k0 + 1) % save_every == 0:
                        saves = saves.write((k - k0 + 1) // save_every - 1, judged(x, adv, mode))
            saved = saves.stack() if save_every else tf.zeros(tf.concat([[0], tf.shape(x)], 0))
            return best_dist, best_adv, found, adv, y, step_best, since, active, saved, ran

        return run
