"""The report of an ablation sweep: what each non-ideality costs, from its table alone.

Every seed starts from the same weights in every condition, so costs are taken seed by
seed: for ``without X``, the accuracy without X minus the full card's (what X costs on
the card, among the others); for ``only X``, the ideal devices' accuracy minus the
accuracy with X alone (what X costs by itself); then the median and quartiles over
seeds. Accuracy is the test accuracy when the runs have test data, else the train
accuracy. The final MSE of each condition is shown beside its reference's.

- :func:`costs`: one row per condition and seed, with its reference's scores;
- :func:`summary`: one row per condition (medians and quartiles);
- :func:`figure`: ``figures/ablation.png``, a bar chart per mode;
- :func:`summary_text`: the lines ``deephw sweep`` and ``deephw sweep report`` print.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

from deephw.plotting import plt

REFERENCE = {"without": "full", "only": "ideal"}
"""Each mode's reference condition."""

FIGURE = "ablation.png"

MSE_FLOOR = 1e-6
"""Final MSEs below this are drawn at it (a converged XOR reaches 0 exactly)."""


def score_column(frame: pd.DataFrame) -> str:
    """``test_accuracy`` when the table has test scores, else ``accuracy``."""
    if "test_accuracy" in frame.columns and frame["test_accuracy"].notna().any():
        return "test_accuracy"
    return "accuracy"


def costs(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per switched condition and seed: ``condition``, ``mode``, ``group``,
    ``seed``, the scores, the reference's (``reference_*``) and ``accuracy_lost`` (the
    accuracy the group costs, in percentage points: positive when it hurts)."""
    score = score_column(frame)
    columns = ["seed", score, "final_mse"]
    out = []
    for mode, reference in REFERENCE.items():
        rows = frame[frame["mode"] == mode]
        base = frame.loc[frame["mode"] == reference, columns]
        if rows.empty or base.empty:
            continue
        base = base.rename(columns={name: f"reference_{name}" for name in columns[1:]})
        paired = rows[["condition", "mode", "group", *columns]].merge(base, on="seed", how="left")
        # "without X" has X off against the full card; "only X" has it on against ideal.
        sign = 1.0 if mode == "without" else -1.0
        lost = sign * 100.0 * (paired[score] - paired[f"reference_{score}"])
        paired["accuracy_lost"] = lost + 0.0  # no -0.0
        out.append(paired)
    if not out:
        return pd.DataFrame(columns=["condition", "mode", "group", "seed"])
    return pd.concat(out, ignore_index=True)


def _quartiles(values: pd.Series) -> tuple[float, float, float]:
    values = values.dropna().to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    if not len(values):
        return (math.nan,) * 3
    q = np.quantile(values, [0.25, 0.5, 0.75])
    return float(q[0]), float(q[1]), float(q[2])


def summary(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per condition, in table order: ``condition``, ``mode``, ``group``,
    ``seeds``, the median score and final MSE, pulses and energy, and for switched
    conditions ``lost`` (median accuracy lost, points) with ``lost_q25``/``lost_q75``;
    ``NAME_q25``/``NAME_q75``: the quartiles of the final MSE and of the pulses."""
    score = score_column(frame)
    paired = costs(frame)
    rows = []
    for condition, group in frame.groupby("condition", sort=False):
        first = group.iloc[0]
        row: dict[str, Any] = {
            "condition": condition,
            "mode": first["mode"],
            "group": None if pd.isna(first["group"]) else first["group"],
            "seeds": len(group),
            "diverged": int(group["diverged"].sum()) if "diverged" in group else 0,
            score: _quartiles(group[score])[1],
        }
        for name in ("final_mse", "pulses"):
            if name in group:
                row[f"{name}_q25"], row[name], row[f"{name}_q75"] = _quartiles(group[name])
        if "energy_pJ" in group:
            row["energy_pJ"] = _quartiles(group["energy_pJ"])[1]
        mine = paired[paired["condition"] == condition] if len(paired) else paired
        if len(mine):
            row["lost_q25"], row["lost"], row["lost_q75"] = _quartiles(mine["accuracy_lost"])
        rows.append(row)
    return pd.DataFrame(rows)


def _label(score: str) -> str:
    return "test accuracy" if score == "test_accuracy" else "train accuracy"


TITLES = {
    "without": "switched off on the full card",
    "only": "alone on ideal devices",
}


def figure(frame: pd.DataFrame, description: dict[str, Any]) -> plt.Figure:
    """Bar charts of what each non-ideality costs: a column per mode (``without``: the
    group switched off on the full card; ``only``: alone on ideal devices). The top row
    is the accuracy it costs (percentage points; bars the median over seeds, whiskers
    the quartiles); below, the final MSE (log scale, values below :data:`MSE_FLOOR`
    drawn at it) and the pulses of each condition (median and quartiles) beside its
    reference's. Non-idealities the card sets but no value switches off are named
    below the panels."""
    info = description.get("ablation", {})
    score = score_column(frame)
    table = summary(frame)
    modes = [mode for mode in REFERENCE if (table["mode"] == mode).any()]
    extra = [
        name for name in ("final_mse", "pulses") if name in table and table[name].notna().any()
    ]
    n_groups = max([1, *((table["mode"] == mode).sum() for mode in modes)])
    n_rows, n_cols = 1 + len(extra), max(1, len(modes))
    height = 1.2 + 0.3 * n_groups
    fig, panels = plt.subplots(
        n_rows, n_cols, figsize=(5.6 * n_cols, n_rows * height + 0.8), squeeze=False
    )
    for col, mode in enumerate(modes):
        rows = table[table["mode"] == mode]
        y = np.arange(len(rows))[::-1]
        reference = table[table["condition"] == REFERENCE[mode]]
        ref_score = float(reference[score].iloc[0]) if len(reference) else math.nan
        top = panels[0, col]
        lost = rows["lost"].to_numpy(dtype=float)
        spread = np.abs([lost - rows["lost_q25"], rows["lost_q75"] - lost])
        colors = np.where(lost > 0, "tab:red", "tab:blue")
        top.barh(y, lost, xerr=spread, color=colors, alpha=0.8, capsize=2.5)
        top.axvline(0.0, color="k", lw=0.8)
        reach = np.nanmax(np.abs([*lost, *rows["lost_q25"], *rows["lost_q75"], 1.0]))
        top.set_xlim(-1.15 * reach, 1.15 * reach)
        top.set_xlabel(f"{_label(score)} it costs (points; < 0: it helps)")
        top.set_title(
            f"{TITLES[mode]} (against {REFERENCE[mode]}: {_percent(ref_score)})",
            fontsize="medium",
        )
        top.set_yticks(y, [f"{g} ({v:+.1f})" for g, v in zip(rows["group"], lost, strict=True)])
        top.grid(axis="x", alpha=0.3)
        for row, name in enumerate(extra, start=1):
            _dots(panels[row, col], rows, reference, name, y)
            panels[row, col].set_ylim(top.get_ylim())
    fixed = info.get("not_switchable") or {}
    note = "not switchable, kept in every condition: " + (", ".join(fixed) if fixed else "none")
    seeds = int(frame.groupby("condition")["seed"].nunique().max())
    fig.suptitle(
        f"What each non-ideality of {info.get('card', 'the card')} costs: median over "
        f"{seeds} seeds (paired by seed), whiskers q25-q75",
        fontsize="medium",
    )
    fig.text(0.5, 0.005, note, ha="center", va="bottom", fontsize=8)
    fig.tight_layout(rect=(0.0, 0.03, 1.0, 1.0 - 0.3 / fig.get_figheight()))
    return fig


def _dots(
    ax: plt.Axes, rows: pd.DataFrame, reference: pd.DataFrame, name: str, y: np.ndarray
) -> None:
    """Median and quartiles of ``name`` per condition, the reference's median dashed."""
    mse = name == "final_mse"
    floor = MSE_FLOOR if mse else -math.inf
    stats = np.maximum(rows[[f"{name}_q25", name, f"{name}_q75"]].to_numpy(float), floor)
    spread = np.abs([stats[:, 1] - stats[:, 0], stats[:, 2] - stats[:, 1]])
    ax.errorbar(stats[:, 1], y, xerr=spread, fmt="o", color="tab:gray", capsize=2.5)
    shown = stats[np.isfinite(stats)]
    if len(reference) and np.isfinite(reference[name].iloc[0]):
        level = max(float(reference[name].iloc[0]), floor)
        shown = np.append(shown, level)
        ax.axvline(level, color="k", lw=0.8, ls="--")
        label = REFERENCE[str(rows["mode"].iloc[0])]
        ax.annotate(label, (0.99, 0.01), xycoords="axes fraction", ha="right", fontsize=7)
    if mse:
        ax.set_xscale("log")
        # less than a decade and a half gets ticks at 1, 2 and 5 times each power of ten
        # (else it could show no number), a wider range only at the powers
        span = math.log10(shown.max() / shown.min()) if len(shown) else 0.0
        subs = (1.0, 2.0, 5.0) if span < 1.5 else (1.0,)
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=subs, numticks=8))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0e}".replace("e-0", "e-")))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel(f"final MSE (below {MSE_FLOOR:g} drawn at it; dashed: reference)")
    else:
        ax.set_xlabel(f"{name} (dashed: reference)")
    ax.set_yticks(y, list(rows["group"]))
    ax.grid(axis="x", alpha=0.3)


def summary_text(frame: pd.DataFrame, description: dict[str, Any]) -> str:
    """One line per condition (score, cost against its reference, final MSE, pulses,
    energy), then the groups listed but not run."""
    info = description.get("ablation", {})
    score = score_column(frame)
    table = summary(frame)
    lines = [
        f"ablation of {info.get('card', '?')}: {len(table)} conditions, {len(frame)} rows, "
        f"scored on {_label(score)}"
        + (f" ({description['description']})" if description.get("description") else "")
    ]
    width = max(len(str(name)) for name in table["condition"])
    for _, row in table.iterrows():
        text = f"  {row['condition']:<{width}}  {_label(score)} {_percent(row[score])}"
        if row["mode"] in REFERENCE and not math.isnan(row.get("lost", math.nan)):
            text += (
                f", {row['group']} costs {row['lost']:+.1f} points "
                f"[{row['lost_q25']:+.1f}, {row['lost_q75']:+.1f}]"
            )
        text += f", final MSE {row['final_mse']:.3g}"
        for name, unit in (("pulses", ""), ("energy_pJ", " pJ")):
            if name in row and not pd.isna(row[name]):
                text += f", {name.split('_')[0]} {row[name]:.4g}{unit}"
        if row["diverged"]:
            text += f", diverged {row['diverged']}/{row['seeds']}"
        lines.append(text)
    fixed = info.get("not_switchable") or {}
    if fixed:
        listed = "; ".join(f"{group} ({', '.join(fields)})" for group, fields in fixed.items())
        lines.append(f"not switchable (no value switches them off; kept): {listed}")
    if info.get("absent"):
        lines.append(f"not on the card (not run): {', '.join(info['absent'])}")
    return "\n".join(lines)


def _percent(value: float) -> str:
    return "-" if pd.isna(value) else f"{100 * value:.1f} %"
