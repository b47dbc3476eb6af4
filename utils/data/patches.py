"""`patches`: a generated colour data set whose class evidence is known, pixel by pixel.

Every 32 x 32 RGB image holds, on a textured background:

* one **class object**: a 7 x 7 glyph whose *shape* decides the class (plus, cross, square,
  triangle, ring, letter H), in a random bright colour, at a random place;
* two or three **distractors**: glyphs of four other shapes (bar, dot, corner, zigzag), in
  random colours at random places, never overlapping the class object or each other;
* a **background**: a smooth random colour field (4 x 4 values upsampled bilinearly) plus pixel
  noise.

Distractors and background are drawn independently of the class, so they carry no class
information; the class object is the only evidence, and `evidence` marks exactly its glyph's
pixels. Images are a deterministic function of (split seed, index): the data set is the same for
every run. Classes are balanced (image i has class i mod 6, then the order is shuffled).
"""
from __future__ import annotations

import numpy as np

SIZE, GLYPH = 32, 7
TRAIN_SEED, TEST_SEED = 20_241, 20_242


def _glyph(rows: str) -> np.ndarray:
    return np.array([[c == "#" for c in row] for row in rows.split()], bool)


CLASS_GLYPHS = {
    "plus": _glyph("...#... ...#... ...#... ####### ...#... ...#... ...#..."),
    "cross": _glyph("#.....# .#...#. ..#.#.. ...#... ..#.#.. .#...#. #.....#"),
    "square": _glyph("####### #.....# #.....# #.....# #.....# #.....# #######"),
    "triangle": _glyph("...#... ..#.#.. ..#.#.. .#...#. .#...#. #.....# #######"),
    "ring": _glyph("..###.. .#...#. #.....# #.....# #.....# .#...#. ..###.."),
    "H": _glyph("#.....# #.....# #.....# ####### #.....# #.....# #.....#"),
}
DISTRACTOR_GLYPHS = (
    _glyph("....... ....... ....... ####### ####### ....... ......."),   # bar
    _glyph("....... ....... ..###.. ..###.. ..###.. ....... ......."),   # dot
    _glyph("#...... #...... #...... #...... #...... #...... #######"),   # corner
    _glyph("#...... .#..... ..#.... ...#... ..#.... .#..... #......"),   # zigzag
)
CLASSES = tuple(CLASS_GLYPHS)


def _colour(rng) -> np.ndarray:
    """A bright, saturated colour: one channel high, the others random lower."""
    c = rng.uniform(0.0, 0.6, 3)
    c[rng.integers(3)] = rng.uniform(0.85, 1.0)
    return c


def _background(rng) -> np.ndarray:
    coarse = rng.uniform(0.05, 0.45, (4, 4, 3))
    # bilinear upsampling of a 4 x 4 field to 32 x 32 (pixel centres, clamped at the edges)
    t = np.clip((np.arange(SIZE) + 0.5) / (SIZE / 4) - 0.5, 0, 3)
    i0 = np.floor(t).astype(int)
    i1 = np.minimum(i0 + 1, 3)
    w = (t - i0)[:, None]
    rows = coarse[i0] * (1 - w)[..., None] + coarse[i1] * w[..., None]          # (32, 4, 3)
    field = rows[:, i0] * (1 - w.T)[..., None] + rows[:, i1] * w.T[..., None]   # (32, 32, 3)
    return field + rng.normal(0.0, 0.04, field.shape)


def _places(rng, count: int) -> list[tuple[int, int]]:
    """Top-left corners of `count` glyphs that do not overlap (a 1-pixel gap between them)."""
    places = []
    while len(places) < count:
        r, c = rng.integers(0, SIZE - GLYPH + 1, 2)
        if all(abs(r - r2) > GLYPH or abs(c - c2) > GLYPH for r2, c2 in places):
            places.append((int(r), int(c)))
    return places


def _draw(image, glyph, place, colour, rng):
    r, c = place
    patch = image[r:r + GLYPH, c:c + GLYPH]
    patch[glyph] = colour * rng.uniform(0.9, 1.0, (glyph.sum(), 1))


def render(label: int, rng, with_object: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(image (32, 32, 3) float in [0, 1], evidence (32, 32) bool) of one image of class `label`.

    With ``with_object=False`` the class object is left out (everything else drawn the same), which
    is what a classifier that must not find any class information sees.
    """
    image = _background(rng)
    count = int(rng.integers(2, 4))
    places = _places(rng, count + 1)
    for place in places[1:]:
        _draw(image, DISTRACTOR_GLYPHS[rng.integers(len(DISTRACTOR_GLYPHS))], place, _colour(rng), rng)
    evidence = np.zeros((SIZE, SIZE), bool)
    glyph, colour = CLASS_GLYPHS[CLASSES[label]], _colour(rng)
    if with_object:
        _draw(image, glyph, places[0], colour, rng)
        r, c = places[0]
        evidence[r:r + GLYPH, c:c + GLYPH] = glyph
    return np.clip(image, 0.0, 1.0), evidence


def generate(n: int, seed: int, with_object: bool = True):
    """n images: uint8 (n, 32, 32, 3), labels int32 (n,), evidence bool (n, 32, 32); balanced classes."""
    labels = np.arange(n) % len(CLASSES)
    np.random.default_rng(seed).shuffle(labels)
    images = np.empty((n, SIZE, SIZE, 3), np.uint8)
    evidence = np.empty((n, SIZE, SIZE), bool)
    for i, label in enumerate(labels):
        image, evidence[i] = render(int(label), np.random.default_rng([seed, i]), with_object)
        images[i] = np.rint(image * 255).astype(np.uint8)
    return images, labels.astype(np.int32), evidence
