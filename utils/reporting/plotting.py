"""Figures written as PNG files (matplotlib, no display needed)."""
from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from utils.runs.atomic import atomic_savefig  # noqa: E402
from utils.runs.layout import checkpoint_label, checkpoint_stem  # noqa: E402

ROWS_PER_PAGE = 10


def show_image(ax, image, title=None, cmap="gray", vmin=0.0, vmax=1.0):
    """Draw one image in [0, 1] on `ax` without ticks (grey for one channel, RGB for three)."""
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
            show_image(axes[r, c], image, title, cmap=(cmaps or {}).get(c, "gray"))
            if c == 0 and row_titles:
                axes[r, c].set_ylabel(row_titles[r], fontsize=7)
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=100)
    plt.close(fig)


def page_paths(results_dir, stem: str, n: int, per_page: int = ROWS_PER_PAGE) -> list[tuple[Path, slice]]:
    """``stem.png`` for up to ``per_page`` rows, else ``stem_1.png``, ``stem_2.png``, ... with their rows."""
    pages = [slice(i, min(i + per_page, n)) for i in range(0, n, per_page)]
    if len(pages) == 1:
        return [(Path(results_dir) / f"{stem}.png", pages[0])]
    return [(Path(results_dir) / f"{stem}_{k}.png", rows) for k, rows in enumerate(pages, 1)]


def draw_rows(rows: list[list[tuple]], path, title: str | None = None) -> None:
    """A grid of images in [0, 1]; each cell is (image, title, ok) and a False ``ok`` titles it in red."""
    n_cols = max(len(r) for r in rows)
    fig, axes = plt.subplots(len(rows), n_cols, figsize=(1.9 * n_cols, 1.8 * len(rows) + 0.5), squeeze=False,
                             layout="constrained")
    for r, row in enumerate(rows):
        for c, (image, name, ok) in enumerate(row):
            show_image(axes[r, c], image, name)
            if not ok:
                axes[r, c].title.set_color("red")
        for c in range(len(row), n_cols):
            axes[r, c].axis("off")
    if title:
        fig.suptitle(textwrap.fill(title, width=int(16 * n_cols)), fontsize=9)
    atomic_savefig(fig, path, dpi=100)
    plt.close(fig)


def reconstructions(x: np.ndarray, x_hat: np.ndarray, path) -> None:
    """Inputs and autoencoder reconstructions side by side."""
    image_grid([[a, b] for a, b in zip(x, x_hat)], ["input", "reconstruction"], path)


def mask_grid(x, prob, mask, preds, labels, path, title=None) -> None:
    """Rows of: input | hider probability | mask | masked input, with the prediction (hit/miss)."""
    x, prob, mask = np.asarray(x), np.asarray(prob), np.asarray(mask, np.float32)
    n = len(x)
    fig, axes = plt.subplots(n, 4, figsize=(6.4, 1.7 * n), squeeze=False)
    for r in range(n):
        m = mask[r] if mask[r].ndim == 3 else mask[r][..., None]
        hit = preds[r] == labels[r]
        views = [(x[r], "input"), (prob[r], "hider probability"), (m, "mask (kept = white)"),
                 (x[r] * m, f"pred {preds[r]} ({'hit' if hit else 'miss, label ' + str(labels[r])})")]
        for c, (image, name) in enumerate(views):
            show_image(axes[r, c], image, name if (r == 0 or c == 3) else None,
                  cmap="viridis" if c == 1 else "gray")
            if c == 3:
                axes[r, c].title.set_color("green" if hit else "red")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=100)
    plt.close(fig)


def _finish_chart(fig, ax, path, title=None, legend: bool = True) -> None:
    ax.grid(alpha=0.3)
    if legend:
        ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=110)
    plt.close(fig)


def tradeoff(rows: list[dict], path, recommended: int | None = None, title=None) -> None:
    """Test accuracy against the share hidden (I and I_fg), one point per checkpoint, labelled by alpha."""
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    acc = [r["test"]["accuracy"] for r in rows]
    for key, style in (("I", "o-"), ("I_fg", "s-")):
        xs = [r["test"][key] for r in rows]
        ax.plot(xs, acc, style, label=f"{key} (share {'of input' if key == 'I' else 'of foreground'} hidden)",
                alpha=0.8)
        if key == "I_fg":
            for r, xv, yv in zip(rows, xs, acc):
                ax.annotate(checkpoint_stem(r["checkpoint"]).replace("alpha_", "a=").replace("budget_", "b="), (xv, yv),
                            fontsize=6, xytext=(3, 3), textcoords="offset points")
    if recommended is not None:
        r = rows[recommended]
        ax.plot([r["test"]["I_fg"]], [r["test"]["accuracy"]], "r*", markersize=14, label="recommended")
    ax.set_xlabel("share hidden")
    ax.set_ylabel("test accuracy")
    _finish_chart(fig, ax, path, title)


def across_runs(summary: list[dict], path, title=None) -> None:
    """Mean and spread over runs of test accuracy and I_fg per checkpoint."""
    names = [checkpoint_label(s["checkpoint"]) for s in summary]
    idx = np.arange(len(summary))
    fig, ax = plt.subplots(figsize=(max(6.4, 0.4 * len(summary)), 4.0))
    for key in ("accuracy", "I_fg"):
        mean = np.array([s[f"{key}_mean"] for s in summary])
        std = np.array([s[f"{key}_std"] for s in summary])
        ax.errorbar(idx, mean, yerr=std, fmt="o-", capsize=3, label=f"test {key} (mean +- std)")
    ax.set_xticks(idx, names, rotation=60, fontsize=7)
    ax.set_xlabel("checkpoint (alpha)")
    _finish_chart(fig, ax, path, title)


def frontier(report: dict, path, judge: str = "evalx", title=None) -> None:
    """The cost-faithfulness frontier: per method, the `judge`'s keep accuracy at each image's HnS budget (mean
    +- one standard error) against milliseconds per image (log scale); refinements (rows <start>+refine<K>) are
    joined to their start in order of K."""
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    summaries = report["methods"]
    points = {m: (max(s["seconds_per_image"] * 1e3, 1e-3), *s["at_hns_budget"][f"keep_{judge}"])
              for m, s in summaries.items()}
    for start in [m for m in points if "+refine" not in m]:
        chain = sorted((int(m.split("+refine")[1].split("-")[0]), m) for m in points
                       if m.startswith(f"{start}+refine") and "-" not in m.split("+refine")[1])
        if chain:
            line = [points[start]] + [points[m] for _, m in chain]
            ax.plot([p[0] for p in line], [p[1] for p in line], "-", color="0.6", lw=1, zorder=1)
    for method, (ms, keep, se) in points.items():
        ax.errorbar([ms], [keep], yerr=[se], fmt="o", ms=4, capsize=2, zorder=2)
        ax.annotate(method, (ms, keep), textcoords="offset points", xytext=(4, 3), fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("milliseconds per image (log scale)")
    ax.set_ylabel(f"{judge} accuracy, kept pixels only, at each image's HnS budget")
    _finish_chart(fig, ax, path, title, legend=False)   # each point is labelled by its method


def budget_curves(report: dict, path, judges=("evalx", "seeker"), title=None) -> None:
    """Keep (solid) and remove (dashed) accuracy against the budget, one colour per method, one panel per judge."""
    fig, axes = plt.subplots(1, len(judges), figsize=(6.0 * len(judges), 4.6), squeeze=False)
    methods = list(report["methods"])
    colours = plt.cm.tab20(np.linspace(0, 1, max(len(methods), 2)))
    for ax, judge in zip(axes[0], judges):
        for colour, method in zip(colours, methods):
            rows = [r for r in report["rows"] if r["method"] == method and r["budget"] != "hns"]
            if not rows:
                continue
            budgets = [r["budget"] for r in rows]
            ax.plot(budgets, [r[f"keep_{judge}"][0] for r in rows], "-o", color=colour, ms=3, label=method)
            ax.plot(budgets, [r[f"remove_{judge}"][0] for r in rows], "--", color=colour, alpha=0.6)
        ax.set_xscale("log")
        ax.set_xlabel("budget (share of pixels kept or removed)")
        ax.set_ylabel(f"{judge} accuracy (solid: kept only, dashed: removed)")
        ax.grid(alpha=0.3)
    if axes[0][-1].get_legend_handles_labels()[0]:
        axes[0][-1].legend(fontsize=6, ncol=2)
    else:  # e.g. --methods hns alone: the binary mask is scored at each image's own budget only
        for ax in axes[0]:
            ax.text(0.5, 0.5, "no method was scored at the fixed budgets", ha="center", va="center",
                    transform=ax.transAxes)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=110)
    plt.close(fig)
