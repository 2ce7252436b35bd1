"""Figures: learning curves with spread bands, and trained networks drawn as graphs."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import FuncFormatter, SymmetricalLogLocator  # noqa: E402

from deephw import atomic  # noqa: E402
from deephw.topology import Topology  # noqa: E402
from deephw.training import pulse_total  # noqa: E402

if TYPE_CHECKING:
    from deephw.config import RunConfig
    from deephw.training import TrainResult


MSE_FLOOR = 1e-6
"""The smallest MSE an MSE axis shows: exact fits reach 1e-30, and an axis down there
leaves most of a panel empty. Smaller values are drawn at the floor (see :func:`mse_axis`)."""


def mse_axis(ax: plt.Axes, label: str) -> None:
    """A log MSE axis floored near :data:`MSE_FLOOR`, its label saying how lower values show."""
    ax.set_yscale("log")
    ax.set_ylim(bottom=MSE_FLOOR / 2)
    ax.set_ylabel(f"{label}\n(below {MSE_FLOOR:g}: drawn at {MSE_FLOOR:g})")


def floored(mse: np.ndarray) -> np.ndarray:
    """MSE values for an axis of :func:`mse_axis`: those below :data:`MSE_FLOOR` at the floor."""
    return np.maximum(mse, MSE_FLOOR)


def spread_bands(
    ax: plt.Axes, curves: np.ndarray, color: str, label: str, extremes: bool = True
) -> None:
    """Median over seeds with q25-q75 and min-max bands of ``curves`` (``(epochs, S)``).

    ``extremes=False`` leaves out the min-max band: for counts with rare bursts (pulses
    per epoch), a faint band of one seed's burst would set the axis range and flatten
    the median.
    """
    epochs = np.arange(1, curves.shape[0] + 1)
    q = np.quantile(curves, [0.0, 0.25, 0.5, 0.75, 1.0], axis=1)
    if extremes:
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


EXCITATORY = (0.8, 0.1, 0.1)
"""Colour of an edge with W > 0."""
INHIBITORY = (0.1, 0.2, 0.8)
"""Colour of an edge with W < 0."""
MIN_EDGE_ALPHA = 0.15
"""Opacity of the weakest edge, so that every kept connection stays visible."""


def edge_alpha(magnitude: np.ndarray | float, largest: float) -> np.ndarray:
    """Edge opacity: ``MIN_EDGE_ALPHA`` at ``|W| = 0`` rising linearly to 1 at ``largest``."""
    share = np.clip(np.abs(magnitude) / (largest or 1.0), 0.0, 1.0)
    return MIN_EDGE_ALPHA + (1.0 - MIN_EDGE_ALPHA) * share


NEAR_PARALLEL = 0.25
"""Edges leaving or entering a neuron in directions closer than this (radians) crowd
each other."""
NODE_CLEARANCE = 0.05
"""An edge passing closer than this to a neuron it does not join crosses it (in units
of the drawing's width and height)."""


def edge_curvature(edges: list[tuple[int, int]], topo: Topology) -> dict[tuple[int, int], float]:
    """Arc curvature (matplotlib ``arc3`` ``rad``) of each edge, chosen to keep edges apart.

    An arc bends to the same side of its direction of travel, so ``i -> j`` and
    ``j -> i`` bend to opposite sides; such a pair bends more (0.3 against 0.1), to keep
    the two apart. Edges are placed shortest first; each takes the first of a few
    curvatures (either side, then bending more) that crosses the fewest neurons it does
    not join and, among those, leaves or meets the fewest placed edges in nearly its
    own direction.
    """
    present = set(edges)
    pos = _positions(topo)
    xy = np.array([pos[k] for k in range(topo.n)], dtype=float)
    span = xy.max(axis=0) - xy.min(axis=0)
    unit = (xy - xy.min(axis=0)) / np.where(span > 0, span, 1.0)
    samples = np.linspace(0.08, 0.92, 25)[:, None]
    curvature: dict[tuple[int, int], float] = {}
    # at each neuron: (direction of an edge seen from the neuron, side it bends to)
    placed: dict[int, list[tuple[float, int]]] = {k: [] for k in range(topo.n)}

    def heading(frm: int, to: int) -> float:
        dx, dy = unit[to] - unit[frm]
        return float(np.arctan2(dy, dx))

    def crossed(i: int, j: int, rad: float) -> int:
        """Neurons other than ``i`` and ``j`` that the arc passes over."""
        a, b = unit[i], unit[j]
        (dx, dy) = b - a
        control = (a + b) / 2 + rad * np.array([dy, -dx])  # as matplotlib's arc3
        t = samples
        curve = (1 - t) ** 2 * a + 2 * (1 - t) * t * control + t**2 * b
        others = np.delete(unit, [i, j], axis=0)
        if not len(others):
            return 0
        gap = np.linalg.norm(curve[:, None, :] - others[None, :, :], axis=2).min(axis=0)
        return int((gap < NODE_CLEARANCE).sum())

    def crowding(i: int, j: int, side: int) -> int:
        """Placed edges that ``i -> j`` would leave or meet in nearly their direction."""
        ends = ((i, heading(i, j), side), (j, heading(j, i), -side))
        return sum(
            other == bend and abs(np.angle(np.exp(1j * (angle - theta)))) < NEAR_PARALLEL
            for k, angle, bend in ends
            for theta, other in placed[k]
        )

    def length(edge: tuple[int, int]) -> float:
        return float(np.hypot(*(unit[edge[1]] - unit[edge[0]])))

    for i, j in sorted(edges, key=length):
        if (j, i) in present:  # keep the side: the pair bends apart
            candidates = [0.3, 0.45, 0.6]
        else:
            candidates = [sign * rad for rad in (0.1, 0.25, 0.4) for sign in (1, -1)]
        rad = min(
            candidates,
            key=lambda r: (crossed(i, j, r), crowding(i, j, 1 if r > 0 else -1)),
        )
        side = 1 if rad > 0 else -1
        placed[i].append((heading(i, j), side))
        placed[j].append((heading(j, i), -side))
        curvature[i, j] = rad
    return curvature


def network_legend(ax: plt.Axes, largest: float) -> None:
    """Legend of :func:`draw_network`: colour is the sign of W, opacity grows with ``|W|``."""
    faint = (0.0, 0.0, 0.0, MIN_EDGE_ALPHA)
    handles = [
        Line2D([], [], color=EXCITATORY, lw=1.8, label="excitatory (W > 0)"),
        Line2D([], [], color=INHIBITORY, lw=1.8, label="inhibitory (W < 0)"),
        Line2D([], [], color="k", lw=1.8, label=f"opaque: |W| = {largest:.3g}"),
        Line2D([], [], color=faint, lw=1.8, label="faint: |W| near 0 (opacity \u221d |W|)"),
    ]
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        ncol=2,
        fontsize=7,
        frameon=False,
        handlelength=1.6,
        columnspacing=1.2,
    )


GRAPH_DRAW_EDGES = 500
"""Networks with more connections are drawn as their weight matrix (a graph drawing of
thousands of edges takes minutes and shows nothing)."""


def draw_weight_matrix(ax: plt.Axes, weights: np.ndarray, mask: np.ndarray) -> None:
    """Draw ``W[i, j]`` (row: from, column: to) as an image, red > 0, blue < 0, white
    where there is no connection."""
    largest = float(np.abs(weights[mask]).max(initial=0.0)) or 1.0
    shown = np.where(mask, weights, np.nan)
    image = ax.imshow(shown, cmap="RdBu_r", vmin=-largest, vmax=largest, interpolation="nearest")
    ax.set_xlabel("to neuron j")
    ax.set_ylabel("from neuron i")
    ax.figure.colorbar(image, ax=ax, label="W")


def draw_network(
    ax: plt.Axes, weights: np.ndarray, mask: np.ndarray, topo: Topology, legend: bool = True
) -> None:
    """Draw one network: red edges W > 0, blue W < 0, opacity growing with ``|W|``.

    The weakest edge keeps an opacity of ``MIN_EDGE_ALPHA``; ``legend`` adds a legend
    under the graph that says so.
    """
    graph = nx.DiGraph()
    graph.add_nodes_from(range(topo.n))
    edges = [(int(i), int(j)) for i, j in np.argwhere(mask)]
    graph.add_edges_from(edges)
    pos = _positions(topo)
    largest = float(max((abs(weights[i, j]) for i, j in edges), default=1.0)) or 1.0
    kinds = ["#dddddd"] * topo.n_clamped + ["#ffe9a8"] * topo.n_hidden
    kinds += ["#b8e0b8"] * topo.n_outputs
    nx.draw_networkx_nodes(graph, pos, ax=ax, node_color=kinds, edgecolors="k", node_size=420)
    nx.draw_networkx_labels(graph, pos, {j: topo.role(j) for j in graph}, ax=ax, font_size=7)
    curvature = edge_curvature(edges, topo)
    for rad in sorted(set(curvature.values())):
        group = [edge for edge in edges if curvature[edge] == rad]
        colors = [
            (*(EXCITATORY if weights[i, j] > 0 else INHIBITORY), edge_alpha(weights[i, j], largest))
            for i, j in group
        ]
        nx.draw_networkx_edges(
            graph,
            pos,
            ax=ax,
            edgelist=group,
            edge_color=colors,
            width=1.6,
            arrows=True,
            arrowsize=9,
            node_size=420,
            connectionstyle=f"arc3,rad={rad:g}",
        )
    if legend:
        network_legend(ax, largest)
    ax.set_axis_off()


def save(fig: plt.Figure, path: str | Path) -> None:
    """Save a figure as PNG atomically and close it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    atomic.write_bytes(path, buffer.getvalue())


def pruning_window(config: RunConfig) -> tuple[int, int] | None:
    """The epochs a run prunes in, ``(first, end)``, or ``None`` if it never prunes."""
    prune = config.pruning
    if not prune.enabled or prune.start_epoch >= config.training.epochs:
        return None
    stop = config.training.epochs if prune.stop_epoch is None else prune.stop_epoch
    return prune.start_epoch, min(stop, config.training.epochs)


def run_title(result: TrainResult) -> str:
    """A run's figure title: task, rule, seeds, whether and when it was pruned, the chip."""
    config = result.config
    prune = config.pruning
    window = pruning_window(config)
    if window is not None:
        pruning = (
            f"pruned in epochs {window[0]}\u2013{window[1]} "
            f"(\u03bb {prune.threshold:g}, T {prune.temperature:g}, L1 {config.learning.l1:g})"
        )
    else:
        pruning = "not pruned"
    card = config.hardware.card
    if result.controller is not None:
        card = result.controller.crossbar.card.name
    changed = " with overrides" if config.hardware.card_overrides else ""
    learn = config.learning
    schedule = "" if learn.schedule == "constant" else f", {learn.schedule} schedule"
    return (
        f"{result.task.name}: {config.learning.rule} (lr {config.learning.lr:g}{schedule}), "
        f"{len(result.seeds)} seeds, {pruning}\n"
        f"on the {card} card{changed}, {config.hardware.scheme_name} scheme, "
        f"{config.engine.name} engine"
    )


def training_figure(
    history: dict[str, np.ndarray],
    n_trainable: int,
    title: str,
    pruning: tuple[int, int] | None = None,
) -> plt.Figure:
    """MSE, accuracy, connections kept and the smallest outgoing sum, per epoch over seeds.

    The accuracy panel adds the test accuracy (median over seeds) when ``history`` has it.

    ``pruning`` is the pruning window (first epoch, end epoch), shaded in every panel.
    """
    fig, axes = plt.subplots(2, 2, figsize=(10, 6.8), sharex=True)
    panels = [
        ("mse", "free-phase MSE"),
        ("accuracy", "accuracy"),
        ("connections", "connections kept (% of trainable)"),
        ("min_out_sum", "min outgoing sum of a free neuron"),
    ]
    for ax, (key, label) in zip(axes.flat, panels, strict=True):
        data = history[key]
        if key == "connections":
            data = 100.0 * data / n_trainable
        if key == "mse":
            data = floored(data)
        if pruning is not None:
            ax.axvspan(*pruning, color="0.85", alpha=0.5, lw=0, label="pruning window")
        spread_bands(ax, data, "C0", "seeds")
        if key == "accuracy" and "test_accuracy" in history:
            _test_curve(ax, history["test_accuracy"])
        if key == "mse":
            mse_axis(ax, label)
        else:
            ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7)
    for ax in axes[1]:
        ax.set_xlabel("epoch")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def _test_curve(ax: plt.Axes, accuracy: np.ndarray) -> None:
    """The median test accuracy over seeds at the epochs it was evaluated (rows not NaN)."""
    done = ~np.isnan(accuracy).any(axis=1)
    epochs = np.flatnonzero(done) + 1
    ax.plot(
        epochs,
        np.median(accuracy[done], axis=1),
        "o-",
        color="C1",
        ms=2.5,
        lw=1.2,
        label="test median",
    )
    ax.legend(fontsize=7)


def _log_if_bursty(ax: plt.Axes, per_epoch: np.ndarray) -> None:
    """A symmetric log scale when a few epochs (e.g. the first, which writes the initial
    weights) count ten times the typical epoch: on a linear axis they would flatten it."""
    typical = float(np.median(per_epoch))
    if typical > 0 and np.quantile(per_epoch, 0.75, axis=1).max() > 10 * typical:
        ax.set_yscale("symlog", linthresh=typical / 10)
        ax.yaxis.set_major_locator(
            SymmetricalLogLocator(base=10, linthresh=typical / 10, subs=(1.0, 2.0, 5.0))
        )
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_ylabel(f"{ax.get_ylabel()}\n(symmetric log scale)")


ENERGY_PARTS = {
    "energy.devices_pJ": "device events",
    "energy.array_read_pJ": "array reads (phases)",
    "energy.adc_pJ": "ADC conversions",
}
"""The parts of a run's energy (``events`` keys) and their labels in the figure."""


def _energy_parts(ax: plt.Axes, events: dict[str, np.ndarray]) -> None:
    """Median over seeds of each part of the energy per epoch (nJ), as thin lines."""
    for k, (key, label) in enumerate(ENERGY_PARTS.items()):
        if key in events and np.any(events[key]):
            part = np.diff(events[key], axis=0, prepend=0.0) / 1e3
            epochs = np.arange(1, part.shape[0] + 1)
            ax.plot(epochs, np.median(part, axis=1), color=f"C{k + 3}", lw=1, label=label)


def hardware_figure(
    events: dict[str, np.ndarray], chip_time_s: np.ndarray, title: str | None = None
) -> plt.Figure:
    """Pulses and energy per epoch (over seeds; the energy with its parts: device
    events, the array read during the phases, ADC conversions), and the chip clock.

    A card that prices no event (the ideal card) spends no energy: its energy panel
    says so instead of drawing a line at zero.
    """
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    pulses = pulse_total(events)
    pulses = np.zeros_like(events["energy_pJ"]) if pulses is None else pulses
    per_epoch = {
        "pulses per epoch (SET + RESET, all devices)": np.diff(pulses, axis=0, prepend=0.0),
        "energy per epoch (nJ)": np.diff(events["energy_pJ"], axis=0, prepend=0.0) / 1e3,
    }
    for ax, (label, data) in zip(axes[:2], per_epoch.items(), strict=True):
        ax.set_ylabel(label)
        ax.set_xlabel("epoch")
        if label.startswith("energy") and not np.any(events["energy_pJ"]):
            ax.text(
                0.5,
                0.5,
                "no energy: this card\nprices no device event",
                transform=ax.transAxes,
                ha="center",
                va="center",
                color="0.35",
            )
            ax.set_yticks([])
            ax.set_xlim(1, max(len(data), 2))
            continue
        spread_bands(ax, data, "C1", "seeds", extremes=False)
        if label.startswith("energy"):
            _energy_parts(ax, events)
        _log_if_bursty(ax, data)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    if axes[1].get_legend_handles_labels()[0]:  # the ideal card's panel has no lines
        axes[1].legend(fontsize=7)
    axes[2].plot(np.arange(1, len(chip_time_s) + 1), chip_time_s * 1e3, color="C2")
    axes[2].set_ylabel("chip time (ms)")
    axes[2].set_xlabel("epoch")
    axes[2].grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig
