"""Figures of a sweep, drawn from its table alone.

- ``figures/vs_AXIS.png``: every metric against the values of one axis; the median over
  seeds (chips, for an evaluate study) with its first and third quartiles (for
  true/false metrics, the fraction of seeds), one line per combination of the other axes
  when there are at most :data:`MAX_LINES`, else pooled over them.
- ``figures/GROUP_vs_AXIS.png``: the metrics a study draws together (its
  ``figure_groups``, e.g. an evaluate study's accuracy at each drift time, without and
  with drift compensation), two panels a row, drawn as ``vs_AXIS.png``;
- ``figures/heatmap_AXIS1__AXIS2.png`` (grid sweeps with two or more axes): median final
  MSE, fraction of seeds converged and mean accuracy over two axes (or the study's
  ``heatmap`` metrics), pooled over seeds and any other axes;
- ``figures/ablation.png`` (an ablation): what each non-ideality costs
  (:mod:`deephw.sweep.ablation_report`).

Axes are labelled with the last name of their dotted path; titles give the full path.
"""

from __future__ import annotations

import itertools
import math
import re
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullLocator
from tqdm import tqdm

from deephw.plotting import plt, save
from deephw.sweep import ablation_report

MAX_LINES = 6
"""Most lines per panel before the other axes are pooled."""

MAX_TICKS = 12
"""Axes with at most this many values get a tick at each value."""

MSE_LINEAR_BELOW = 1e-6
"""The final-MSE axis is logarithmic above this value and linear below (down to 0)."""

HEATMAP_METRICS = (
    ("final_mse", "final MSE"),
    ("converged", "converged"),
    ("accuracy", "accuracy"),
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


def draw_all(
    frame: pd.DataFrame, description: dict[str, Any], out_dir: str | Path, progress: bool = False
) -> list[Path]:
    """Draw every figure of a sweep into ``out_dir/figures``; returns the files.

    ``progress`` shows a bar over the figures (on stderr).
    """
    folder = Path(out_dir) / FOLDER
    # An ablation's conditions are no axis: its own chart compares each with its reference.
    axes = [] if "ablation" in description else axes_of(frame, description)
    metrics = metrics_of(frame, description)
    groups = groups_of(frame, description)
    unit = unit_of(description)
    jobs: list[tuple[str, Callable[[], plt.Figure]]] = []
    for axis in axes:
        others = [name for name in axes if name != axis]
        jobs.append(
            (
                f"vs_{_safe(axis)}.png",
                partial(metric_figure, frame, axis, others, metrics, unit=unit),
            )
        )
        for name, group in groups.items():
            draw = partial(
                metric_figure, frame, axis, others, group, n_cols=2, title=name, unit=unit
            )
            jobs.append((f"{_safe(name)}_vs_{_safe(axis)}.png", draw))
    heatmap = [tuple(pair) for pair in description.get("heatmap") or HEATMAP_METRICS]
    if description.get("combine") == "grid":
        for first, second in itertools.combinations(axes, 2):
            draw = partial(heatmap_figure, frame, first, second, heatmap, unit=unit)
            jobs.append((f"heatmap_{_safe(first)}__{_safe(second)}.png", draw))
    if "ablation" in description:
        jobs.append((ablation_report.FIGURE, partial(ablation_report.figure, frame, description)))
    written = []
    bar = tqdm(jobs, desc="figures", unit="figure", disable=not progress, file=sys.stderr)
    for name, draw in bar:
        path = folder / name
        save(draw(), path)
        written.append(path)
    return written


def unit_of(description: dict[str, Any]) -> str:
    """What one row of the table is: a chip for an evaluate study, else a seed."""
    return "chips" if description.get("kind") == "evaluate" else "seeds"


def short_names(names: list[str]) -> dict[str, str]:
    """Axis labels: the last name of each dotted path (``learning.lr`` → ``lr``), with as
    many parents as it takes to tell paths apart (``dynamics.beta``, ``foo.beta``)."""
    out: dict[str, str] = {}
    for name in names:
        parts = name.split(".")
        depth = 1
        while depth < len(parts):
            tail = ".".join(parts[-depth:])
            clash = [
                other
                for other in names
                if other != name and ".".join(other.split(".")[-depth:]) == tail
            ]
            if not clash:
                break
            depth += 1
        out[name] = ".".join(parts[-depth:])
    return out


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


def _groups(
    frame: pd.DataFrame, others: list[str], short: dict[str, str]
) -> list[tuple[str, pd.DataFrame]]:
    """One (label, rows) per combination of the other axes, or all rows pooled."""
    if not others:
        return [("", frame)]
    keys = frame[others].astype(str).agg(", ".join, axis=1)
    labels = list(dict.fromkeys(keys))
    if len(labels) > MAX_LINES:
        return [(f"pooled over {', '.join(short[name] for name in others)}", frame)]
    out = []
    for label in labels:
        rows = frame[keys == label]
        first = rows.iloc[0]
        text = ", ".join(f"{short[name]} = {_tick(first[name])}" for name in others)
        out.append((text, rows))
    return out


def _ylabel(metric: str, column: pd.Series, unit: str) -> str:
    if pd.api.types.is_bool_dtype(column):
        return f"{metric} (fraction of {unit})"
    if metric == "epochs_to_converge":
        return "epochs to converge (converged seeds)"
    return metric


def _mse_scale(ax: plt.Axes, values: pd.Series) -> None:
    """A symmetric-log MSE axis whose ticks are labelled even when the values span less
    than a decade (then no power of ten falls inside, and the default shows no number)."""
    ax.set_yscale("symlog", linthresh=MSE_LINEAR_BELOW)
    positive = values[values > 0]
    if positive.max() < 10 * positive.min():
        ax.yaxis.set_major_locator(MaxNLocator(nbins=4))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.3g}"))
        ax.yaxis.set_minor_locator(NullLocator())


def _is_mse(metric: str) -> bool:
    """Whether a column holds MSE values (drawn on a symmetric log scale)."""
    return metric == "final_mse" or metric.startswith("mse_") or metric.endswith("_mse")


DODGE = 0.3
"""Width over which the series of a panel are spread around each category, so that
their quartile bars stay apart."""


def metric_figure(
    frame: pd.DataFrame,
    axis: str,
    others: list[str],
    metrics: list[str],
    n_cols: int = 3,
    title: str = "metrics",
    unit: str = "seeds",
) -> plt.Figure:
    """Every metric against ``axis``: median over ``unit`` with its quartiles.

    An axis of at most :data:`MAX_TICKS` values is drawn as evenly spaced categories
    labelled with the values (values such as 0, 0.1 and 0.3 would otherwise crowd their
    labels); a longer numeric axis is drawn to scale. With one series a panel shades the
    quartile band; with several (one per combination of the other axes), each point
    carries a quartile bar and the series are spread apart around each category, as
    overlapping bands would merge into one colour. The legend goes below the panels, the
    axis is labelled with its short name and the title gives its full path. ``n_cols``
    panels a row; ``title`` names the metrics in the figure's title.
    """
    n_cols = min(n_cols, max(1, len(metrics)))
    n_rows = max(1, math.ceil(len(metrics) / n_cols))
    fig, panels = plt.subplots(n_rows, n_cols, figsize=(4.2 * n_cols, 3.2 * n_rows), squeeze=False)
    levels, values, numeric = _levels(frame[axis])
    categorical = not numeric or len(levels) <= MAX_TICKS
    positions = np.arange(len(levels), dtype=float) if categorical else values
    log_x = not categorical and positions.min() > 0 and positions.max() / positions.min() >= 20
    short = short_names([axis, *others])
    groups = _groups(frame, others, short)
    several = len(groups) > 1
    offsets = np.zeros(len(groups))
    if several and categorical:
        offsets = np.linspace(-DODGE / 2, DODGE / 2, len(groups))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, metric in zip(panels.flat, metrics, strict=False):
        for index, (label, rows) in enumerate(groups):
            stats = np.array(
                [_summary(rows.loc[_select(rows[axis], lv, numeric), metric]) for lv in levels]
            )
            color = colors[index % len(colors)]
            x = positions + offsets[index]
            if several:
                spread = np.abs([stats[:, 1] - stats[:, 0], stats[:, 2] - stats[:, 1]])
                ax.errorbar(
                    x, stats[:, 1], yerr=spread, fmt="o-", color=color, ms=3.5, lw=1.3,
                    elinewidth=1.0, capsize=2.0, label=label,
                )  # fmt: skip
            else:
                ax.fill_between(x, stats[:, 0], stats[:, 2], color=color, alpha=0.2, lw=0)
                ax.plot(x, stats[:, 1], "o-", color=color, ms=3.5, lw=1.5, label=label or None)
        if _is_mse(metric) and (frame[metric] > 0).any():
            _mse_scale(ax, frame[metric])
        if log_x:
            ax.set_xscale("log")
            ax.minorticks_off()
        if categorical:
            labels = [_tick(v) for v in levels]
            ax.set_xticks(positions, labels, rotation=_rotation(labels, ax, fig))
            ax.set_xlim(-0.5, len(levels) - 0.5)
        ax.set_xlabel(short[axis])
        ax.set_ylabel(_ylabel(metric, frame[metric], unit))
        ax.grid(alpha=0.3)
    for ax in list(panels.flat)[len(metrics) :]:
        ax.set_axis_off()
    spread = "bars" if several else "band"
    fig.suptitle(
        f"{title} vs {short[axis]} ({axis}): median over {unit}, {spread} q25-q75",
        fontsize="medium",
    )
    fig.tight_layout(rect=(0.0, 0.0, 1.0, 1.0 - 0.3 / fig.get_figheight()))  # room for the title
    if any(label for label, _ in groups):
        handles, labels = panels.flat[0].get_legend_handles_labels()
        fig.legend(
            handles,
            labels,
            loc="upper center",
            bbox_to_anchor=(0.5, 0.0),  # below the panels: the saved figure grows to hold it
            ncol=min(len(labels), 3),
            fontsize=8,
            frameon=False,
        )
    return fig


def _rotation(labels: list[str], ax: plt.Axes, fig: plt.Figure) -> float:
    """Tick-label rotation: none when the labels fit side by side, else upright (a
    category is wider than a line of text, so upright labels never touch)."""
    width_in = ax.get_position().width * fig.get_figwidth()
    needed_in = sum(len(label) + 2 for label in labels) * 0.075  # ~10 pt font
    return 0.0 if needed_in < width_in else 90.0


def _statistic(metric: str, column: pd.Series) -> tuple[str, Callable[[pd.Series], float]]:
    """How a heatmap cell sums up its rows: a fraction for true/false, the median for
    MSE (which spans decades), the mean for the rest (accuracy takes few values, which
    a median would hide)."""
    if pd.api.types.is_bool_dtype(column):
        return "fraction of", lambda values: _summary(values)[1]
    if _is_mse(metric):
        return "median over", lambda values: _summary(values)[1]

    def mean(values: pd.Series) -> float:
        values = values.dropna()
        return float(values.mean()) if len(values) else math.nan

    return "mean over", mean


def heatmap_figure(
    frame: pd.DataFrame,
    first: str,
    second: str,
    metrics: list[tuple[str, str]] | tuple[tuple[str, str], ...] = HEATMAP_METRICS,
    unit: str = "seeds",
) -> plt.Figure:
    """``metrics`` (``(column, title)``; default final MSE, converged and accuracy) over
    two axes, pooled over ``unit`` and any other axes; each colour bar says which
    statistic it shows (:func:`_statistic`)."""
    rows_levels, _, rows_numeric = _levels(frame[first])
    cols_levels, _, cols_numeric = _levels(frame[second])
    short = short_names([first, second])
    shown = [(name, title) for name, title in metrics if name in frame.columns]
    fig, panels = plt.subplots(1, len(shown), figsize=(4.6 * len(shown), 4.1), squeeze=False)
    for ax, (metric, title) in zip(panels.flat, shown, strict=True):
        statistic, summarise = _statistic(metric, frame[metric])
        grid = np.full((len(rows_levels), len(cols_levels)), np.nan)
        for i, row_level in enumerate(rows_levels):
            in_row = frame[_select(frame[first], row_level, rows_numeric)]
            for j, col_level in enumerate(cols_levels):
                cell = in_row.loc[_select(in_row[second], col_level, cols_numeric), metric]
                grid[i, j] = summarise(cell)
        finite = grid[np.isfinite(grid)]
        norm = None
        if _is_mse(metric) and len(finite) and finite.min() > 0:
            norm = LogNorm(vmin=finite.min(), vmax=max(finite.max(), finite.min() * 1.0001))
        image = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis", norm=norm)
        if norm is None and not _is_mse(metric):
            image.set_clim(0.0, 1.0)
        bar = fig.colorbar(image, ax=ax, shrink=0.85)
        bar.set_label(f"{statistic} {unit}")
        if grid.size <= 144:
            for (i, j), value in np.ndenumerate(grid):
                finite_value = bool(np.isfinite(value))
                text = f"{value:.2g}" if finite_value else "-"
                bright = not finite_value or image.norm(value) > 0.6
                ax.text(
                    j, i, text, ha="center", va="center", fontsize=7, color="k" if bright else "w"
                )
        labels = [_tick(v) for v in cols_levels]
        ax.set_xticks(range(len(cols_levels)), labels, rotation=_rotation(labels, ax, fig))
        ax.set_yticks(range(len(rows_levels)), [_tick(v) for v in rows_levels])
        ax.set_xlabel(short[second])
        ax.set_ylabel(short[first])
        ax.set_title(title)
    fig.suptitle(f"{short[first]} ({first}) x {short[second]} ({second})", fontsize="medium")
    fig.tight_layout()
    return fig


def _tick(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
