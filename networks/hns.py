"""The Hide-and-Seek model: hider -> binary neuron -> mask * input -> seeker, trained on a sum of terms.

One training step, as in the paper (arXiv 2005.00130) and its variants:

1. the hider gives logits h, the neuron the binary mask y (1 = kept; `networks.binary`, or a budget of exactly
   k kept elements, `networks.budget.TopKNeuron`), and the seeker classifies the masked image fill(x, y);
2. every term of the objective (`networks.objective`: classification, mask size or its area hinge, the logit
   bound, and the optional ones) adds its part, the reported total first;
3. the hider and the seeker follow the gradient of the objective (with the masked-out term: each of its own).

How the seeker learns (``seeker_training``), because a seeker trained only on its own hider's masks can learn
to read the class from the mask's *shape*, and the hider to write it there: ``joint`` (the original: both
networks minimise the objective), ``random-masks`` (joint, plus `networks.objective.RandomMasks`) or ``frozen``
(REAL-X, Jethani et al. 2021: the seeker comes trained on random masks, pretrain_seeker.py --random_masks, and
is never updated; only the hider learns, against a classifier that never saw its masks in training).

In-filling (``mask_infill``): every masked image the model makes (every term's, and `call`'s, so that
evaluation scores what was trained) is ``x~ = x * z + (1 - z) * G(x, round(z))`` (`networks.infill.infill`, no
gradient through G) with G zero (the original: exactly x * z), blur, local-mean or noise (FIDO's settings scaled
to the image size), so that masked images stay closer to the training distribution than black holes do, or mean:
the training images' mean colour, a constant held by the layer ``fill_value`` (`FillValueLayer`), which the
training stage sets (`set_fill_value`) and the run's weights files keep. The noise in-filler draws fresh noise
every training step from the model's seed.
"""
from __future__ import annotations

import functools
import operator

import keras
import tensorflow as tf
from keras import ops

from networks import term_keys
from networks.choices import MASK_INFILLS, SEEKER_TRAININGS
from networks.feature_hider import build_feature_hider, live_recipe
from networks.infill import Mean, data_free_infiller, infill
from networks.metrics import fidelity, fii, fir, foreground_pixels
from networks.objective import Objective, objective_terms


class FillValueLayer(keras.layers.Layer):
    """Holds one colour (a non-trainable weight of `channels` values): what hidden pixels hold with ``mask_infill``
    'mean' (`networks.infill.Mean` reads it). A layer, so that the weights files (`networks.weights`, by layer) keep
    it; it is never called."""

    def __init__(self, channels: int, **kwargs):
        super().__init__(**kwargs)
        self.value = self.add_weight(shape=(channels,), initializer="zeros", trainable=False, name="value")
        self.built = True


def set_fill_value(model, mean) -> None:
    """Set a ``mask_infill`` 'mean' model's fill colour to `mean` (one value in [0, 1] per channel: the training
    images' mean); every other model has none, and nothing is done."""
    if model.mask_infill == "mean":
        model.fill_value.value.assign(tf.broadcast_to(tf.constant(mean, tf.float32), model.fill_value.value.shape))


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
    """A hider, a binary neuron and a seeker trained together on the terms of `networks.objective`.

    ``mask(x)`` gives the binary mask, its probability and the hider's logits; calling the model
    classifies the masked input. ``fit`` trains both networks, ``evaluate`` reports the loss with the
    deterministic evaluation mask.

    Args:
        hider: Keras model from images to one channel of mask logits h (same height and width).
        seeker: Keras classifier of images, returning logits.
        neuron: binary neuron from `networks.binary` (deterministic or stochastic) or `networks.budget`.
        alpha: weight of the classification loss; a variable that the adaptive schedule lowers.
        baseline: accuracy of the seeker trained alone; when given, the logs hold Fidelity, FIR
            and FII (`networks.metrics`).
        foreground_threshold: of `networks.metrics.foreground_pixels`, for the logged ``hidden_fg``.
        seeker_training: 'joint', 'random-masks' or 'frozen' (see the module docstring); with
            'frozen' the seeker's weights are made non-trainable here.
        min_keep_rate, random_mask_grid: the random masks of 'random-masks' (keep rates from
            U(min_keep_rate, 1); grid cells per side or None for pixels). seed: the seed of every draw.
        mask_infill: what masked images hold where the mask hides: 'zero', 'blur', 'local-mean', 'noise' or 'mean'
            (set the colour with `set_fill_value`).
        **kwargs: the terms' keys (`networks.term_keys.KEYS`: logit_bound, logit_penalty, area_hinge,
            random_mask_shape, mask_smoothness, nested_budget, masked_out_weight, seeker_masked_out), each an
            attribute of the model, and Keras' own (name, dtype).

    ``terms`` holds the objective's terms (`networks.objective.objective_terms`, which checks the keys).

    Logs: ``loss`` (the reported total), ``classification_loss``, ``mask_loss``, ``accuracy``, ``hidden``
    (share of mask elements hidden), ``hidden_fg``, ``alpha``, each term's own (``masked_out_entropy``,
    ``nested_classification_loss``), ``budget`` under a budget, and with a baseline ``fidelity``, ``fir``,
    ``fii``. Every step writes its classification and total losses (averaged over replicas) to row
    ``step_count % steps_per_execution`` of ``step_buffer`` and counts itself in ``step_count``, so that the
    adaptive schedule reads all steps of a compiled call at once, after it, instead of synchronising with the
    host every step. ``compile`` makes the buffer, a row per step of its ``steps_per_execution``, so compile
    before building the model.

    A ValueError refuses a hider that does not end in one channel of logits: the neuron thresholds
    h > 0, so after a sigmoid (the builders' ``logits=False``) every pixel would be kept forever.
    """

    def __init__(self, hider: keras.Model, seeker: keras.Model, neuron: keras.layers.Layer, alpha: float = 1.0,
                 baseline: float | None = None, foreground_threshold: float = 0.1, seeker_training: str = "joint",
                 min_keep_rate: float = 0.01, random_mask_grid=None, seed=None, mask_infill: str = "zero", **kwargs):
        settings = {name: key.type(kwargs.pop(name, key.default)) for name, key in term_keys.KEYS.items()}
        super().__init__(**kwargs)
        _check_hider(hider)
        if seeker_training not in SEEKER_TRAININGS:
            raise ValueError(f"seeker_training must be one of {SEEKER_TRAININGS}, got {seeker_training!r}")
        if mask_infill not in MASK_INFILLS:
            raise ValueError(f"mask_infill must be one of {MASK_INFILLS}, got {mask_infill!r}")
        self.hider, self.seeker, self.neuron = hider, seeker, neuron
        self.seeker_training, self.seed = seeker_training, seed
        self.min_keep_rate, self.random_mask_grid = float(min_keep_rate), random_mask_grid
        self.terms = objective_terms({**settings, "seeker_training": seeker_training,
                                      "min_keep_rate": self.min_keep_rate, "random_mask_grid": random_mask_grid},
                                     neuron)
        for name, value in settings.items():
            setattr(self, name, value)
        if seeker_training == "frozen":
            seeker.trainable = False
        self.mask_infill = mask_infill
        if mask_infill == "mean":   # only where used, so that the other trainings' weights files keep their layout
            self.fill_value = FillValueLayer(hider.input_shape[-1], name="fill_value")
            self.infiller = Mean(self.fill_value.value)
        else:
            self.infiller = data_free_infiller(mask_infill, hider.input_shape[1])
        # Only where used, so that the weights files of the other trainings keep their layout.
        self.fill_noise = keras.random.SeedGenerator(seed, name="fill_noise") if mask_infill == "noise" else None
        for name in sorted({term.seed_name for term in self.terms if term.seed_name}):
            setattr(self, name, keras.random.SeedGenerator(seed, name=name))
        self.alpha = keras.Variable(alpha, trainable=False, dtype="float32", name="alpha")
        self.step_count = keras.Variable(0, trainable=False, dtype="int64", name="step_count",
                                         aggregation="only_first_replica")
        self.baseline, self.foreground_threshold = baseline, foreground_threshold
        self.ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
        names = ["loss", "classification_loss", "mask_loss", "hidden", "hidden_fg"]
        names += [name for term in self._forward_order() for name in term.logs]
        self.trackers = {n: keras.metrics.Mean(name=n) for n in names}
        self.accuracy = keras.metrics.SparseCategoricalAccuracy(name="accuracy")

    @property
    def masked_out(self) -> bool:
        """Whether a term gives the hider and the seeker different objectives (`networks.objective.MaskedOut`)."""
        return any(term.splits for term in self.terms)

    def term(self, kind):
        """The model's term of class `kind` (`networks.objective`), or None."""
        return next((term for term in self.terms if isinstance(term, kind)), None)

    def _forward_order(self):
        return sorted(self.terms, key=lambda term: term.forward_rank)

    def get_config(self):
        # A live feature hider reads the seeker's convolutions, which Keras cannot serialise inside it: its
        # recipe stands in, and from_config builds it again on the restored seeker.
        recipe = live_recipe(self.hider)
        return {**super().get_config(),
                "hider": keras.saving.serialize_keras_object(self.hider) if recipe is None else None,
                "live_feature_hider": recipe,
                "seeker": keras.saving.serialize_keras_object(self.seeker),
                "neuron": keras.saving.serialize_keras_object(self.neuron),
                "alpha": float(self.alpha.numpy()), "baseline": self.baseline,
                "foreground_threshold": self.foreground_threshold, "seeker_training": self.seeker_training,
                "min_keep_rate": self.min_keep_rate, "random_mask_grid": self.random_mask_grid, "seed": self.seed,
                "mask_infill": self.mask_infill, **{name: getattr(self, name) for name in term_keys.KEYS}}

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

    def build_from_config(self, config):
        """Nothing: Keras builds a loaded model before it compiles it, but this model's compile makes
        ``step_buffer``, which a built model no longer admits; `compile_from_config` (or the first call) builds it."""

    def compile_from_config(self, config):
        """Compile as the saved model was, when Keras loads a ``.keras`` file (Keras skips a custom compile), then
        build it and its optimizer, whose saved state Keras restores next. Keras marks the loaded model built
        before this, though `build_from_config` built nothing: the mark is taken back until the buffer exists."""
        self.built = False
        self.compile(**keras.saving.deserialize_keras_object(config))
        self.build(None)
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
        return infill(x, z, self.infiller, self.fill_seeds(x, training))

    def fill_seeds(self, x, training):
        """Per-image seeds of fresh noise for the noise fill in training (else None: the in-filler's own)."""
        if not (training and self.fill_noise is not None):
            return None
        return keras.random.randint((ops.shape(x)[0],), 0, 2**31 - 1, seed=self.fill_noise, dtype="int32")

    def call(self, x, training=False):
        y, _, _ = self.mask(x, training=training)
        return self.seeker(self.fill(x, y, training), training=training)

    def seeker_ce(self, x_masked, labels):
        """The seeker's mean cross-entropy on masked images in training (the terms' extra passes)."""
        return ops.mean(self.ce(labels, self.seeker(x_masked, training=True)))

    # --- the step ------------------------------------------------------------------------
    def _forward(self, x, labels, training):
        """The step's values (a dict, `networks.objective`): the masked-in pass, the reported per-image loss
        (``per_sample``, the terms' shares summed in their order) and its mean ``total``, then the terms' passes."""
        h = self.hider(x, training=training)
        y = self.neuron(h, training=training)
        logits = self.seeker(self.fill(x, y, training), training=training and self.seeker.trainable)
        mask_size = ops.mean(ops.reshape(y, (ops.shape(y)[0], -1)), axis=-1)
        if self.neuron.estimator == "topk":
            mask_size = ops.stop_gradient(mask_size)  # k / n: the budget, a constraint, not a cost
        step = dict(x=x, labels=labels, training=training, h=h, y=y, logits=logits, ce=self.ce(labels, logits),
                    mask_size=mask_size, alpha=ops.convert_to_tensor(self.alpha))
        shares = [share for share in (term.per_sample(self, step) for term in self.terms) if share is not None]
        step["per_sample"] = functools.reduce(operator.add, shares)
        step["total"] = ops.mean(step["per_sample"])
        for term in self._forward_order():
            term.forward(self, step)
        return step

    def _objectives(self, step):
        """(hider objective, seeker objective) of the step: the reported total, then every term's part, averaged
        over replicas (tf.distribute sums the gradients of replicas)."""
        # REINFORCE's sampled masks carry no gradient: the hider learns the total through ScoreFunction.
        objective = Objective(step["total"] if self.neuron.pathwise else ops.stop_gradient(step["total"]))
        for term in self.terms:
            term.add(self, step, objective)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        if objective.hider is objective.seeker:
            return (objective.hider / replicas,) * 2
        return objective.hider / replicas, objective.seeker / replicas

    def train_step(self, data):
        x, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape(persistent=self.masked_out) as tape:
            step = self._forward(x, labels, training=True)
            hider_objective, seeker_objective = self._objectives(step)
        variables = self.trainable_variables
        if self.masked_out:
            grads = self._split_gradients(tape, hider_objective, seeker_objective, variables)
        else:
            grads = tape.gradient(hider_objective, variables)
        self.optimizer.apply_gradients(zip(grads, variables))
        self._record_step(ops.stack([ops.mean(step["ce"]), step["total"]]))
        return self._update_metrics(x, labels, step)

    def _split_gradients(self, tape, hider_objective, seeker_objective, variables):
        """The gradients of `variables`: the hider's from the hider objective, every other's from the seeker's."""
        hider_ids = {id(v) for v in self.hider.trainable_variables}
        hider = [v for v in variables if id(v) in hider_ids]
        others = [v for v in variables if id(v) not in hider_ids]
        grads = dict(zip(map(id, hider), tape.gradient(hider_objective, hider)))
        grads.update(zip(map(id, others), tape.gradient(seeker_objective, others)))
        return [grads[id(v)] for v in variables]

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

    def _update_metrics(self, x, labels, step):
        y = step["y"]
        hidden = 1.0 - y
        foreground = ops.cast(foreground_pixels(x, self.foreground_threshold)[..., None], y.dtype)
        t = self.trackers
        t["loss"].update_state(step["total"])
        t["classification_loss"].update_state(ops.mean(step["ce"]))
        t["mask_loss"].update_state(ops.mean(step["mask_size"]))
        t["hidden"].update_state(hidden)
        t["hidden_fg"].update_state(hidden, sample_weight=foreground)
        for term in self.terms:
            for name, key in term.logs.items():
                if key in step:
                    t[name].update_state(ops.mean(step[key]))
        self.accuracy.update_state(labels, step["logits"])
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
