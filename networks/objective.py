"""The loss of a Hide-and-Seek step as a sum of small named terms, composed by `networks.hns.HideAndSeek`.

With x the images, h = hider(x) the mask logits, y the binary mask (1 = kept) of the neuron, fill(x, y) the
masked image (`networks.infill`), CE the seeker's cross-entropy, alpha the weight of classification and sg
stop_gradient, one step's objective is

    objective = mean_i [ alpha CE_i + (1 - alpha) size_i ]      the reported total (sg under REINFORCE):
                                                                   `Classification`, `MaskSize` (or `AreaHinge`)
              + lambda mean(relu(|h| - bound)^2)               `LogitBound`
              + alpha mean CE(seeker(fill(x, 1[p > 0.5])))     `EvaluationMask` (stochastic neurons)
              + alpha mean CE(seeker(fill(x, r)))              `RandomMasks` (seeker_training 'random-masks')
              + mu TV(y)                                       `Smoothness`
              + alpha mean CE(seeker(fill(x, y^(k_i))))        `NestedBudget` (top-k masks)
              + s - sg(s)                                      `ScoreFunction` (REINFORCE)
    hider  objective = objective - W mean H(seeker(fill(x, 1 - y)))       `MaskedOut`
    seeker objective = objective + alpha mean CE(seeker(fill(x, 1 - y)))

each term present only where its settings ask for it (`objective_terms`, the one place that picks them). Each
term's docstring holds its formula and where it comes from; its keys, rules and run-folder parts are plain data
in `networks.term_keys`. None of the terms after the reported total is part of the reported ``loss``.

A term has up to three parts, each called by HideAndSeek with the model and the step's values (a dict: x,
labels, training, alpha, h, y, logits, ce, mask_size, and whatever the terms add):

- ``per_sample``: its share of the per-image reported loss (summed in `TERMS` order, then averaged);
- ``forward``: the extra passes it needs (masked-out, nested and random images), run before any term adds to
  the objective, in ``forward_rank`` order, so that the noise in-fill's draws come in the order of the seeded
  runs already made;
- ``add``: its part of the objective (`Objective`), in `TERMS` order, the order in which the sums were always
  accumulated (floating-point sums of another order would train other weights).

A term that draws random numbers names the model's `keras.random.SeedGenerator` it uses (``seed_name``): the
model owns it, so that its state is saved with the model and a resumed run draws the same numbers.
"""
from __future__ import annotations

import keras
from keras import ops

from networks import term_keys
from networks.evalx import random_keep
from networks.infill import Zero, infill


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


class Objective:
    """The objective being summed: one for both networks until a term gives the hider and the seeker
    different parts (`MaskedOut`); then ``hider`` and ``seeker`` are the two objectives."""

    def __init__(self, value):
        self.hider = self.seeker = value

    def add(self, value) -> None:
        if self.hider is self.seeker:
            self.hider = self.seeker = self.hider + value
        else:
            self.hider, self.seeker = self.hider + value, self.seeker + value


class Term:
    """One summand of the objective (see the module docstring); the base adds nothing."""

    spec = term_keys.TermSpec("")  # its keys and rules (`networks.term_keys`)
    seed_name = None               # the model's SeedGenerator it draws from, if any
    forward_rank = 0               # where its `forward` runs among the others'
    splits = False                 # whether it gives the hider and the seeker different objectives
    logs = {}                      # metric name -> the step's per-image values it averages

    def __init__(self, settings: dict):
        self.settings = {key.name: settings[key.name] for key in self.spec.keys}

    @classmethod
    def applies(cls, settings: dict, neuron) -> bool:
        """Whether the objective of a model with `settings` (every key, ``seeker_training``) and `neuron` has it."""
        return True

    def per_sample(self, model, step):
        return None

    def forward(self, model, step) -> None:
        pass

    def add(self, model, step, objective: Objective) -> None:
        pass


class Classification(Term):
    """alpha CE_i, the seeker's cross-entropy on the kept pixels, fill(x_i, y_i) (Hide-and-Seek, arXiv 2005.00130)."""

    def per_sample(self, model, step):
        return step["alpha"] * step["ce"]


class MaskSize(Term):
    """(1 - alpha) mean_j y_ij, the share of image i kept (Hide-and-Seek's interpretability term).

    Under a budget (top-k masks, `networks.budget.TopKNeuron`) it is k / n, a constraint rather than a cost: no
    gradient, and alpha only weighs the classification loss against the other terms. With REINFORCE its
    gradient is exact: its expectation (1 - alpha) mean(p) is known (`expected`, used by `ScoreFunction`)."""

    @classmethod
    def applies(cls, settings, neuron):
        return not settings["area_hinge"]

    def per_sample(self, model, step):
        return (1.0 - step["alpha"]) * step["mask_size"]  # under a budget k / n, without gradient (`_forward`)

    def expected(self, model, step):
        """(1 - alpha) E[mean(y)] = (1 - alpha) mean(p): the term's expectation under a stochastic neuron."""
        return (1.0 - step["alpha"]) * ops.mean(model.neuron.probability(step["h"]))


class AreaHinge(MaskSize):
    """CASM's area hinge (Zolna, Geras & Cho 2020, "Classifier-agnostic saliency map extraction", CVIU;
    kondiz/casme): the size counts only for the images whose masked image the seeker already classifies right,

        per image: (1 - alpha) sg(1[argmax seeker(fill(x_i, y_i)) = label_i]) mean_j y_ij

    so a mask that misses the evidence feels only the classification gradient and is not shrunk further while it
    is wrong (thresholded masks only: under a budget the size is a constant). The reported total is this hinged
    loss; with REINFORCE the exact gradient of the size is hinged alike."""

    spec = term_keys.AREA_HINGE

    @classmethod
    def applies(cls, settings, neuron):
        return bool(settings["area_hinge"])

    @staticmethod
    def correct(step):
        """sg(1[argmax seeker(fill(x_i, y_i)) = label_i]) per image, kept in the step as ``correct``."""
        if "correct" not in step:
            predicted = ops.cast(ops.argmax(step["logits"], axis=-1), "int32")
            correct = ops.equal(predicted, ops.cast(ops.reshape(step["labels"], (-1,)), "int32"))
            step["correct"] = ops.stop_gradient(ops.cast(correct, step["mask_size"].dtype))
        return step["correct"]

    def per_sample(self, model, step):
        return (1.0 - step["alpha"]) * self.correct(step) * step["mask_size"]

    def expected(self, model, step):
        p = model.neuron.probability(step["h"])
        p = ops.mean(ops.reshape(p, (ops.shape(p)[0], -1)), axis=-1)
        return (1.0 - step["alpha"]) * ops.mean(self.correct(step) * p)


class LogitBound(Term):
    """lambda mean(relu(|h| - bound)^2): keeps the hider's logits from drifting far past the threshold, where a
    straight-through mask would take many steps to flip; zero while |h| <= bound."""

    spec = term_keys.LOGIT_BOUND

    def penalty(self, h):
        bound, weight = self.settings["logit_bound"], self.settings["logit_penalty"]
        return weight * ops.mean(ops.square(ops.relu(ops.abs(h) - bound)))

    def add(self, model, step, objective):
        objective.add(self.penalty(step["h"]))


class EvaluationMask(Term):
    """alpha mean CE(seeker(fill(x, y_eval))), y_eval = 1[p > 0.5] without gradient to the hider: a seeker of
    stochastic masks also learns the mask it is evaluated with. Without it the seeker learns only sampled masks
    and, where many probabilities stay undecided (ST2, REINFORCE), fails on the thresholded mask (measured in
    docs/results/2026-11-23-evaluation-mask.md). Not with a frozen seeker."""

    forward_rank = 2

    @classmethod
    def applies(cls, settings, neuron):
        return neuron.stochastic and settings["seeker_training"] != "frozen"

    def forward(self, model, step):
        if step["training"]:
            x = step["x"]
            y_eval = ops.stop_gradient(ops.cast(model.neuron.probability(step["h"]) > 0.5, x.dtype))
            step["evaluation_mask_ce"] = model.seeker_ce(model.fill(x, y_eval, True), step["labels"])

    def add(self, model, step, objective):
        objective.add(step["alpha"] * step["evaluation_mask_ce"])


class RandomMasks(Term):
    """alpha mean CE(seeker(fill(x, r))) on masks r that do not depend on the image (EVAL-X, Jethani et al. 2021),
    so that the seeker must read whatever pixels it is shown rather than the masks' shapes.

    r ~ `networks.evalx.random_keep` (a keep rate U(min_keep_rate, 1) per image, Bernoulli per pixel or per cell of
    ``random_mask_grid``); with ``random_mask_shape`` 'budget' (top-k masks only) r keeps exactly the budget's k
    elements chosen uniformly at random per image (`networks.budget.TopKNeuron.random_mask`): the seeker learns
    masks of the size and cells its hider gives it."""

    spec = term_keys.RANDOM_MASKS
    seed_name = "random_masks"
    forward_rank = 3

    def __init__(self, settings):
        super().__init__(settings)
        self.min_keep_rate, self.grid = settings["min_keep_rate"], settings["random_mask_grid"]

    @classmethod
    def applies(cls, settings, neuron):
        return settings["seeker_training"] == "random-masks"

    def forward(self, model, step):
        if step["training"]:
            x = step["x"]
            if self.settings["random_mask_shape"] == "budget":
                r = model.neuron.random_mask(x, model.random_masks)
            else:
                r = random_keep(x, model.random_masks, self.min_keep_rate, self.grid)
            step["random_mask_ce"] = model.seeker_ce(model.fill(x, r, True), step["labels"])

    def add(self, model, step, objective):
        objective.add(step["alpha"] * step["random_mask_ce"])


class Smoothness(Term):
    """mu (mean|y[i+1, j] - y[i, j]| + mean|y[i, j+1] - y[i, j]|), the total variation of the binary mask
    (straight-through gradient): isolated kept or hidden pixels cost, blobs do not. REINFORCE's sampled mask
    carries no gradient, so there the term moves nothing."""

    spec = term_keys.SMOOTHNESS

    @classmethod
    def applies(cls, settings, neuron):
        return bool(settings["mask_smoothness"])

    def add(self, model, step, objective):
        objective.add(self.settings["mask_smoothness"] * total_variation(step["y"]))


class NestedBudget(Term):
    """Nested budgets (top-k masks), after nested dropout (Rippel, Gelbart & Adams 2014, "Learning ordered
    representations with nested dropout", ICML): a top-k mask's straight-through gradient acts only around the k-th
    logit, so nothing orders the pixels inside the mask. Each image i also draws u_i = F^v_i, v_i ~ U(0, 1)
    (log-uniform on [F, 1]), and the seeker classifies it shown only the top k_i = max(1, round(u_i b n)) of the
    same ranking, a prefix of the mask:

        alpha mean_i CE(seeker(fill(x_i, y_i^(k_i))), label_i)

    Hider and seeker both learn it (the seeker to read the smaller masks, the hider to put the pixels that decide
    the class first), so the ranking, not only its cut at k, carries the evidence. Training only."""

    spec = term_keys.NESTED_BUDGET
    seed_name = "nested_draws"
    forward_rank = 1
    logs = {"nested_classification_loss": "nested_ce"}

    @classmethod
    def applies(cls, settings, neuron):
        return bool(settings["nested_budget"])

    def mask(self, model, x, h):
        """The top k_i of each image's ranking, k_i = round(u_i b n) with u_i log-uniform on [F, 1]."""
        v = keras.random.uniform((ops.shape(x)[0],), seed=model.nested_draws)
        return model.neuron.nested(h, ops.power(self.settings["nested_budget"], v))

    def forward(self, model, step):
        if step["training"]:
            x, seeker = step["x"], model.seeker
            logits = seeker(model.fill(x, self.mask(model, x, step["h"]), True), training=seeker.trainable)
            step["nested_ce"] = model.ce(step["labels"], logits)

    def add(self, model, step, objective):
        objective.add(step["alpha"] * ops.mean(step["nested_ce"]))


class ScoreFunction(Term):
    """REINFORCE's gradient of the reported total (the neuron's sampled mask carries none):

        s = surrogate(alpha CE_i, y, h) + size.expected,    objective += s - sg(s)

    the score function (`networks.binary.reinforce_surrogate`) for the classification loss only; the size term's
    expectation is known, so its gradient is exact (Rao-Blackwellisation: unbiased, with less variance). The
    reported total itself enters the objective without gradient (`HideAndSeek.train_step`)."""

    @classmethod
    def applies(cls, settings, neuron):
        return not neuron.pathwise

    def add(self, model, step, objective):
        size = next(term for term in model.terms if isinstance(term, MaskSize))
        s = model.neuron.surrogate(step["alpha"] * step["ce"], step["y"], step["h"])
        s += size.expected(model, step)
        objective.add(s - ops.stop_gradient(s))


class MaskedOut(Term):
    """The masked-out objective (Phang, Park & Geras 2020, arXiv:2010.09750: cross-entropy on the masked-in image
    plus entropy maximisation on the masked-out one, the classifier trained on masked images too). With H(p) =
    -sum_c p_c log p_c and the complement fill(x, 1 - y) (straight-through, as the masked-in term):

        hider  objective -= W mean_i H(softmax(seeker(fill(x_i, 1 - y_i))))          (``masked_out_weight`` W)
        seeker objective += alpha mean_i CE(seeker(fill(x_i, 1 - sg(y_i))), label_i)  (``seeker_masked_out``)

    so that what the mask leaves out tells the seeker nothing, and the hider has to remove the evidence rather
    than make a complement that merely confuses a seeker that never saw one. The two are objectives of different
    variables: with this term the hider's gradient comes from the hider objective, every other from the
    seeker's. The seeker's CE is differentiated with respect to the seeker only, where sg(y) and y are the same.
    With REINFORCE the sampled mask carries no gradient, so W moves nothing. Logs ``masked_out_entropy``."""

    spec = term_keys.MASKED_OUT
    splits = True
    logs = {"masked_out_entropy": "masked_out_entropy"}

    @classmethod
    def applies(cls, settings, neuron):
        return bool(settings["masked_out_weight"] or settings["seeker_masked_out"])

    def forward(self, model, step):
        training, x = step["training"], step["x"]
        step["masked_out_entropy"], step["masked_out_logits"] = masked_out_entropy(
            model.seeker, x, step["y"], training and model.seeker.trainable, model.infiller,
            model.fill_seeds(x, training))

    def add(self, model, step, objective):
        hider, seeker = objective.hider, objective.seeker
        if self.settings["masked_out_weight"]:
            hider -= self.settings["masked_out_weight"] * ops.mean(step["masked_out_entropy"])
        if self.settings["seeker_masked_out"]:
            seeker += step["alpha"] * ops.mean(model.ce(step["labels"], step["masked_out_logits"]))
        objective.hider, objective.seeker = hider, seeker


# Every term, in the order the objective sums them; `objective_terms` picks those a model's settings ask for.
TERMS = (Classification, MaskSize, AreaHinge, LogitBound, EvaluationMask, RandomMasks, Smoothness, NestedBudget,
         ScoreFunction, MaskedOut)


def check_settings(settings: dict, neuron) -> None:
    """A ValueError for a term's key out of its range or choices, or a broken rule (`networks.term_keys`)."""
    for name, value in settings.items():
        problem = term_keys.KEYS[name].problem(value) if name in term_keys.KEYS else None
        if problem:
            raise ValueError(f"{name} {problem}")
    context = {**settings, "mask_mode": "topk" if neuron.estimator == "topk" else "threshold"}
    for rule in term_keys.settings_problems(context):
        raise ValueError(rule.render(context, lambda key, value, _: key if value is True else f"{key}={value!r}"))


def objective_terms(settings: dict, neuron) -> list[Term]:
    """The terms of the objective of a model with `settings` (every key of `networks.term_keys.KEYS`,
    ``seeker_training``, ``min_keep_rate``, ``random_mask_grid``) and `neuron`, in `TERMS` order, checked."""
    check_settings(settings, neuron)
    return [cls(settings) for cls in TERMS if cls.applies(settings, neuron)]
