"""What ``deephw program verify`` reports: per-group programming statistics, the
network's scores over time, as JSON, CSV and a figure."""

from __future__ import annotations

import csv
import io
from typing import Any

import numpy as np

from deephw import plotting
from deephw.program.chip import GroupOutcome
from deephw.program.drift import DriftPoint
from deephw.program.manifest import GroupRef
from deephw.program.results import DriftScore, GroupResult, Iterations, PulseCounts

QUANTILES = (0.5, 0.9, 0.99)


def _stats(values: np.ndarray) -> dict[str, float]:
    """Mean, standard deviation and quantiles of |value| (NaN when empty)."""
    if not values.size:
        return {"mean": float("nan"), "std": float("nan"), "abs_max": float("nan")}
    out = {"mean": float(values.mean()), "std": float(values.std())}
    magnitude = np.abs(values)
    for q, v in zip(QUANTILES, np.quantile(magnitude, QUANTILES), strict=True):
        out[f"abs_p{round(100 * q)}"] = float(v)
    out["abs_max"] = float(magnitude.max())
    return out


def group_summary(outcome: GroupOutcome, ref: GroupRef) -> GroupResult:
    """Per group, over every chip: devices within tolerance, residuals (true
    conductance minus target, µS), verify iterations, pulses and failed devices.

    ``failed`` counts written devices whose last verify read stayed outside tolerance;
    ``failed_stuck`` those of them that are stuck. Devices held at reset are not
    verified; their residual is their reset value's spread.
    """
    verified, within, stuck = outcome.verified, outcome.within, outcome.stuck
    failed = verified & ~within
    n_verified = int(verified.sum())
    return GroupResult(
        group=ref.name,
        roles=list(ref.roles),
        tiles=list(ref.tiles),
        devices=int(outcome.residual_uS.shape[1]),
        chips=int(outcome.residual_uS.shape[0]),
        tolerance_uS=ref.tolerance_uS,
        max_iterations=ref.max_iterations,
        verified=n_verified,
        held_at_reset=int((~verified).sum()),
        within_tolerance=int((verified & within).sum()),
        within_fraction=float((verified & within).sum() / n_verified) if n_verified else None,
        failed=int(failed.sum()),
        failed_stuck=int((failed & stuck).sum()),
        stuck=int(stuck.sum()),
        residual_uS=_stats(outcome.residual_uS.reshape(-1)),
        iterations=Iterations(
            mean=float(outcome.iterations[verified].mean()) if n_verified else 0.0,
            max=int(outcome.iterations[verified].max()) if n_verified else 0,
        ),
        pulses=PulseCounts(
            total=int(outcome.pulses.sum()),
            set=int(outcome.set_pulses.sum()),
            reset=int(outcome.reset_pulses.sum()),
            per_device=float(outcome.pulses.mean()),
        ),
    )


GROUP_COLUMNS = (
    "group",
    "roles",
    "devices",
    "chips",
    "verified",
    "within_tolerance",
    "within_fraction",
    "failed",
    "failed_stuck",
    "stuck",
    "residual_mean_uS",
    "residual_std_uS",
    "residual_abs_p50_uS",
    "residual_abs_p90_uS",
    "residual_abs_p99_uS",
    "residual_abs_max_uS",
    "iterations_mean",
    "iterations_max",
    "pulses_total",
    "pulses_set",
    "pulses_reset",
    "pulses_per_device",
)


def groups_csv(summaries: list[dict[str, Any]]) -> str:
    """One line per group (columns :data:`GROUP_COLUMNS`)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(GROUP_COLUMNS)
    for g in summaries:
        res = g["residual_uS"]
        row = [g["group"], " ".join(g["roles"])]
        row += [g[k] for k in ("devices", "chips", "verified", "within_tolerance")]
        row.append("" if g["within_fraction"] is None else f"{g['within_fraction']:.6g}")
        row += [g[k] for k in ("failed", "failed_stuck", "stuck")]
        row += [f"{res.get(k, float('nan')):.6g}" for k in ("mean", "std")]
        row += [f"{res.get(k, float('nan')):.6g}" for k in ("abs_p50", "abs_p90", "abs_p99")]
        row.append(f"{res['abs_max']:.6g}")
        row += [f"{g['iterations']['mean']:.6g}", g["iterations"]["max"]]
        p = g["pulses"]
        row += [p["total"], p["set"], p["reset"], f"{p['per_device']:.6g}"]
        writer.writerow(row)
    return out.getvalue()


def drift_rows(points: list[DriftPoint], seeds: np.ndarray) -> list[DriftScore]:
    """One record per time and chip."""
    rows = []
    for p in points:
        for k, seed in enumerate(seeds):
            rows.append(
                DriftScore(
                    time=p.label,
                    time_s=p.time_s,
                    chip_seed=int(seed),
                    mse=float(p.mse[k]),
                    accuracy=float(p.accuracy[k]),
                    mse_gdc=float(p.mse_gdc[k]),
                    accuracy_gdc=float(p.accuracy_gdc[k]),
                    gdc_gain_median=float(np.median(p.gain[k][p.gain[k] != 1.0]))
                    if (p.gain[k] != 1.0).any()
                    else 1.0,
                )
            )
    return rows


def drift_csv(rows: list[dict[str, Any]]) -> str:
    """The drift records as CSV."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: f"{v:.10g}" if isinstance(v, float) else v for k, v in row.items()})
    return out.getvalue()


def drift_figure(
    points: list[DriftPoint], trained: tuple[float, float], title: str
) -> plotting.plt.Figure:
    """Accuracy and MSE vs time after programming, with and without global drift
    compensation. Lines: the mean accuracy and the median MSE over chips; bands: their
    min-max range; dashed: the trained network's scores (its target weights).
    ``trained`` is ``(mse, accuracy)``."""
    fig, axes = plotting.plt.subplots(1, 2, figsize=(10.5, 3.9))
    x = np.arange(len(points))
    chips = points[0].mse.size
    panels = [
        (axes[0], "accuracy (%), mean", 100.0, np.mean, ("accuracy", "accuracy_gdc"), trained[1]),
        (axes[1], "free-phase MSE, median", 1.0, np.median, ("mse", "mse_gdc"), trained[0]),
    ]
    series = [("no compensation", "C3", "o", -0.06), ("global drift compensation", "C0", "s", 0.06)]
    for ax, ylabel, scale, centre, keys, reference in panels:
        for (name, color, marker, shift), key in zip(series, keys, strict=True):
            values = scale * np.array([getattr(p, key) for p in points])
            ax.plot(x + shift, centre(values, axis=1), color=color, marker=marker, label=name)
            if chips > 1:
                low, high = values.min(axis=1), values.max(axis=1)
                ax.fill_between(x + shift, low, high, color=color, alpha=0.12, lw=0)
        ax.axhline(scale * reference, color="0.3", ls="--", lw=1, label="trained (target weights)")
        ax.set_xticks(x, [p.label for p in points])
        ax.set_xlabel("time after programming")
        ax.set_ylabel(ylabel if chips > 1 else ylabel.split(",")[0])
        ax.grid(alpha=0.3)
    axes[0].set_ylim(-5, 105)
    axes[1].set_yscale("symlog", linthresh=1e-4)
    top = max(float(np.max([p.mse for p in points] + [p.mse_gdc for p in points])), trained[0])
    axes[1].set_ylim(0, max(3 * top, 1e-3))
    spread = f"bands: min-max over {chips} chips" if chips > 1 else "one chip"
    axes[0].legend(fontsize=8, loc="lower left", title=spread, title_fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def _group_line(g: dict[str, Any]) -> str:
    devices = g["devices"] * g["chips"]
    res = g["residual_uS"].get("abs_p90", float("nan"))
    pulses = g["pulses"]["total"]
    if not g["verified"]:
        cells = ("held at reset", devices, "-", "-", g["stuck"], res, "-", pulses)
    else:
        within = f"{g['within_tolerance']}/{g['verified']}"
        iterations = f"{g['iterations']['mean']:.2f}"
        cells = ("write-verify", devices, within, g["failed"], g["stuck"], res, iterations, pulses)
    method, devices, within, failed, stuck, res, iterations, pulses = cells
    return (
        f"{g['group']:<20} {method:<13} {devices:>8} {within:>12} {failed:>7} {stuck:>6} "
        f"{res:>10.3g} {iterations:>6} {pulses:>9}"
    )


def _scores(values: list[dict[str, Any]], key: str) -> str:
    accuracy = np.array([row[f"accuracy{key}"] for row in values])
    mse = np.array([row[f"mse{key}"] for row in values])
    right = f"{int((accuracy >= 1.0).sum())}/{accuracy.size}"
    return (
        f"{right:>9} {100 * accuracy.mean():>8.1f} % {100 * np.median(accuracy):>7.1f} % "
        f"{np.median(mse):>9.3g}"
    )


def summary_lines(report: dict[str, Any]) -> list[str]:
    """What ``deephw program verify`` prints: per group how programming went, then the
    network's scores over the chips at each time after programming, with and without
    global drift compensation; every column is headed and explained."""
    chips = len(report["chip_seeds"])
    lines = [
        f"programming, per device group, over {chips} chip{'s' if chips > 1 else ''} "
        f"(seeds {report['chip_seeds'][0]} to {report['chip_seeds'][-1]}):",
        f"{'group':<20} {'method':<13} {'devices':>8} {'within tol.':>12} {'failed':>7} "
        f"{'stuck':>6} {'|res| p90':>10} {'iter.':>6} {'pulses':>9}",
    ]
    lines += [_group_line(g) for g in report["groups"]]
    lines += [
        "  devices: the group's devices on all chips. write-verify: RESET, then programmed and",
        "  read back until within tolerance or out of iterations; held at reset: RESET and kept",
        "  there, never verified. within tol.: written devices whose last verify read was within",
        "  tolerance; failed: the others (stuck ones included). |res| p90: 90th percentile of",
        "  |conductance - target| in µS (true values, not reads). iter.: mean verify reads per",
        "  written device. pulses: SET and RESET pulses.",
    ]
    trained = report["trained"]
    lines.append(
        f"trained network (its target weights): MSE {trained['mse']:.4g}, accuracy "
        f"{100 * trained['accuracy']:.1f} %"
    )
    head = f"{'all right':>9} {'acc. mean':>10} {'acc. med.':>9} {'MSE med.':>9}"
    lines += [
        f"the programmed network on the {chips} chip{'s' if chips > 1 else ''}, by time after "
        "programming:",
        f"{'':<8}   {'without compensation':^40}   {'global drift compensation':^40}",
        f"{'time':<8}   {head}   {head}",
    ]
    times = dict.fromkeys(row["time"] for row in report["drift"])
    for label in times:
        rows = [r for r in report["drift"] if r["time"] == label]
        lines.append(f"{label:<8}   {_scores(rows, '')}   {_scores(rows, '_gdc')}")
    lines += [
        f"  all right: chips (of {chips}) whose network classifies every pattern right.",
        "  acc. mean, acc. med.: accuracy (share of patterns right), mean and median over chips;",
        "  MSE med.: free-phase MSE, median over chips. Global drift compensation scales each",
        "  tile's outputs by a reference read right after programming over the same read now,",
        "  undoing the mean conductance drift (not the device-to-device spread).",
    ]
    return [line.rstrip() for line in lines]
