"""Figures: learning curves with spread bands, and trained networks drawn as graphs."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402

from deephw import atomic  # noqa: E402
from deephw.topology import Topology  # noqa: E402


def spread_bands(ax: plt.Axes, curves: np.ndarray, color: str, label: str) -> None:
    """Median over seeds with q25-q75 and min-max bands of ``curves`` (``(epochs, S)``)."""
    epochs = np.arange(1, curves.shape[0] + 1)
    q = np.quantile(curves, [0.0, 0.25, 0.5, 0.75, 1.0], axis=1)
    ax.fill_between(epochs, q[0], q[4], color=color, alpha=0.12, lw=0, label=f"{label} min-max")
    ax.fill_between(epochs, q[1], q[3], color=color, alpha=0.3, lw=0, label=f"{label} q25-q75")
    ax.plot(epochs, q[2], color=color, lw=1.5, label=f"{label} median")


def _positions(topo: Topology) -> dict[int, tuple[float, float]]:
    """Clamped neurons on the left, outputs on the right, hidden neurons on an arc between."""
    pos = {}
    for k in range(topo.n_clamped):
        pos[k] = (0.0, 1.0 - 2.0 * k / max(topo.n_clamped - 1, 1))
    hidden = range(topo.n_clamped, topo.n - topo.n_outputs)
    for k, j in enumerate(hidden):
        angle = np.pi * (k + 1) / (topo.n_hidden + 1)
        pos[j] = (1.0 + 0.45 * np.sin(angle), 1.3 * np.cos(angle))
    for k, j in enumerate(range(topo.n - topo.n_outputs, topo.n)):
        pos[j] = (2.0, 0.5 - k / max(topo.n_outputs - 1, 1) if topo.n_outputs > 1 else 0.0)
    return pos


def draw_network(ax: plt.Axes, weights: np.ndarray, mask: np.ndarray, topo: Topology) -> None:
    """Draw one network; edge opacity is proportional to ``|W|``, red > 0, blue < 0."""
    graph = nx.DiGraph()
    graph.add_nodes_from(range(topo.n))
    edges = [(int(i), int(j)) for i, j in np.argwhere(mask)]
    graph.add_edges_from(edges)
    pos = _positions(topo)
    largest = max((abs(weights[i, j]) for i, j in edges), default=1.0) or 1.0
    colors = [
        (0.8, 0.1, 0.1, abs(weights[i, j]) / largest)
        if weights[i, j] > 0
        else (0.1, 0.2, 0.8, abs(weights[i, j]) / largest)
        for i, j in edges
    ]
    kinds = ["#dddddd"] * topo.n_clamped + ["#ffe9a8"] * topo.n_hidden
    kinds += ["#b8e0b8"] * topo.n_outputs
    nx.draw_networkx_nodes(graph, pos, ax=ax, node_color=kinds, edgecolors="k", node_size=420)
    nx.draw_networkx_labels(graph, pos, {j: topo.role(j) for j in graph}, ax=ax, font_size=7)
    nx.draw_networkx_edges(
        graph,
        pos,
        ax=ax,
        edgelist=edges,
        edge_color=colors,
        width=1.6,
        arrows=True,
        arrowsize=9,
        node_size=420,
        connectionstyle="arc3,rad=0.12",
    )
    ax.set_axis_off()


def save(fig: plt.Figure, path: str | Path) -> None:
    """Save a figure as PNG atomically and close it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    atomic.write_bytes(path, buffer.getvalue())


def training_figure(history: dict[str, np.ndarray], n_trainable: int, title: str) -> plt.Figure:
    """MSE, accuracy, connections kept and the smallest outgoing sum, per epoch over seeds."""
    fig, axes = plt.subplots(2, 2, figsize=(10, 6.5), sharex=True)
    panels = [
        ("mse", "free-phase MSE", True),
        ("accuracy", "accuracy", False),
        ("connections", "connections kept (% of trainable)", False),
        ("min_out_sum", "min outgoing sum of a free neuron", False),
    ]
    for ax, (key, label, log) in zip(axes.flat, panels, strict=True):
        data = history[key]
        if key == "connections":
            data = 100.0 * data / n_trainable
        spread_bands(ax, data, "C0", "seeds")
        ax.set_ylabel(label)
        if log:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7)
    for ax in axes[1]:
        ax.set_xlabel("epoch")
    fig.suptitle(title)
    fig.tight_layout()
    return fig
