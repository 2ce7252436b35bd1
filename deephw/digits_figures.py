"""The figures of ``deephw reproduce --study digits`` (see :mod:`deephw.digits_study`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from deephw import plotting
from deephw.training import TrainResult

BASELINE_STYLE = {"logistic_regression": ("k", ":"), "mlp": ("k", "--")}
BASELINE_LABEL = {"logistic_regression": "logistic regression", "mlp": "MLP"}


def _tested(accuracy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Epochs (from 1) with a test evaluation, and the accuracies there."""
    done = ~np.isnan(accuracy).any(axis=1)
    return np.flatnonzero(done) + 1, accuracy[done]


def figure_training(
    results: dict[str, dict[str, TrainResult]], baselines: dict[str, Any]
) -> plotting.plt.Figure:
    """Train and test accuracy per epoch of the ``deep`` run (median and range over seeds)
    against the baselines' mean test accuracy; the fraction of free neurons on the rails
    per epoch of ``deep`` and of every variant."""
    deep = results["deep"]["deep"]
    fig, (acc_ax, rail_ax) = plotting.plt.subplots(1, 2, figsize=(13, 4.3))
    plotting.spread_bands(acc_ax, deep.history["accuracy"], "C0", "train")
    epochs, test = _tested(deep.history["test_accuracy"])
    acc_ax.fill_between(epochs, test.min(axis=1), test.max(axis=1), color="C1", alpha=0.2, lw=0)
    acc_ax.plot(epochs, np.median(test, axis=1), color="C1", lw=1.5, label="test median, range")
    for name, found in baselines.items():
        color, style = BASELINE_STYLE.get(name, ("0.5", "-"))
        label = (
            f"{BASELINE_LABEL.get(name, name)} (test, {100 * found['mean_test_accuracy']:.1f} %)"
        )
        acc_ax.axhline(found["mean_test_accuracy"], color=color, ls=style, lw=1, label=label)
    acc_ax.set_ylim(max(0.0, float(np.nanmin(test)) - 0.05), 1.005)
    acc_ax.set_title(f"DEEP on the digits, {len(deep.seeds)} seeds")
    acc_ax.set_ylabel("accuracy")
    for k, (name, result) in enumerate({"DEEP": deep, **results.get("variants", {})}.items()):
        if name == "base":
            continue
        rails = result.history["rail_fraction"].mean(axis=1)
        style = "-" if name == "DEEP" else "--"
        rail_ax.plot(
            np.arange(1, rails.size + 1), rails, f"C{k % 10}", ls=style, lw=1.3, label=name
        )
    rail_ax.set_title("free neurons on a rail (0 or 1), mean over seeds and images")
    rail_ax.set_ylabel("fraction on the rails")
    rail_ax.set_ylim(-0.02, 1.02)
    for ax in (acc_ax, rail_ax):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def figure_cards(results: dict[str, dict[str, TrainResult]]) -> plotting.plt.Figure:
    """Median test accuracy per epoch on each card, and of the ideal devices' run over the
    same epochs."""
    fig, ax = plotting.plt.subplots(figsize=(7.5, 4.3))
    deep = results["deep"]["deep"]
    cards = results["cards"]
    last = max(result.config.training.epochs for result in cards.values())
    epochs, test = _tested(deep.history["test_accuracy"][:last])
    ax.plot(
        epochs,
        np.median(test, axis=1),
        color="k",
        lw=1.5,
        label="ideal devices, the 100-epoch run (software)",
    )
    for k, (card, result) in enumerate(cards.items()):
        epochs, test = _tested(result.history["test_accuracy"])
        scheme = result.config.hardware.scheme_name
        ax.plot(epochs, np.median(test, axis=1), f"C{k % 10}", lw=1.3, label=f"{card} ({scheme})")
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy (median over seeds)")
    ax.set_title("DEEP on the digits on each device card")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
