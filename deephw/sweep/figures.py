"""Figures of a sweep, drawn from its table alone.

- ``figures/vs_AXIS.png``: every metric against the values of one axis; the median over
  seeds with a band from the first to the third quartile (for true/false metrics, the
  fraction of seeds), one line per combination of the other axes when there are at most
  :data:`MAX_LINES`, else pooled over them.
- ``figures/GROUP_vs_AXIS.png``: the metrics a study draws together (its
  ``figure_groups``, e.g. an evaluate study's accuracy at each drift time, without and
  with drift compensation), two panels a row, drawn as ``vs_AXIS.png``;
- ``figures/heatmap_AXIS1__AXIS2.png`` (grid sweeps with two or more axes): median final
  MSE, fraction of seeds converged and median accuracy over two axes (or the study's
  ``heatmap`` metrics), pooled over seeds and any other axes.
"""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm

from deephw.plotting import plt, save

MAX_LINES = 6
"""Most lines per panel before the other axes are pooled."""

MAX_TICKS = 12
"""Axes with at most this many values get a tick at each value."""

MSE_LINEAR_BELOW = 1e-6
"""The final-MSE axis is logarithmic above this value and linear below (down to 0)."""

HEATMAP_METRICS = (
    ("final_mse", "median final MSE"),
    ("converged", "fraction of seeds converged"),
    ("accuracy", "median accuracy"),
)
SKIPPED = ("diverged_epoch",)
"""Metric columns not worth a panel of their own."""

FOLDER = "figures"


def axes_of(frame: pd.DataFrame, description: dict[str, Any]) -> list[str]:
    """The swept columns that take more than one value (label column first)."""
    label = description.get("label")
    names = ([label] if label else []) + list(description["axes"])
    return [name for name in names if frame[name].astype(str).nunique() > 1]


def metrics_of(frame: pd.DataFrame, description: dict[str, Any]) -> list[str]:
    """The study's metrics and hardware columns worth a panel: present, not constant.

    Extra columns (e.g. per-group event counts) stay in the table without a panel;
    metrics of a figure group (:func:`groups_of`) are drawn in their group's figure.
    """
    grouped = {name for group in groups_of(frame, description).values() for name in group}
    keep = []
    for name in [*description["metrics"], *description.get("hardware", [])]:
        if name in SKIPPED or name in grouped or name not in frame.columns:
            continue
        column = frame[name]
        if column.isna().all() or not pd.api.types.is_numeric_dtype(column):
            continue
        if name == "diverged" and not column.any():
            continue
        if not pd.api.types.is_bool_dtype(column) and column.dropna().nunique() == 1:
            continue  # the same value everywhere (e.g. sparsity without pruning)
        keep.append(name)
    return keep


def groups_of(frame: pd.DataFrame, description: dict[str, Any]) -> dict[str, list[str]]:
    """The study's figure groups, each with its metrics that the table holds (numbers,
    not all missing; constant ones are kept, as a group compares its metrics)."""
    out = {}
    for name, group in (description.get("figure_groups") or {}).items():
        present = [
            metric
            for metric in group
            if metric in frame.columns
            and pd.api.types.is_numeric_dtype(frame[metric])
            and not frame[metric].isna().all()
        ]
        if present:
            out[name] = present
    return out


def draw_all(frame: pd.DataFrame, description: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """Draw every figure of a sweep into ``out_dir/figures``; returns the files."""
    folder = Path(out_dir) / FOLDER
    axes = axes_of(frame, description)
    metrics = metrics_of(frame, description)
    groups = groups_of(frame, description)
    written = []
    for axis in axes:
        others = [name for name in axes if name != axis]
        fig = metric_figure(frame, axis, others, metrics)
        path = folder / f"vs_{_safe(axis)}.png"
        save(fig, path)
        written.append(path)
        for name, group in groups.items():
            fig = metric_figure(frame, axis, others, group, n_cols=2, title=name)
            path = folder / f"{_safe(name)}_vs_{_safe(axis)}.png"
            save(fig, path)
            written.append(path)
    heatmap = [tuple(pair) for pair in description.get("heatmap") or HEATMAP_METRICS]
    if description.get("combine") == "grid":
        for first, second in itertools.combinations(axes, 2):
            fig = heatmap_figure(frame, first, second, heatmap)
            path = folder / f"heatmap_{_safe(first)}__{_safe(second)}.png"
            save(fig, path)
            written.append(path)
    return written


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _levels(column: pd.Series) -> tuple[list[Any], np.ndarray, bool]:
    """Distinct values of an axis, their plot positions, and whether they are numbers."""
    numeric = (
        pd.api.types.is_numeric_dtype(column)
        and not pd.api.types.is_bool_dtype(column)
        and bool(column.notna().all())
    )
    if numeric:
        levels = sorted(column.unique().tolist())
        return levels, np.asarray(levels, dtype=float), True
    levels = list(dict.fromkeys(column.astype(str)))
    return levels, np.arange(len(levels), dtype=float), False


def _select(column: pd.Series, level: Any, numeric: bool) -> pd.Series:
    return column == level if numeric else column.astype(str) == level


def _summary(values: pd.Series) -> tuple[float, float, float]:
    """(q25, median, q75) of the values that are present; a fraction for true/false."""
    values = values.dropna()
    if len(values) == 0:
        return (math.nan,) * 3
    if pd.api.types.is_bool_dtype(values):
        share = float(values.mean())
        return share, share, share
    q = np.quantile(values.to_numpy(dtype=float), [0.25, 0.5, 0.75])
    return float(q[0]), float(q[1]), float(q[2])


def _groups(frame: pd.DataFrame, others: list[str]) -> list[tuple[str, pd.DataFrame]]:
    """One (label, rows) per combination of the other axes, or all rows pooled."""
    if not others:
        return [("", frame)]
    keys = frame[others].astype(str).agg(", ".join, axis=1)
    labels = list(dict.fromkeys(keys))
    if len(labels) > MAX_LINES:
        return [(f"pooled over {', '.join(others)}", frame)]
    return [(f"{', '.join(others)} = {label}", frame[keys == label]) for label in labels]


def _ylabel(metric: str, column: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(column):
        return f"{metric} (fraction of seeds)"
    if metric == "epochs_to_converge":
        return "epochs to converge (converged seeds)"
    return metric


def _is_mse(metric: str) -> bool:
    """Whether a column holds MSE values (drawn on a symmetric log scale)."""
    return metric == "final_mse" or metric.startswith("mse_") or metric.endswith("_mse")


def metric_figure(
    frame: pd.DataFrame,
    axis: str,
    others: list[str],
    metrics: list[str],
    n_cols: int = 3,
    title: str = "metrics",
) -> plt.Figure:
    """Every metric against ``axis``: median and quartile band over seeds.

    ``n_cols`` panels a row; ``title`` names the metrics in the figure's title.
    """
    n_cols = min(n_cols, max(1, len(metrics)))
    n_rows = max(1, math.ceil(len(metrics) / n_cols))
    fig, panels = plt.subplots(n_rows, n_cols, figsize=(4.2 * n_cols, 3.2 * n_rows), squeeze=False)
    levels, positions, numeric = _levels(frame[axis])
    log_x = numeric and positions.min() > 0 and positions.max() / positions.min() >= 20
    groups = _groups(frame, others)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, metric in zip(panels.flat, metrics, strict=False):
        for index, (label, rows) in enumerate(groups):
            stats = np.array(
                [_summary(rows.loc[_select(rows[axis], lv, numeric), metric]) for lv in levels]
            )
            color = colors[index % len(colors)]
            ax.fill_between(positions, stats[:, 0], stats[:, 2], color=color, alpha=0.18, lw=0)
            ax.plot(positions, stats[:, 1], "o-", color=color, ms=3.5, lw=1.5, label=label or None)
        if _is_mse(metric) and (frame[metric] > 0).any():
            ax.set_yscale("symlog", linthresh=MSE_LINEAR_BELOW)
        if log_x:
            ax.set_xscale("log")
            ax.minorticks_off()
        if not numeric or len(levels) <= MAX_TICKS:
            ax.set_xticks(positions, [_tick(v) for v in levels], rotation=30 * (not numeric))
        ax.set_xlabel(axis)
        ax.set_ylabel(_ylabel(metric, frame[metric]))
        ax.grid(alpha=0.3)
    for ax in list(panels.flat)[len(metrics) :]:
        ax.set_axis_off()
    if any(label for label, _ in groups):
        panels.flat[0].legend(fontsize=7, loc="best")
    fig.suptitle(f"{title} vs {axis}: median over seeds, band q25-q75", fontsize="medium")
    fig.tight_layout(rect=(0.0, 0.0, 1.0, 1.0 - 0.3 / fig.get_figheight()))  # room for the title
    return fig


def heatmap_figure(
    frame: pd.DataFrame,
    first: str,
    second: str,
    metrics: list[tuple[str, str]] | tuple[tuple[str, str], ...] = HEATMAP_METRICS,
) -> plt.Figure:
    """``metrics`` (``(column, title)``; default median final MSE, fraction converged and
    median accuracy) over two axes."""
    rows_levels, _, rows_numeric = _levels(frame[first])
    cols_levels, _, cols_numeric = _levels(frame[second])
    shown = [(name, title) for name, title in metrics if name in frame.columns]
    fig, panels = plt.subplots(1, len(shown), figsize=(4.6 * len(shown), 3.9), squeeze=False)
    for ax, (metric, title) in zip(panels.flat, shown, strict=True):
        grid = np.full((len(rows_levels), len(cols_levels)), np.nan)
        for i, row_level in enumerate(rows_levels):
            in_row = frame[_select(frame[first], row_level, rows_numeric)]
            for j, col_level in enumerate(cols_levels):
                cell = in_row.loc[_select(in_row[second], col_level, cols_numeric), metric]
                grid[i, j] = _summary(cell)[1]
        finite = grid[np.isfinite(grid)]
        norm = None
        if _is_mse(metric) and len(finite) and finite.min() > 0:
            norm = LogNorm(vmin=finite.min(), vmax=max(finite.max(), finite.min() * 1.0001))
        image = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis", norm=norm)
        if norm is None and not _is_mse(metric):
            image.set_clim(0.0, 1.0)
        fig.colorbar(image, ax=ax, shrink=0.85)
        if grid.size <= 144:
            for (i, j), value in np.ndenumerate(grid):
                finite_value = bool(np.isfinite(value))
                text = f"{value:.2g}" if finite_value else "-"
                bright = not finite_value or image.norm(value) > 0.6
                ax.text(
                    j, i, text, ha="center", va="center", fontsize=7, color="k" if bright else "w"
                )
        ax.set_xticks(range(len(cols_levels)), [_tick(v) for v in cols_levels], rotation=30)
        ax.set_yticks(range(len(rows_levels)), [_tick(v) for v in rows_levels])
        ax.set_xlabel(second)
        ax.set_ylabel(first)
        ax.set_title(title)
    fig.tight_layout()
    return fig


def _tick(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
