"""The Hide-and-Seek model: hider -> binary neuron -> mask * input -> seeker.

Loss of a batch (y the binary mask, 1 = kept; CE the seeker's cross-entropy)::

    total = alpha * mean(CE) + (1 - alpha) * mean(y) + lambda * mean(relu(|h| - bound)^2)

The last term (``logit_penalty`` lambda, ``logit_bound``) only keeps the hider's logits h from
drifting far past the threshold, where a straight-through mask would take many steps to flip;
it is zero while |h| <= bound and is not part of the reported total.

With stochastic neurons the seeker is also trained on the mask it is evaluated with,
y_eval = 1[p > 0.5] (no gradient to the hider): ``+ alpha * mean(CE(seeker(x * y_eval)))``;
with REINFORCE the seeker learns from y_eval only, and the sampled masks only score the hider:
the score function (`networks.binary.reinforce_surrogate`) estimates the gradient of
alpha * CE, while that of the mask term, whose expectation (1 - alpha) mean(p) is known, is
taken exactly (Rao-Blackwellisation: unbiased, with less variance).
Without this the seeker learns only sampled masks, and when many probabilities stay undecided
(ST2, REINFORCE) it fails on the thresholded mask: on mnist-5k at alpha 0.5 (30 epochs from
pretrained weights) ST2 reached 0.910 test accuracy without the term and 0.944 with it,
REINFORCE 0.874 without and 0.922 with. None of this is part of the reported total.

How the seeker learns (``seeker_training``), because a seeker trained only on its own hider's masks
can learn to read the class from the mask's *shape*, and the hider to write it there:

- ``joint`` (the original): hider and seeker minimise the loss above together.
- ``random-masks``: as joint, plus the EVAL-X loss on masks r that do not depend on the image,
  ``+ alpha * mean(CE(seeker(x * r)))`` with r ~ `networks.evalx.random_keep` (a keep rate
  U(min_keep_rate, 1) per image, Bernoulli per pixel or per cell of ``random_mask_grid``), so that the
  seeker must read whatever pixels it is shown rather than shapes.
  With ``random_mask_shape='budget'`` (top-k masks only) r keeps instead exactly the budget's k
  elements (pixels or the neuron's cells), chosen uniformly at random per image
  (`networks.budget.TopKNeuron.random_mask`): the seeker learns masks of the size and cell shape
  its hider gives it.
- ``frozen`` (REAL-X, Jethani et al. 2021): the seeker comes trained on random masks
  (pretrain_seeker.py --random_masks) and is never updated; only the hider learns, against a
  classifier that never saw its masks during training.

``mask_smoothness`` mu adds the total variation of the binary mask (straight-through gradient),
``mu * (mean|y[i+1, j] - y[i, j]| + mean|y[i, j+1] - y[i, j]|)``: isolated kept or hidden pixels
cost, blobs do not. It is not part of the reported total either. REINFORCE's sampled mask carries
no gradient, so with ``--estimator reinforce`` the term moves nothing.

A budget instead of a penalty (``--mask_mode topk``, the neuron `networks.budget.TopKNeuron`): the
mask keeps exactly k = round(b n) of the n pixels (or cells) of every image, the hider's top k, and
the schedule of `utils.training.budget` lowers b. Then mean(y) = k / n is the budget itself, a
constant (no gradient): ``(1 - alpha) mean(y)`` moves nothing, and alpha only weights the
classification loss against the other terms (the logit bound, smoothness, the random-mask term),
so it is 1 unless given (no adaptive alpha). The logs hold ``budget`` beside ``alpha``.

The masked-out objective (Phang, Park & Geras 2020, arXiv:2010.09750; their best setting is
cross-entropy on the masked-in image plus entropy maximisation on the masked-out one, with the
classifier trained on masked images too). With y the binary mask (straight-through, as in the
masked-in term) and H(p) = -sum_c p_c log p_c, ``masked_out_weight`` W gives the hider

    hider objective  = total + ... - W * mean_i H(softmax(seeker(x_i * (1 - y_i))))

so that what the mask leaves out tells the seeker nothing; ``seeker_masked_out`` gives the seeker

    seeker objective = total + ... + alpha * mean_i CE(seeker(x_i * (1 - sg(y_i))), label_i)

so that the hider has to remove the evidence rather than make a complement that merely confuses a
seeker that never saw one. The two are different objectives of different variables: when either
is on, the hider's gradient is taken from the hider objective and the seeker's from the seeker
objective (otherwise both from the one objective, as above). The seeker sees the complement once:
its CE term is differentiated with respect to the seeker's variables only, where sg(y) and y are
the same. The logs then hold ``masked_out_entropy``, the mean H on the complement. With REINFORCE
the sampled mask carries no gradient, so W moves nothing.

In-filling (``mask_infill``): every masked image the model makes (masked-in, masked-out, the
evaluation mask's and the random masks' terms, and `call`, so that evaluation scores what was
trained) is ``x~ = x * z + (1 - z) * G(x, round(z))`` (`networks.infill.infill`, no gradient through
G) with G zero (the original: exactly x * z), blur, local-mean or noise (`networks.infill`, FIDO's
settings scaled to the image size), so that masked images stay closer to the training
distribution than black holes do. The hider's gradient through the blend is x - G per kept
element. The noise in-filler draws fresh noise every training step from the model's seed.

CASM's area hinge (``area_hinge``; Zolna, Geras & Cho 2020, "Classifier-agnostic saliency map
extraction", CVIU; kondiz/casme): the mask-size term acts only on the images whose masked-in image
the seeker already classifies correctly,

    per image: alpha * CE_i + (1 - alpha) * sg(1[argmax seeker(x_i * y_i) = label_i]) * mean(y_i)

so a mask that misses the evidence feels only the classification gradient and is not shrunk
further while it is wrong (thresholded masks only: under a budget the size term is a constant).
The reported total is this hinged loss; with REINFORCE the exact mask-term gradient is hinged alike.

Nested budgets (``nested_budget`` F in (0, 1), top-k masks only), after nested dropout (Rippel,
Gelbart & Adams 2014, "Learning ordered representations with nested dropout", ICML): a top-k mask's
straight-through gradient acts only around the k-th logit, so nothing orders the pixels inside the
mask. Every training step each image i also draws a fraction u_i = F^v_i, v_i ~ U(0, 1) (log-uniform
on [F, 1]), and the seeker classifies the image shown only the top k_i = max(1, round(u_i b n)) of
the same ranking, a prefix of the mask and inside it:

    objective += alpha * mean_i CE(seeker(fill(x_i, y_i^(k_i))), label_i)

Hider and seeker both learn this term (the seeker has to read the smaller masks, the hider to put the
pixels that decide the class first), so the hider's ranking, not only its cut at k, carries the
evidence. The logs then hold ``nested_classification_loss``; evaluation and prediction are unchanged.
"""
from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from networks.choices import MASK_INFILLS, RANDOM_MASK_SHAPES, SEEKER_TRAININGS
from networks.evalx import random_keep
from networks.feature_hider import build_feature_hider, live_recipe
from networks.infill import Zero, data_free_infiller, infill
from networks.metrics import fidelity, fii, fir, foreground_pixels


def total_variation(y):
    """mean|y[:, i+1, j] - y[:, i, j]| + mean|y[:, i, j+1] - y[:, i, j]| over a batch of (n, H, W, C) masks."""
    return (ops.mean(ops.abs(y[:, 1:, :, :] - y[:, :-1, :, :]))
            + ops.mean(ops.abs(y[:, :, 1:, :] - y[:, :, :-1, :])))


def entropy(logits):
    """H(softmax(logits)) = -sum_c p_c log p_c per row of (n, classes) logits."""
    log_p = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
    return -ops.sum(ops.exp(log_p) * log_p, axis=-1)


def masked_out_entropy(seeker, x, y, training=False, infiller=None, seeds=None):
    """(per-image entropy H(softmax(seeker(x~))), the seeker's logits on x~), x~ the complement x * (1 - y)
    in-filled by `infiller` (`networks.infill.infill`; default zero: x~ = x * (1 - y))."""
    logits = seeker(infill(x, 1.0 - y, infiller or Zero(), seeds), training=training)
    return entropy(logits), logits


def _check_hider(hider) -> None:
    """A ValueError unless `hider` ends in one channel of logits (no activation on its output layer)."""
    channels = hider.output_shape[-1]
    if channels != 1:
        raise ValueError(f"the hider outputs {channels} channels, Hide-and-Seek needs one channel of mask logits: "
                         "build it with out_channels=1, logits=True")
    activation = getattr(hider.layers[-1], "activation", None)
    if activation not in (None, keras.activations.linear):
        raise ValueError(f"the hider ends in a {getattr(activation, '__name__', activation)} activation "
                         f"({hider.layers[-1].name}) but the binary neuron needs logits: build it with logits=True")


@keras.saving.register_keras_serializable("hns")
class HideAndSeek(keras.Model):
    """A hider, a binary neuron and a seeker trained together (see the module docstring).

    ``mask(x)`` gives the binary mask, its probability and the hider's logits; calling the model
    classifies the masked input. ``fit`` trains both networks on the loss above, ``evaluate``
    reports it with the deterministic evaluation mask.

    Args:
        hider: Keras model from images to one channel of mask logits h (same height and width).
        seeker: Keras classifier of images, returning logits.
        neuron: binary neuron from `networks.binary` (deterministic or stochastic).
        alpha: weight of the classification loss; a variable that the adaptive schedule lowers.
        logit_bound, logit_penalty: the penalty lambda * mean(relu(|h| - bound)^2).
        baseline: accuracy of the seeker trained alone; when given, the logs hold Fidelity, FIR
            and FII (`networks.metrics`).
        foreground_threshold: of `networks.metrics.foreground_pixels`, for the logged ``hidden_fg``.
        seeker_training: 'joint', 'random-masks' or 'frozen' (see the module docstring); with
            'frozen' the seeker's weights are made non-trainable here.
        min_keep_rate, random_mask_grid: the random masks of 'random-masks' (keep rates from
            U(min_keep_rate, 1); grid cells per side or None for pixels). seed: their seed.
        mask_smoothness: weight mu of the total-variation penalty.
        masked_out_weight: W of the hider's entropy term on the complement x * (1 - y) (0: off).
        seeker_masked_out: whether the seeker also learns the CE on the complement (see the module docstring).
        area_hinge: whether the mask-size term counts only for correctly classified images (CASM).
        random_mask_shape: 'evalx' (`random_keep`) or 'budget' (k random cells of the top-k neuron) for the
            random masks of 'random-masks'.
        mask_infill: what masked images hold where the mask hides: 'zero', 'blur', 'local-mean' or 'noise'.
        nested_budget: F of the nested-budget term (top-k masks; 0: off; see the module docstring).

    Logs: ``loss`` (the total without the penalty), ``classification_loss``, ``mask_loss``,
    ``accuracy``, ``hidden`` (share of mask elements hidden), ``hidden_fg``, ``alpha``, and with a
    baseline ``fidelity``, ``fir``, ``fii``. Every step writes its classification and total losses
    (averaged over replicas) to row ``step_count % steps_per_execution`` of ``step_buffer`` and
    counts itself in ``step_count``, so that the adaptive schedule reads all steps of a compiled
    call at once, after it, instead of synchronising with the host every step. ``compile`` makes the
    buffer, a row per step of its ``steps_per_execution``, so compile before building the model.

    A ValueError refuses a hider that does not end in one channel of logits: the neuron thresholds
    h > 0, so after a sigmoid (the builders' ``logits=False``) every pixel would be kept forever.
    """

    def __init__(self, hider: keras.Model, seeker: keras.Model, neuron: keras.layers.Layer,
                 alpha: float = 1.0, logit_bound: float = 4.0, logit_penalty: float = 1.0,
                 baseline: float | None = None, foreground_threshold: float = 0.1,
                 seeker_training: str = "joint", min_keep_rate: float = 0.01, random_mask_grid=None,
                 mask_smoothness: float = 0.0, seed=None, masked_out_weight: float = 0.0,
                 seeker_masked_out: bool = False, random_mask_shape: str = "evalx",
                 mask_infill: str = "zero", area_hinge: bool = False, nested_budget: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        _check_hider(hider)
        if seeker_training not in SEEKER_TRAININGS:
            raise ValueError(f"seeker_training must be one of {SEEKER_TRAININGS}, got {seeker_training!r}")
        self.hider, self.seeker, self.neuron = hider, seeker, neuron
        self.seeker_training, self.mask_smoothness = seeker_training, float(mask_smoothness)
        self.min_keep_rate, self.random_mask_grid, self.seed = float(min_keep_rate), random_mask_grid, seed
        if seeker_training == "frozen":
            seeker.trainable = False
        if masked_out_weight < 0:
            raise ValueError(f"masked_out_weight must be >= 0, got {masked_out_weight}")
        if seeker_masked_out and seeker_training == "frozen":
            raise ValueError("seeker_masked_out trains the seeker, which seeker_training='frozen' never updates")
        self.masked_out_weight, self.seeker_masked_out = float(masked_out_weight), bool(seeker_masked_out)
        self.masked_out = bool(self.masked_out_weight or self.seeker_masked_out)
        if random_mask_shape not in RANDOM_MASK_SHAPES:
            raise ValueError(f"random_mask_shape must be one of {RANDOM_MASK_SHAPES}, got {random_mask_shape!r}")
        if random_mask_shape == "budget" and (neuron.estimator != "topk" or seeker_training != "random-masks"):
            raise ValueError("random_mask_shape='budget' draws the random masks of seeker_training='random-masks' "
                             "with the budget of a top-k neuron (networks.budget.TopKNeuron)")
        self.random_mask_shape = random_mask_shape
        if mask_infill not in MASK_INFILLS:
            raise ValueError(f"mask_infill must be one of {MASK_INFILLS}, got {mask_infill!r}")
        if area_hinge and neuron.estimator == "topk":
            raise ValueError("area_hinge hinges the mask-size penalty of thresholded masks; a top-k mask's size is "
                             "its budget, a constant")
        self.area_hinge = bool(area_hinge)
        if not 0 <= nested_budget < 1:
            raise ValueError(f"nested_budget must be in [0, 1), got {nested_budget}")
        if nested_budget and neuron.estimator != "topk":
            raise ValueError("nested_budget cuts a top-k mask's ranking lower (networks.budget.TopKNeuron); a "
                             "thresholded mask has no ranking to cut")
        self.nested_budget = float(nested_budget)
        # Only where used, so that the weights files of the other trainings keep their layout.
        self.nested_draws = (keras.random.SeedGenerator(seed, name="nested_draws") if nested_budget else None)
        self.mask_infill, self.infiller = mask_infill, data_free_infiller(mask_infill, hider.input_shape[1])
        # Only where used, so that the weights files of the other fills keep their layout.
        self.fill_noise = (keras.random.SeedGenerator(seed, name="fill_noise") if mask_infill == "noise" else None)
        # Only where used, so that the weights files of the other trainings keep their layout.
        self.random_masks = (keras.random.SeedGenerator(seed, name="random_masks")
                             if seeker_training == "random-masks" else None)
        self.alpha = keras.Variable(alpha, trainable=False, dtype="float32", name="alpha")
        self.step_count = keras.Variable(0, trainable=False, dtype="int64", name="step_count",
                                         aggregation="only_first_replica")
        self.logit_bound, self.logit_penalty = logit_bound, logit_penalty
        self.baseline, self.foreground_threshold = baseline, foreground_threshold
        self.ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
        names = ("loss", "classification_loss", "mask_loss", "hidden", "hidden_fg")
        names += ("masked_out_entropy",) if self.masked_out else ()
        names += ("nested_classification_loss",) if self.nested_budget else ()
        self.trackers = {n: keras.metrics.Mean(name=n) for n in names}
        self.accuracy = keras.metrics.SparseCategoricalAccuracy(name="accuracy")

    def get_config(self):
        # A live feature hider reads the seeker's convolutions, which Keras cannot serialise inside it: its
        # recipe stands in, and from_config builds it again on the restored seeker.
        recipe = live_recipe(self.hider)
        return {**super().get_config(),
                "hider": keras.saving.serialize_keras_object(self.hider) if recipe is None else None,
                "live_feature_hider": recipe,
                "seeker": keras.saving.serialize_keras_object(self.seeker),
                "neuron": keras.saving.serialize_keras_object(self.neuron),
                "alpha": float(self.alpha.numpy()), "logit_bound": self.logit_bound,
                "logit_penalty": self.logit_penalty, "baseline": self.baseline,
                "foreground_threshold": self.foreground_threshold,
                "seeker_training": self.seeker_training,
                "min_keep_rate": self.min_keep_rate, "random_mask_grid": self.random_mask_grid,
                "mask_smoothness": self.mask_smoothness, "seed": self.seed,
                "masked_out_weight": self.masked_out_weight, "seeker_masked_out": self.seeker_masked_out,
                "random_mask_shape": self.random_mask_shape, "mask_infill": self.mask_infill,
                "area_hinge": self.area_hinge, "nested_budget": self.nested_budget}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        # Configs saved before compile alone took it; compile's config carries the value.
        config.pop("steps_per_execution", None)
        # Configs saved before the keep rate had one name across the library.
        if "random_mask_rate" in config:
            config["min_keep_rate"] = config.pop("random_mask_rate")
        recipe = config.pop("live_feature_hider", None)
        for key in ("seeker", "neuron") if recipe else ("hider", "seeker", "neuron"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        if recipe:
            config["hider"] = build_feature_hider(config["seeker"], **recipe)
        return cls(**config)

    def compile(self, *args, **kwargs):
        """Keras' compile; it also sizes ``step_buffer`` to one row per step of ``steps_per_execution``."""
        super().compile(*args, **kwargs)
        rows = self.steps_per_execution
        buffer = getattr(self, "step_buffer", None)
        if buffer is not None and buffer.shape[0] == rows:
            return
        if self.built:  # Keras admits no new variables once a model is built
            raise ValueError(f"this HideAndSeek was built before compile(steps_per_execution={rows}): "
                             "compile it before building or calling it")
        if buffer is not None:
            del self.step_buffer
        # Per-step values of the losses the adaptive schedule may watch: classification, total.
        self.step_buffer = keras.Variable(tf.zeros((rows, 2)), trainable=False, dtype="float32",
                                          name="step_buffer", aggregation="only_first_replica")

    def compile_from_config(self, config):
        """Compile as the saved model was, when Keras loads a ``.keras`` file (Keras skips a custom compile).

        Keras builds the loaded model first and admits no new variable after that, but this compile makes
        ``step_buffer``; nothing has been traced yet, so the buffer is made with the state unlocked.
        """
        config = keras.saving.deserialize_keras_object(config)
        built, locked = self.built, self._tracker.locked
        self.built = False
        self._tracker.unlock()
        try:
            self.compile(**config)
        finally:
            self.built = built
            if locked:
                self._lock_state()
        if built:
            self.optimizer.build(self.trainable_variables)

    def build(self, input_shape):
        # The hider and seeker are functional models, built when they were made.
        self.built = True

    @property
    def metrics(self):
        return [*self.trackers.values(), self.accuracy]

    # --- forward -------------------------------------------------------------------------
    def mask(self, x, training=False, sample=None):
        """(binary mask y, probability p, logits h); y and p have one channel."""
        h = self.hider(x, training=training)
        y = self.neuron(h, training=training, sample=sample)
        return y, self.neuron.probability(h), h

    def fill(self, x, z, training=False):
        """x in-filled where the keep mask z hides (`networks.infill.infill`): exactly x * z with zero fill.
        Noise is fresh every training step and fixed per image position otherwise."""
        return infill(x, z, self.infiller, self._fill_seeds(x, training))

    def _fill_seeds(self, x, training):
        """Per-image seeds of fresh noise for the noise fill in training (else None: the in-filler's own)."""
        if not (training and self.fill_noise is not None):
            return None
        return keras.random.randint((ops.shape(x)[0],), 0, 2**31 - 1, seed=self.fill_noise, dtype="int32")

    def call(self, x, training=False):
        y, _, _ = self.mask(x, training=training)
        return self.seeker(self.fill(x, y, training), training=training)

    # --- loss ----------------------------------------------------------------------------
    def _forward(self, x, labels, training):
        h = self.hider(x, training=training)
        y = self.neuron(h, training=training)
        logits = self.seeker(self.fill(x, y, training), training=training and self.seeker.trainable)
        ce = self.ce(labels, logits)
        mask_size = ops.mean(ops.reshape(y, (ops.shape(y)[0], -1)), axis=-1)
        if self.neuron.estimator == "topk":
            mask_size = ops.stop_gradient(mask_size)  # k / n: the budget, a constraint, not a cost
        alpha = ops.convert_to_tensor(self.alpha)
        out = dict(h=h, y=y, logits=logits, ce=ce, mask_size=mask_size)
        if self.area_hinge:
            predicted = ops.cast(ops.argmax(logits, axis=-1), "int32")
            correct = ops.equal(predicted, ops.cast(ops.reshape(labels, (-1,)), "int32"))
            out["correct"] = ops.stop_gradient(ops.cast(correct, mask_size.dtype))
            per_sample = alpha * ce + (1.0 - alpha) * out["correct"] * mask_size
        else:
            per_sample = alpha * ce + (1.0 - alpha) * mask_size
        total = ops.mean(per_sample)
        out.update(per_sample=per_sample, total=total)
        if self.masked_out:
            out["masked_out_entropy"], out["masked_out_logits"] = masked_out_entropy(
                self.seeker, x, y, training and self.seeker.trainable, self.infiller, self._fill_seeds(x, training))
        if training and self.nested_budget:
            out["nested_ce"] = self.ce(labels, self.seeker(self.fill(x, self._nested_mask(x, h), training),
                                                           training=self.seeker.trainable))
        return out

    def _nested_mask(self, x, h):
        """The top k_i of each image's ranking, k_i = round(u_i b n) with u_i log-uniform on [nested_budget, 1]."""
        v = keras.random.uniform((ops.shape(x)[0],), seed=self.nested_draws)
        return self.neuron.nested(h, ops.power(self.nested_budget, v))

    def _bound_penalty(self, h):
        return self.logit_penalty * ops.mean(ops.square(ops.relu(ops.abs(h) - self.logit_bound)))

    def train_step(self, data):
        x, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape(persistent=self.masked_out) as tape:
            out = self._forward(x, labels, training=True)
            pathwise = self.neuron.pathwise
            # REINFORCE's sampled masks only score the hider; the seeker learns from y_eval.
            objective = (out["total"] if pathwise else ops.stop_gradient(out["total"])) + \
                self._bound_penalty(out["h"])
            alpha = ops.convert_to_tensor(self.alpha)
            if self.neuron.stochastic and self.seeker_training != "frozen":
                y_eval = ops.stop_gradient(ops.cast(self.neuron.probability(out["h"]) > 0.5, x.dtype))
                objective += alpha * self._seeker_ce(self.fill(x, y_eval, True), labels)
            if self.seeker_training == "random-masks":
                if self.random_mask_shape == "budget":
                    r = self.neuron.random_mask(x, self.random_masks)
                else:
                    r = random_keep(x, self.random_masks, self.min_keep_rate, self.random_mask_grid)
                objective += alpha * self._seeker_ce(self.fill(x, r, True), labels)
            if self.mask_smoothness:
                objective += self.mask_smoothness * total_variation(out["y"])
            if self.nested_budget:
                objective += alpha * ops.mean(out["nested_ce"])
            if not pathwise:
                # Score function for the classification loss only: the mask term's expectation
                # is known, E[(1 - alpha) mean(y)] = (1 - alpha) mean(p), so its gradient is exact.
                s = self.neuron.surrogate(alpha * out["ce"], out["y"], out["h"])
                if self.area_hinge:
                    p = self.neuron.probability(out["h"])
                    p = ops.mean(ops.reshape(p, (ops.shape(p)[0], -1)), axis=-1)
                    s += (1.0 - alpha) * ops.mean(out["correct"] * p)
                else:
                    s += (1.0 - alpha) * ops.mean(self.neuron.probability(out["h"]))
                objective += s - ops.stop_gradient(s)
            if self.masked_out:
                hider_objective, seeker_objective = objective, objective
                if self.masked_out_weight:
                    hider_objective -= self.masked_out_weight * ops.mean(out["masked_out_entropy"])
                if self.seeker_masked_out:
                    seeker_objective += alpha * ops.mean(self.ce(labels, out["masked_out_logits"]))
            # Under tf.distribute gradients are summed over replicas: average them instead.
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            objective /= replicas
            if self.masked_out:
                hider_objective, seeker_objective = hider_objective / replicas, seeker_objective / replicas
        variables = self.trainable_variables
        if self.masked_out:
            grads = self._split_gradients(tape, hider_objective, seeker_objective, variables)
        else:
            grads = tape.gradient(objective, variables)
        self.optimizer.apply_gradients(zip(grads, variables))
        self._record_step(ops.stack([ops.mean(out["ce"]), out["total"]]))
        return self._update_metrics(x, labels, out)

    def _split_gradients(self, tape, hider_objective, seeker_objective, variables):
        """The gradients of `variables`: the hider's from the hider objective, every other's from the seeker's."""
        hider_ids = {id(v) for v in self.hider.trainable_variables}
        hider = [v for v in variables if id(v) in hider_ids]
        others = [v for v in variables if id(v) not in hider_ids]
        grads = dict(zip(map(id, hider), tape.gradient(hider_objective, hider)))
        grads.update(zip(map(id, others), tape.gradient(seeker_objective, others)))
        return [grads[id(v)] for v in variables]

    def _seeker_ce(self, x_masked, labels):
        """The seeker's mean cross-entropy on masked images (the evaluation-mask and random-mask terms)."""
        return ops.mean(self.ce(labels, self.seeker(x_masked, training=True)))

    def _record_step(self, values):
        """Keep this step's (classification, total) losses, averaged over replicas, for the schedule."""
        context = tf.distribute.get_replica_context()
        if context is not None and context.num_replicas_in_sync > 1:
            values = context.all_reduce(tf.distribute.ReduceOp.MEAN, values)
        row = tf.math.floormod(self.step_count.value, self.step_buffer.shape[0])
        self.step_buffer.assign(tf.tensor_scatter_nd_update(self.step_buffer.value, [[row]], values[None]))
        self.step_count.assign_add(1)

    def test_step(self, data):
        x, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self._update_metrics(x, labels, self._forward(x, labels, training=False))

    def _update_metrics(self, x, labels, out):
        y = out["y"]
        hidden = 1.0 - y
        foreground = ops.cast(foreground_pixels(x, self.foreground_threshold)[..., None], y.dtype)
        t = self.trackers
        t["loss"].update_state(out["total"])
        t["classification_loss"].update_state(ops.mean(out["ce"]))
        t["mask_loss"].update_state(ops.mean(out["mask_size"]))
        t["hidden"].update_state(hidden)
        t["hidden_fg"].update_state(hidden, sample_weight=foreground)
        if self.masked_out:
            t["masked_out_entropy"].update_state(ops.mean(out["masked_out_entropy"]))
        if "nested_ce" in out:
            t["nested_classification_loss"].update_state(ops.mean(out["nested_ce"]))
        self.accuracy.update_state(labels, out["logits"])
        return self._logs()

    def _logs(self):
        logs = {m.name: m.result() for m in self.metrics}
        logs["alpha"] = ops.convert_to_tensor(self.alpha)
        if self.neuron.estimator == "topk":
            logs["budget"] = ops.convert_to_tensor(self.neuron.budget)
        if self.baseline:
            f = fidelity(logs["accuracy"], self.baseline)
            logs.update(fidelity=f, fir=fir(f, logs["hidden"]), fii=fii(f, logs["hidden"]))
        return logs
