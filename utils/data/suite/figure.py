"""Figures of the suite: a few images of a data set, above the same images with their evidence outlined.

    python -m utils.data.suite.figure [NAME ...]   # docs/figures/suite_<name>.png, every data set by default
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from utils.data.suite.registry import DATA_SETS, generate

FIGURES = Path(__file__).resolve().parents[3] / "docs" / "figures"
OUTLINE = np.array([255, 0, 255], np.uint8)   # magenta: far from every background of the suite


def outline(evidence: np.ndarray) -> np.ndarray:
    """bool (H, W): the evidence pixels with a 4-neighbour outside the evidence (or on the image's border)."""
    padded = np.pad(evidence, 1)
    inside = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return evidence & ~inside


def plot_examples(name: str, path, count: int = 6, seed: int = 0) -> Path:
    """Write to `path` (PNG) the first image of every class, then further test images up to `count`, of data
    set `name` (test split, `seed`): top row as generated, bottom row with the evidence's outline in magenta."""
    images, labels, evidence, classes = generate(name, "test", 4 * count, seed)
    firsts = [int(np.flatnonzero(labels == k)[0]) for k in range(len(classes))]
    chosen = (firsts + [i for i in range(len(labels)) if i not in firsts])[:count]
    rgb = images if images.shape[-1] == 3 else np.repeat(images, 3, axis=-1)
    # a Figure of its own, drawn by Agg: no pyplot state, no display, whatever backend the caller uses
    fig = Figure(figsize=(1.3 * count, 2.95), dpi=72)   # about 90 px per image: every pixel of 64 px shows
    canvas = FigureCanvasAgg(fig)
    axes = fig.subplots(2, count)
    for column, i in enumerate(chosen):
        marked = rgb[i].copy()
        marked[outline(evidence[i])] = OUTLINE
        for row, picture in enumerate((rgb[i], marked)):
            axes[row, column].imshow(picture, interpolation="nearest")
            axes[row, column].set_axis_off()
        axes[0, column].set_title(f"{classes[labels[i]]} ({evidence[i].mean():.1%})", fontsize=7)
    fig.suptitle(f"{name}: test images (class, evidence share); below, the evidence outlined", fontsize=8)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.84, wspace=0.08, hspace=0.08)
    canvas.draw()
    rendered = Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # 64 colours without dithering keep the PNG at a few tens of KB (noisy backgrounds compress badly)
    rendered.quantize(64, dither=Image.Dither.NONE).save(path, optimize=True)
    return path


if __name__ == "__main__":
    for data_set_name in sys.argv[1:] or DATA_SETS:
        print(plot_examples(data_set_name, FIGURES / f"suite_{data_set_name}.png"))
