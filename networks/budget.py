"""A mask with a pixel budget: exactly k kept pixels (or grid cells) per image, the hider's top k.

``--mask_mode topk`` replaces the thresholded binary neuron (`networks.binary`) by `TopKNeuron`.
With n mask elements per image (pixels, or G x G cells with ``grid`` G) and the budget b (a share
of the image, a non-trainable variable that `utils.training.budget` lowers):

    k = max(1, round(b * n))                       (round half to even)
    forward:   y_i = 1[rank(h_i) < k]              (ranks by descending logit, ties by index:
                                                    the lower index is kept first)
    backward:  dy_i/dh_i = sigma'((h_i - h_k) / t) / t = s_i (1 - s_i) / t,
               s_i = sigmoid((h_i - h_k) / t)

with h_k the k-th largest logit of the image, treated as a constant (straight-through around the
k-th value: the gradient of the soft mask s, the hard mask in the forward pass). Only the logits
near the cut feel a push across it; a logit far above or below stays where it is, because moving
it changes nothing. On a grid the logits are first averaged per cell (of size / G pixels per side)
and the cells' mask is repeated over their pixels, so the gradient reaches every pixel of a cell
as 1 / cell^2 of the cell's.

``probability`` is s, the soft mask above (s > 0.5 above the cut, s = 0.5 at the k-th value):
ranking by it is ranking by h, the deterministic order the hard mask keeps.

The same k and order hold in training, evaluation and prediction: nothing is sampled.

``random_mask`` draws masks of the same size and cells that do not depend on the image: the top k of
uniform noise per element, i.e. k of the n elements chosen uniformly at random per image (HideAndSeek's
``random_mask_shape='budget'``: the seeker's random masks shaped like the hider's).
"""
from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops


# t of the straight-through gradient: the budget mode's, and the top-k objective's of per-image refinement.
TEMPERATURE = 1.0


def keep_count(budget, n: int):
    """k = max(1, round(budget * n)) as an int32 tensor (round half to even)."""
    k = tf.cast(tf.round(tf.cast(budget, tf.float64) * n), tf.int32)
    return tf.clip_by_value(k, 1, n)


def ranking(h):
    """(order, ranks) of each row of (B, n) scores `h`: order[i] its indices by descending score, equal scores by
    index (the lower first), and ranks[i, j] the place of element j in that order. The one top-k rule of the
    library: the top k of a row are the elements of rank < k (`utils.explainers.topk` cuts score maps with it)."""
    # tf.argsort is stable: among equal logits the lower index comes first.
    order = tf.argsort(h, axis=-1, direction="DESCENDING", stable=True)
    return order, tf.argsort(order, axis=-1, stable=True)


def top_k_mask(h, budget, temperature: float = TEMPERATURE):
    """(hard mask y, soft mask s) of (B, n) logits `h`: exactly k = keep_count(budget, n) ones per row.

    `budget` is a scalar (one k for every row) or a (B,) tensor (row i keeps k_i = keep_count(budget_i, n)).
    y is exactly the hard top-k mask in the forward pass and has the gradient of s in the backward
    pass (see the module docstring).
    """
    return top_k_count_mask(h, keep_count(budget, h.shape[-1]), temperature)


def top_k_count_mask(h, k, temperature: float = TEMPERATURE):
    """`top_k_mask` with the number kept given directly: `k` a scalar or (B,) int tensor in [1, n]. Per-image
    refinement (`utils.explainers.masks`, objective "topk") keeps each image's own count this way."""
    k = tf.broadcast_to(tf.cast(k, tf.int32), tf.shape(h)[:1])   # one k per row
    order, ranks = ranking(h)
    y_hard = tf.cast(ranks < k[:, None], h.dtype)
    h_k = tf.gather(tf.gather(h, order, batch_dims=1), k - 1, batch_dims=1)[:, None]
    s = tf.sigmoid((h - tf.stop_gradient(h_k)) / temperature)
    return y_hard + s - tf.stop_gradient(s), s


@keras.saving.register_keras_serializable("hns")
class TopKNeuron(keras.layers.Layer):
    """The hider's top-k mask under a budget (see the module docstring).

    Args:
        budget: the starting share of mask elements kept, in (0, 1]; the weight ``budget`` holds it
            (non-trainable, saved with the model, so a checkpoint carries the budget it was trained at).
        grid: G cells per side (G must divide the image size), or None for pixels.
        temperature: t of the straight-through gradient.

    Called on (B, H, W, 1) logits, returns the (B, H, W, 1) binary mask.
    """

    stochastic = False
    estimator = "topk"
    pathwise = True

    def __init__(self, budget: float = 0.5, grid=None, temperature: float = TEMPERATURE, **kwargs):
        super().__init__(**kwargs)
        if not 0 < budget <= 1:
            raise ValueError(f"budget must be in (0, 1], got {budget}")
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.initial_budget, self.grid, self.temperature = float(budget), grid, float(temperature)
        self.budget = self.add_weight(shape=(), initializer=keras.initializers.Constant(budget), trainable=False,
                                      name="budget")

    def _cells(self, h):
        """(B, n) logits of the mask elements and a function back to (B, H, W, 1)."""
        size_h, size_w = h.shape[1], h.shape[2]
        if not self.grid or self.grid >= size_h:
            return ops.reshape(h, (-1, size_h * size_w)), lambda v: ops.reshape(v, (-1, size_h, size_w, 1))
        if size_h % self.grid or size_w % self.grid:
            raise ValueError(f"grid {self.grid} must divide the mask size {size_h}x{size_w}")
        cell = size_h // self.grid, size_w // self.grid
        pooled = ops.average_pool(h, cell, strides=cell, padding="valid")
        cells = (size_h // cell[0], size_w // cell[1])

        def back(v):
            v = ops.reshape(v, (-1, *cells, 1))
            return ops.repeat(ops.repeat(v, cell[0], axis=1), cell[1], axis=2)

        return ops.reshape(pooled, (-1, cells[0] * cells[1])), back

    def call(self, h, training=None, sample=None):
        flat, back = self._cells(h)
        y, _ = top_k_mask(flat, self.budget, self.temperature)
        return back(y)

    def nested(self, h, fraction):
        """(B, H, W, 1) mask of image i keeping its top round(fraction_i x budget x n) elements (at least one):
        a prefix of the same ranking as the full mask, so it lies inside it (HideAndSeek's ``nested_budget``)."""
        flat, back = self._cells(h)
        y, _ = top_k_mask(flat, self.budget * fraction, self.temperature)
        return back(y)

    def random_mask(self, x, seed_generator):
        """(B, H, W, 1) masks of `x`'s size keeping exactly k uniformly random elements (pixels or cells) per
        image, no gradient: the top k of uniform noise, whose order is a uniformly random permutation."""
        noise = keras.random.uniform((ops.shape(x)[0], x.shape[1], x.shape[2], 1), seed=seed_generator)
        flat, back = self._cells(noise)
        y, _ = top_k_mask(flat, self.budget, self.temperature)
        # y is y_hard + s - s, which may round to 1 - ulp: the mask itself is exactly 0 or 1
        return back(ops.stop_gradient(ops.round(y)))

    def probability(self, h):
        flat, back = self._cells(h)
        _, s = top_k_mask(flat, self.budget, self.temperature)
        return back(s)

    def get_config(self):
        return {**super().get_config(), "budget": self.initial_budget, "grid": self.grid,
                "temperature": self.temperature}
