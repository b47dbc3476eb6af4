"""Tables of an evaluation: fixed-width text for the terminal and CSV for spreadsheets."""
from __future__ import annotations

import csv
import io

from utils.evaluation.checkpoints import FIGURE_KEYS


def checkpoint_table(rows: list[dict], recommended: int | None) -> str:
    """A readable fixed-width table of the test figures (and leakage) per checkpoint."""
    keys = [k for k in FIGURE_KEYS if k in rows[0]["test"]]
    extra = [k for k in ("leakage", "masked_by_seeker") if k in rows[0]]
    head = f"{'checkpoint':22s} " + " ".join(f"{k:>9s}" for k in keys + extra + ["val FII_fg" if "F" in keys
                                                                                 else "val a*I_fg"])
    lines = [head, "-" * len(head)]
    for i, r in enumerate(rows):
        vals = [r["test"][k] for k in keys] + [r[k] for k in extra]
        vals.append(r["val"].get("FII_fg", r["val"].get("acc_x_I_fg")))
        cells = " ".join(f"{v:9.1f}" if k == "kept_pixels" else f"{v:9.3f}" for k, v in zip(keys + extra + [""], vals))
        mark = " <- recommended" if i == recommended else ""
        lines.append(f"{r['checkpoint'].replace('.weights.h5', ''):22s} {cells}{mark}")
    return "\n".join(lines)


def csv_text(header: list, rows: list[list]) -> str:
    """CSV (Python's csv dialect "excel") of a `header` row and `rows` of cells; None is an empty cell."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def evaluation_csv(rows: list[dict], settings: dict) -> str:
    """evaluation.csv: one row per checkpoint, its test and validation figures and the run's settings."""
    keys = [k for k in FIGURE_KEYS if k in rows[0]["test"]]
    extra = [k for k in ("leakage", "masked_by_seeker") if k in rows[0]]
    if rows[0].get("budget") is not None:  # a top-k run: each checkpoint's budget
        extra.append("budget")
    setting_keys = sorted(settings)
    return csv_text(["checkpoint", "alpha", "test_images"] + [f"test_{k}" for k in keys]
                    + [f"val_{k}" for k in keys] + extra + setting_keys,
                    [[r["checkpoint"], r["alpha"], r["test"]["images"]] + [r["test"][k] for k in keys]
                     + [r["val"].get(k) for k in keys] + [r[k] for k in extra] + [settings[k] for k in setting_keys]
                     for r in rows])
