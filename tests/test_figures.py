"""Figures explain themselves (legends, titles), and the reproduction summary counts right."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.patches import FancyArrowPatch

from deephw import plotting, reproduce, topology


@pytest.fixture(scope="module")
def results() -> dict:
    """Every experiment of ``deephw reproduce``, very short (3 epochs, 2 seeds)."""
    return reproduce.run_all(epochs=3, seeds=2)


def legend_texts(legend) -> list[str]:
    return [text.get_text() for text in legend.get_texts()]


# -- draw_network ------------------------------------------------------------------
def test_edge_alpha_has_a_floor_and_reaches_one() -> None:
    alphas = plotting.edge_alpha(np.array([0.0, 1e-9, 0.5, 1.0, -1.0, 2.0]), 1.0)
    assert plotting.MIN_EDGE_ALPHA >= 0.15
    assert alphas[0] == pytest.approx(plotting.MIN_EDGE_ALPHA)
    assert alphas[2] == pytest.approx(plotting.MIN_EDGE_ALPHA + 0.5 * (1 - plotting.MIN_EDGE_ALPHA))
    assert alphas[3] == alphas[4] == alphas[5] == 1.0
    assert np.all(np.diff(alphas[:4]) > 0)


def test_reciprocal_edges_bend_apart_more_than_single_ones() -> None:
    topo = topology.complete(2, 5, 1)
    h1, h2, out = 3, 4, 8
    curvature = plotting.edge_curvature([(0, out), (h1, h2), (h2, h1)], topo)
    # arc3 bends to one side of the direction of travel: equal rad, opposite sides
    assert curvature[h1, h2] == curvature[h2, h1] > abs(curvature[0, out]) > 0


def test_edges_bend_around_neurons_and_away_from_each_other() -> None:
    topo = topology.complete(2, 5, 1)
    x2, h3, out = 1, 5, 8  # x2, h3 and out lie on one horizontal line
    alone = plotting.edge_curvature([(x2, out)], topo)
    assert abs(alone[x2, out]) > 0.1  # bends more, around h3
    both = plotting.edge_curvature([(x2, h3), (x2, out)], topo)
    # both leave x2 heading right: they bend to opposite sides
    assert both[x2, h3] * both[x2, out] < 0


def test_network_drawing_has_a_legend_and_no_invisible_edge() -> None:
    topo = topology.complete(2, 2, 1)
    rng = np.random.default_rng(0)
    weights = rng.uniform(-1, 1, (topo.n, topo.n)) * topo.mask
    weights[0, topo.n - 1] = 1e-6  # almost zero: still drawn, faintly
    weights[1, topo.n - 1] = 3.0
    fig, ax = plt.subplots()
    plotting.draw_network(ax, weights, topo.mask, topo)
    texts = legend_texts(ax.get_legend())
    assert "excitatory (W > 0)" in texts and "inhibitory (W < 0)" in texts
    assert any("opacity \u221d |W|" in text for text in texts)
    assert any("|W| = 3" in text for text in texts)
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert len(arrows) == int(topo.mask.sum())
    alphas = [arrow.get_edgecolor()[3] for arrow in arrows]
    assert min(alphas) >= plotting.MIN_EDGE_ALPHA - 1e-9 and max(alphas) == pytest.approx(1.0)
    reds = [a for a in arrows if a.get_edgecolor()[0] > a.get_edgecolor()[2]]
    assert 0 < len(reds) < len(arrows)
    plt.close(fig)


def test_network_legend_can_be_left_out() -> None:
    topo = topology.complete(2, 1, 1)
    fig, ax = plt.subplots()
    plotting.draw_network(ax, topo.mask * 0.5, topo.mask, topo, legend=False)
    assert ax.get_legend() is None
    plt.close(fig)


# -- reproduce figures -------------------------------------------------------------
def test_convergence_figure_names_the_threshold(results: dict) -> None:
    fig = reproduce.figure_convergence(results)
    texts = legend_texts(fig.axes[0].get_legend())
    assert "convergence threshold (MSE 0.01)" in texts
    plt.close(fig)


def test_comparison_titles_say_which_count_is_which(results: dict) -> None:
    fig = reproduce.figure_comparison(results)
    for ax, task in zip(fig.axes, reproduce.TASKS, strict=True):
        runs = results[task]
        counts = [int(runs[name].converged.sum()) for name in ("deep", "asym_ep", "asym_ep_own_lr")]
        assert ax.get_title() == (
            f"{task}: seeds converged (out of 2)\n"
            f"DEEP {counts[0]}, asym. EP (lr 10) {counts[1]}, asym. EP (lr 1) {counts[2]}"
        )
        assert ax.get_legend() is None  # one legend for the figure instead
    assert len(fig.legends) == 1
    texts = legend_texts(fig.legends[0])
    assert texts == [
        "DEEP (lr 10)",
        "asym. EP at DEEP's lr (10)",
        "asym. EP at its own lr (1)",
        "convergence threshold (MSE 0.01)",
    ]
    plt.close(fig)


def test_sparse_figure_panels_have_network_legends(results: dict) -> None:
    fig = reproduce.figure_sparse(results)
    for ax in fig.axes:
        assert "excitatory (W > 0)" in legend_texts(ax.get_legend())
    plt.close(fig)


# -- summary: killed by pruning ------------------------------------------------------
def fake_pruned_run(accuracy: np.ndarray, final: list[bool], start: int, enabled=True):
    """The parts of a TrainResult that :func:`reproduce.pruning_outcome` reads."""
    pruning = SimpleNamespace(enabled=enabled, start_epoch=start)
    return SimpleNamespace(
        config=SimpleNamespace(pruning=pruning),
        history={"accuracy": np.asarray(accuracy, dtype=float)},
        correct=np.array(final),
    )


def test_killed_by_pruning_counts_only_seeds_correct_when_pruning_started() -> None:
    # seeds: right then and at the end; right then, wrong at the end (killed);
    # never right (not killed: pruning did not break it); right only at the end
    accuracy = np.array(
        [
            [0.5, 0.5, 0.5, 0.5],
            [1.0, 1.0, 0.75, 0.5],  # epoch 1: pruning starts
            [1.0, 0.5, 0.75, 1.0],
        ]
    )
    run = fake_pruned_run(accuracy, [True, False, False, True], start=1)
    assert reproduce.pruning_outcome(run) == {
        "correct_when_pruning_started": 2,
        "killed_by_pruning": 1,
    }


def test_pruning_outcome_without_pruning() -> None:
    accuracy = np.ones((3, 2))
    never = {"correct_when_pruning_started": None, "killed_by_pruning": None}
    assert reproduce.pruning_outcome(fake_pruned_run(accuracy, [True, False], 0, False)) == never
    assert reproduce.pruning_outcome(fake_pruned_run(accuracy, [True, False], 3)) == never


def test_summary_reports_pruning_outcome(results: dict) -> None:
    report = reproduce.summary(results)
    for task, runs in report["tasks"].items():
        sparse = runs["deep_sparse"]
        result = results[task]["deep_sparse"]
        start = result.config.pruning.start_epoch
        before = result.history["accuracy"][start] >= 1.0
        assert sparse["correct_when_pruning_started"] == int(before.sum())
        assert sparse["killed_by_pruning"] == int((before & ~result.correct).sum())
        assert 0 <= sparse["killed_by_pruning"] <= sparse["correct_when_pruning_started"]
        assert runs["deep"]["killed_by_pruning"] is None
        assert runs["deep"]["correct_when_pruning_started"] is None


# -- MSE axes, run titles, the energy panel -------------------------------------------
def lowest_drawn(ax) -> float:
    """The smallest y value of every line and band drawn in ``ax``."""
    values = [np.min(line.get_ydata()) for line in ax.get_lines()]
    values += [c.get_paths()[0].vertices[:, 1].min() for c in ax.collections if c.get_paths()]
    return float(min(values))


def test_mse_axes_are_floored_near_1e_6(results: dict) -> None:
    results = copy.deepcopy(results)
    results["AND"]["deep"].history["mse"][-1, 0] = 1e-30  # an exact fit
    for figure in (reproduce.figure_convergence, reproduce.figure_comparison):
        fig = figure(results)
        for ax in fig.axes:
            low, _ = ax.get_ylim()
            assert ax.get_yscale() == "log"
            assert plotting.MSE_FLOOR / 3 < low < plotting.MSE_FLOOR
            assert lowest_drawn(ax) >= plotting.MSE_FLOOR
        assert "below 1e-06: drawn at 1e-06" in fig.axes[0].get_ylabel()
        plt.close(fig)


def run_of(data: dict):
    from deephw.config import from_dict
    from deephw.training import train

    return train(
        from_dict({"task": {"name": "OR"}, "training": {"epochs": 12, "seeds": 2}, **data})
    )


def test_training_figure_title_says_pruned_and_names_the_card() -> None:
    pruned = run_of(
        {
            "pruning": {"enabled": True, "start_epoch": 3, "stop_epoch": 9},
            "learning": {"l1": 1e-4},
            "hardware": {"card": "pcm_pair"},
        }
    )
    title = plotting.run_title(pruned)
    assert "pruned in epochs 3\u20139 (\u03bb 0.2, T 0.1, L1 0.0001)" in title
    assert "on the pcm_pair card, digital scheme" in title
    fig = plotting.training_figure(
        pruned.history, pruned.topology.n_trainable, title, plotting.pruning_window(pruned.config)
    )
    assert fig._suptitle.get_text() == title
    assert "pruning window" in legend_texts(fig.axes[0].get_legend())
    plt.close(fig)
    dense = run_of({})
    title = plotting.run_title(dense)
    assert "not pruned" in title and "on the ideal card" in title
    assert plotting.pruning_window(dense.config) is None


def test_pruning_window_runs_to_the_end_without_a_stop_epoch() -> None:
    from deephw.config import from_dict

    base = {"task": {"name": "OR"}, "training": {"epochs": 50}}
    config = from_dict({**base, "pruning": {"enabled": True, "start_epoch": 20}})
    assert plotting.pruning_window(config) == (20, 50)
    late = from_dict({**base, "pruning": {"enabled": True, "start_epoch": 60}})
    assert plotting.pruning_window(late) is None


def test_energy_panel_of_a_card_without_costs_says_so() -> None:
    ideal = run_of({})
    fig = plotting.hardware_figure(ideal.events, ideal.chip_time_s, plotting.run_title(ideal))
    energy = fig.axes[1]
    assert len(energy.get_lines()) == 0 and len(energy.collections) == 0
    assert [t.get_text() for t in energy.texts] == ["no energy: this card\nprices no device event"]
    assert fig._suptitle.get_text().startswith("OR: deep")
    plt.close(fig)
    pcm = run_of({"hardware": {"card": "pcm_pair"}})
    assert pcm.events["energy_pJ"][-1].min() > 0
    fig = plotting.hardware_figure(pcm.events, pcm.chip_time_s)
    labels = [line.get_label() for line in fig.axes[1].get_lines()]
    # the total, and its parts: device events, array reads during the phases, conversions
    assert labels == [
        "seeds median",
        "device events",
        "array reads (phases)",
        "ADC conversions",
    ]
    assert len(fig.axes[1].texts) == 0
    plt.close(fig)


# -- hardware_figure -----------------------------------------------------------------
def test_a_burst_of_one_seed_does_not_set_the_pulse_panel_range() -> None:
    """Per-epoch pulses around 10-100 with one seed's burst of 1400: the axis follows
    the median and quartiles, and no faint min-max band is drawn."""
    rng = np.random.default_rng(0)
    per_epoch = rng.integers(10, 100, size=(200, 10)).astype(float)
    per_epoch[50, 3] = 1400.0
    events = {"G+.set": np.cumsum(per_epoch, axis=0), "energy_pJ": np.cumsum(per_epoch, axis=0)}
    fig = plotting.hardware_figure(events, np.linspace(0.0, 1e-3, 200))
    try:
        pulses = fig.axes[0]
        assert pulses.get_ylim()[1] < 200.0
        assert not any("min-max" in text for text in legend_texts(pulses.get_legend()))
    finally:
        plt.close(fig)


def test_a_first_epoch_burst_puts_the_pulse_panel_on_a_labelled_log_scale() -> None:
    """Every seed writes its initial weights in epoch 1 (about 700 pulses), then ~25 per
    epoch: a linear axis would flatten the training epochs."""
    per_epoch = np.full((200, 4), 25.0)
    per_epoch[0] = 700.0
    events = {"G.set": np.cumsum(per_epoch, axis=0), "energy_pJ": np.zeros((200, 4))}
    fig = plotting.hardware_figure(events, np.linspace(0.0, 1e-3, 200))
    try:
        fig.canvas.draw()
        pulses = fig.axes[0]
        assert pulses.get_yscale() == "symlog"
        low, high = pulses.get_ylim()
        shown = {
            t.get_text() for t in pulses.get_yticklabels() if low <= t.get_position()[1] <= high
        }
        assert {"50", "100", "200", "500"} <= shown
    finally:
        plt.close(fig)


def test_a_large_network_is_drawn_as_its_weight_matrix(tmp_path, monkeypatch) -> None:
    """More connections than GRAPH_DRAW_EDGES: network.png is the weight matrix, drawn
    without the (slow) graph layout."""
    import deephw

    def refuse(*args, **kwargs):
        raise AssertionError("the graph drawing was used")

    monkeypatch.setattr(deephw.plotting, "draw_network", refuse)
    config = deephw.config.from_dict(
        {"task": {"name": "XOR"}, "network": {"hidden": 30}, "training": {"epochs": 2, "seeds": 1}}
    )
    result = deephw.train(config)
    assert result.mask.sum() > deephw.plotting.GRAPH_DRAW_EDGES
    deephw.rundir.write_run(result, tmp_path / "run")
    assert (tmp_path / "run" / "network.png").stat().st_size > 1000
