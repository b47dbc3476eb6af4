"""Raster primitives the suite's generators draw with: masks of convex polygons, discs and thin segments,
smooth noise, a dilation and colours. NumPy only.

Coordinates are (row, column) in pixels; pixel (i, j) is the unit square centred on (i, j), and a shape
covers a pixel when it covers the pixel's centre. A mask is therefore exactly the set of pixels a
generator paints, which is what makes it the evidence.
"""
from __future__ import annotations

import numpy as np


def _centres(size: int) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.mgrid[0:size, 0:size]
    return rows.astype(float), cols.astype(float)


def convex_polygon_mask(vertices, size: int) -> np.ndarray:
    """bool (size, size): the pixels whose centre lies inside (or on) the convex polygon `vertices` (k, 2).

    A point p is inside when it lies on the same side of every edge v_i -> v_{i+1}:
    cross(v_{i+1} - v_i, p - v_i) >= 0 for all i, or <= 0 for all i (either winding).
    """
    v = np.asarray(vertices, float)
    rows, cols = _centres(size)
    edges = np.roll(v, -1, axis=0) - v
    cross = (edges[:, 0, None, None] * (cols - v[:, 1, None, None])
             - edges[:, 1, None, None] * (rows - v[:, 0, None, None]))
    eps = 1e-9   # a centre on an edge counts as inside, whatever the rounding
    return np.all(cross >= -eps, axis=0) | np.all(cross <= eps, axis=0)


def disc_mask(centre, radius: float, size: int) -> np.ndarray:
    """bool (size, size): the pixels whose centre is within `radius` of `centre`,
    (r - r0)^2 + (c - c0)^2 <= radius^2."""
    rows, cols = _centres(size)
    return (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 <= radius ** 2


def segment_mask(start, end, size: int) -> np.ndarray:
    """bool (size, size): a stroke one pixel wide, the pixels whose centre is within 1/2 of the segment start-end.

    The distance of a centre p to the segment is |p - (a + t (b - a))| with
    t = clip(<p - a, b - a> / |b - a|^2, 0, 1): a horizontal, vertical or diagonal segment between pixel
    centres covers exactly the pixels on it, one per row or column.
    """
    a, b = np.asarray(start, float), np.asarray(end, float)
    rows, cols = _centres(size)
    d = b - a
    t = np.clip(((rows - a[0]) * d[0] + (cols - a[1]) * d[1]) / max(d @ d, 1e-12), 0.0, 1.0)
    return (rows - a[0] - t * d[0]) ** 2 + (cols - a[1] - t * d[1]) ** 2 <= 0.25


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """bool: `mask` grown by `radius` pixels in every direction (a (2 radius + 1)^2 square structuring element)."""
    size_r, size_c = mask.shape
    padded = np.pad(mask, radius)
    out = np.zeros_like(mask)
    for dr in range(2 * radius + 1):
        for dc in range(2 * radius + 1):
            out |= padded[dr:dr + size_r, dc:dc + size_c]
    return out


def smooth_noise(rng, size: int, sigma: float, channels: int = 1) -> np.ndarray:
    """float (size, size, channels): white Gaussian noise low-pass filtered by a Gaussian of `sigma` pixels
    (circularly, in the Fourier domain: transfer exp(-2 pi^2 sigma^2 (f_r^2 + f_c^2))), then scaled to
    mean 0 and standard deviation 1 per channel. Neighbouring pixels are correlated over about `sigma` pixels."""
    white = rng.normal(size=(channels, size, size))
    f = np.fft.fftfreq(size)
    transfer = np.exp(-2 * np.pi ** 2 * sigma ** 2 * (f[:, None] ** 2 + f[None, :] ** 2))
    field = np.fft.ifft2(np.fft.fft2(white) * transfer).real
    field = (field - field.mean(axis=(1, 2), keepdims=True)) / field.std(axis=(1, 2), keepdims=True)
    return np.moveaxis(field, 0, -1)


def hsv_to_rgb(hue: float, saturation: float, value: float) -> np.ndarray:
    """float (3,): the RGB colour of (hue in degrees, saturation, value in [0, 1]); the standard hexcone model,
    channel k = v - v s max(0, min(n_k, 4 - n_k, 1)) with n_k = (k_0 + hue / 60) mod 6, k_0 = 5, 3, 1 for R, G, B."""
    n = (np.array([5.0, 3.0, 1.0]) + hue / 60.0) % 6
    return value - value * saturation * np.clip(np.minimum(n, 4 - n), 0.0, 1.0)
