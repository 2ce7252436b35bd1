"""Reports of a finished sweep: figures and a text summary, from its table alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deephw.sweep import ablation_report, figures, table

MAX_SUMMARY_LINES = 40
"""Configurations listed one per line in a summary; larger sweeps are summarised."""


def report(out_dir: str | Path, progress: bool = False) -> list[Path]:
    """Redraw the figures of a sweep directory from its table; returns the files."""
    frame, description = table.read(out_dir)
    return figures.draw_all(frame, description, out_dir, progress=progress)


def summary_text(frame: pd.DataFrame, description: dict[str, Any]) -> str:
    """One line per configuration: its values, its score counts and median final MSE.

    A train study counts the seeds that converged (final MSE below the config's
    ``converged_mse``) and those whose network classifies every pattern right; an
    evaluate study counts the chips whose programmed network classifies every pattern
    right (its ``correct`` column), the score that matters for a programmed network; an
    ablation says what each non-ideality costs (:func:`ablation_report.summary_text`).
    """
    if "ablation" in description:
        return ablation_report.summary_text(frame, description)
    label = description.get("label")
    columns = ([label] if label else []) + list(description["axes"])
    n_configs = frame["config"].nunique()
    lines = [
        f"{description['kind']} sweep: {n_configs} configurations, {len(frame)} rows"
        + (f" ({description['description']})" if description.get("description") else "")
    ]
    if n_configs > MAX_SUMMARY_LINES:
        lines.append(f"{_counts(frame, description)} over all configurations")
        return "\n".join(lines)
    for _, rows in frame.groupby("config", sort=False):
        first = rows.iloc[0]
        values = ", ".join(f"{name}={_show(first[name])}" for name in columns) or "base"
        mse = rows["final_mse"].dropna()
        median = f"{np.median(mse):.3g}" if len(mse) else "-"
        text = f"  {values}: {_counts(rows, description)}, median final MSE {median}"
        if "diverged" in rows and rows["diverged"].any():
            text += f", diverged {int(rows['diverged'].sum())}"
        lines.append(text)
    return "\n".join(lines)


def _counts(rows: pd.DataFrame, description: dict[str, Any]) -> str:
    """``converged 7/10 seeds, all patterns right 8/10`` (train) or ``all patterns right
    on 71/100 chips`` (evaluate)."""
    right = int(rows["correct"].sum())
    if description.get("kind") == "evaluate":
        return f"all patterns right on {right}/{len(rows)} chips"
    converged = int(rows["converged"].sum())
    return f"converged {converged}/{len(rows)} seeds, all patterns right {right}/{len(rows)}"


def _show(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
