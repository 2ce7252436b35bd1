"""Sweep figures drawn from a table: tick labels that are the axis values and do not
overlap, legends outside the panels, short axis labels with the full path in the title,
series that stay apart, and heatmaps that say which statistic they show."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.container import ErrorbarContainer

from deephw.plotting import plt
from deephw.sweep import figures

DESCRIPTION = {
    "kind": "train",
    "label": None,
    "axes": ["init.high", "learning.lr"],
    "metrics": {"final_mse": "float64", "accuracy": "float64", "converged": "bool"},
    "hardware": [],
    "combine": "grid",
}


def table(highs=(0.0, 0.1, 0.3), lrs=(1.0, 10.0), seeds=4) -> pd.DataFrame:
    """A made-up sweep table: accuracy 0.5, 0.75, 1, 1 over the seeds of each cell."""
    rows = []
    for k, (high, lr) in enumerate(itertools.product(highs, lrs)):
        for seed in range(seeds):
            accuracy = [0.5, 0.75, 1.0, 1.0][seed % 4]
            rows.append(
                {
                    "config": f"c{k}",
                    "init.high": high,
                    "learning.lr": lr,
                    "seed": seed,
                    "final_mse": 10.0 ** -(seed + 1) * (1 + high),
                    "accuracy": accuracy,
                    "converged": seed < 2,
                }
            )
    return pd.DataFrame(rows)


def overlapping(texts) -> list[tuple[str, str]]:
    """Pairs of drawn texts whose boxes overlap."""
    boxes = [(t.get_text(), t.get_window_extent()) for t in texts if t.get_text()]
    return [
        (a, b)
        for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2)
        if box_a.overlaps(box_b)
    ]


@pytest.mark.parametrize(
    "values",
    [(0.0, 0.1, 0.3), (0.0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)],
    ids=["three", "ten-decades"],
)
def test_ticks_are_the_values_evenly_spaced_and_do_not_overlap(values):
    frame = table(highs=values)
    fig = figures.metric_figure(frame, "init.high", ["learning.lr"], ["final_mse", "accuracy"])
    try:
        fig.canvas.draw()
        for ax in fig.axes[:2]:
            labels = ax.get_xticklabels()
            assert [t.get_text() for t in labels] == [figures._tick(v) for v in values]
            assert list(ax.get_xticks()) == list(range(len(values)))
            assert overlapping(labels) == []
    finally:
        plt.close(fig)


def test_the_legend_is_below_the_panels_and_labels_are_short(tmp_path):
    frame = table()
    fig = figures.metric_figure(frame, "init.high", ["learning.lr"], ["final_mse", "accuracy"])
    try:
        fig.canvas.draw()
        assert all(ax.get_legend() is None for ax in fig.axes)  # nothing covers the data
        (legend,) = fig.legends
        assert [t.get_text() for t in legend.get_texts()] == ["lr = 1", "lr = 10"]
        renderer = fig.canvas.get_renderer()
        top = legend.get_window_extent(renderer).y1
        lowest = min(ax.get_tightbbox(renderer).y0 for ax in fig.axes[:2])  # tick labels too
        assert top <= lowest
        assert fig.axes[0].get_xlabel() == "high"
        assert "high (init.high)" in fig._suptitle.get_text()
    finally:
        plt.close(fig)
    # The saved image holds the legend below the panels.
    path = tmp_path / "figure.png"
    figures.save(figures.metric_figure(frame, "init.high", ["learning.lr"], ["final_mse"]), path)
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_several_series_get_apart_quartile_bars_one_series_a_band():
    frame = table()
    fig = figures.metric_figure(frame, "init.high", ["learning.lr"], ["final_mse"])
    try:
        ax = fig.axes[0]
        bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
        assert len(bars) == 2
        assert not [c for c in ax.collections if isinstance(c, PolyCollection)]  # no bands
        xs = [bar.lines[0].get_xdata() for bar in bars]
        assert np.all(np.abs(xs[0] - xs[1]) >= 0.2)  # spread apart around each category
        assert colours_differ(bar.lines[0].get_color() for bar in bars)
    finally:
        plt.close(fig)
    fig = figures.metric_figure(frame, "init.high", [], ["final_mse"])
    try:
        ax = fig.axes[0]
        assert [c for c in ax.collections if isinstance(c, PolyCollection)]
        assert not ax.containers
    finally:
        plt.close(fig)


def colours_differ(colours) -> bool:
    colours = list(colours)
    return len(set(colours)) == len(colours)


def test_the_heatmap_shows_the_mean_accuracy_and_says_so():
    frame = table()
    fig = figures.heatmap_figure(frame, "init.high", "learning.lr")
    try:
        panels = {ax.get_title(): ax for ax in fig.axes if ax.get_title()}
        image = panels["accuracy"].images[0]
        # Each cell's seeds score 0.5, 0.75, 1 and 1: mean 0.8125, where the median is 0.875.
        assert np.allclose(image.get_array(), 0.8125)
        colourbars = {ax.get_ylabel() for ax in fig.axes if not ax.get_title()}
        assert colourbars == {"median over seeds", "fraction of seeds", "mean over seeds"}
        assert panels["accuracy"].get_xlabel() == "lr" and panels["accuracy"].get_ylabel() == "high"
        assert "high (init.high) x lr (learning.lr)" in fig._suptitle.get_text()
    finally:
        plt.close(fig)
    fig = figures.heatmap_figure(frame, "init.high", "learning.lr", [("accuracy", "a")], "chips")
    try:
        assert fig.axes[1].get_ylabel() == "mean over chips"
    finally:
        plt.close(fig)


def test_short_names_keep_colliding_paths_apart():
    names = ["dynamics.beta", "pruning.beta", "learning.lr", "lr"]
    assert figures.short_names(names) == {
        "dynamics.beta": "dynamics.beta",
        "pruning.beta": "pruning.beta",
        "learning.lr": "learning.lr",
        "lr": "lr",
    }
    assert figures.short_names(["hardware.card_overrides.device.read_noise_uS"]) == {
        "hardware.card_overrides.device.read_noise_uS": "read_noise_uS"
    }


def test_draw_all_shows_a_bar_over_the_figures(tmp_path, capsys):
    written = figures.draw_all(table(), DESCRIPTION, tmp_path, progress=True)
    assert sorted(p.name for p in written) == [
        "heatmap_init.high__learning.lr.png",
        "vs_init.high.png",
        "vs_learning.lr.png",
    ]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in written)
    assert "figures: 100%" in capsys.readouterr().err


def test_an_mse_panel_within_one_decade_has_labelled_ticks():
    """MSE between 0.1 and 0.25 holds no power of ten: the axis still shows numbers."""
    frame = table()
    frame["final_mse"] = 0.1 + 0.15 * (frame["seed"] / 3)
    fig = figures.metric_figure(frame, "init.high", ["learning.lr"], ["final_mse"])
    try:
        fig.canvas.draw()
        ax = fig.axes[0]
        low, high = ax.get_ylim()
        shown = [t.get_text() for t in ax.get_yticklabels() if low <= t.get_position()[1] <= high]
        assert len(shown) >= 2 and all(float(text) > 0 for text in shown), shown
    finally:
        plt.close(fig)
