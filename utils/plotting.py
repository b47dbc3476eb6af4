"""Figures written as PNG files (matplotlib, no display needed)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from utils.io import atomic_savefig  # noqa: E402


def _show(ax, image, title=None, cmap="gray", vmin=0.0, vmax=1.0):
    image = np.asarray(image, np.float32)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    ax.imshow(image, cmap=cmap if image.ndim == 2 else None, vmin=vmin, vmax=vmax)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=8)


def image_grid(rows: list[list[np.ndarray]], column_titles: list[str], path, row_titles=None,
               cmaps=None) -> None:
    """A grid of images in [0, 1]: one row per example, one column per view."""
    n_rows, n_cols = len(rows), len(column_titles)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(1.6 * n_cols, 1.6 * n_rows), squeeze=False)
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            title = column_titles[c] if r == 0 else None
            _show(axes[r, c], image, title, cmap=(cmaps or {}).get(c, "gray"))
            if c == 0 and row_titles:
                axes[r, c].set_ylabel(row_titles[r], fontsize=7)
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=100)
    plt.close(fig)


def reconstructions(x: np.ndarray, x_hat: np.ndarray, path) -> None:
    """Inputs and autoencoder reconstructions side by side."""
    image_grid([[a, b] for a, b in zip(x, x_hat)], ["input", "reconstruction"], path)
