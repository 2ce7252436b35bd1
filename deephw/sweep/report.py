"""Reports of a finished sweep: figures and a text summary, from its table alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deephw.sweep import figures, table

MAX_SUMMARY_LINES = 40
"""Configurations listed one per line in a summary; larger sweeps are summarised."""


def report(out_dir: str | Path) -> list[Path]:
    """Redraw the figures of a sweep directory from its table; returns the files."""
    frame, description = table.read(out_dir)
    return figures.draw_all(frame, description, out_dir)


def summary_text(frame: pd.DataFrame, description: dict[str, Any]) -> str:
    """One line per configuration: its values, converged seeds and median final MSE."""
    label = description.get("label")
    columns = ([label] if label else []) + list(description["axes"])
    n_configs = frame["config"].nunique()
    lines = [
        f"{description['kind']} sweep: {n_configs} configurations, {len(frame)} rows"
        + (f" ({description['description']})" if description.get("description") else "")
    ]
    if n_configs > MAX_SUMMARY_LINES:
        converged = int(frame["converged"].sum())
        lines.append(f"converged: {converged}/{len(frame)} rows")
        return "\n".join(lines)
    for _, rows in frame.groupby("config", sort=False):
        first = rows.iloc[0]
        values = ", ".join(f"{name}={_show(first[name])}" for name in columns) or "base"
        mse = rows["final_mse"].dropna()
        median = f"{np.median(mse):.3g}" if len(mse) else "-"
        text = f"  {values}: converged {int(rows['converged'].sum())}/{len(rows)}, "
        text += f"median final MSE {median}"
        if "diverged" in rows and rows["diverged"].any():
            text += f", diverged {int(rows['diverged'].sum())}"
        lines.append(text)
    return "\n".join(lines)


def _show(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
