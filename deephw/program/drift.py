"""The programmed network over time: accuracy and MSE after drift, with and without
global drift compensation.

Global drift compensation (Joshi et al., Nat. Commun. 11:2473, 2020; IBM aihwkit's
``GlobalDriftCompensation``): right after programming, every array (tile) is read once
with all its rows driven at 1, and the periphery keeps the summed column currents of its
written devices (each device role's columns read through the ADC, so that G+ and G-
add up instead of cancelling) as a reference. At a later time the same read gives a new
sum; the tile's outputs are scaled by the ratio, one scalar per tile. It undoes the mean
conductance decay (PCM drift), not the device-to-device spread around it.

Devices held at reset (the ``reset`` method, e.g. the Ambrogio cell's capacitor) are
RESET again before every read: the periphery keeps them there during inference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deephw import tasks, topology, training
from deephw.config import RunConfig
from deephw.devices.tuning import digital_read
from deephw.engines import Engine
from deephw.program.chip import ProgrammedChip, flat_indices
from deephw.program.layout import TileGeometry
from deephw.program.plan import WRITE_VERIFY
from deephw.program.tables import DeviceTable

DAY_S = 86400.0
DRIFT_TIMES: tuple[tuple[str, float], ...] = (
    ("now", 0.0),
    ("1 s", 1.0),
    ("1 h", 3600.0),
    ("1 day", DAY_S),
    ("1 month", 30 * DAY_S),
    ("1 year", 365 * DAY_S),
)
"""Labels and times (s after programming) at which the network is evaluated."""


@dataclass
class DriftPoint:
    """Scores of every chip at one time: without (``mse``, ``accuracy``) and with global
    drift compensation (``*_gdc``), and the per-tile gains applied ``(S, tiles)``."""

    label: str
    time_s: float
    mse: np.ndarray
    accuracy: np.ndarray
    mse_gdc: np.ndarray
    accuracy_gdc: np.ndarray
    gain: np.ndarray


def reference_devices(
    chip: ProgrammedChip, devices: DeviceTable
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """The devices a reference read sums: ``(role, flat indices on every chip, tile of
    each)`` for the written (not held) devices of ``devices``."""
    chips, n = chip.crossbar.shape[0], chip.crossbar.shape[1]
    written = devices["method"] == WRITE_VERIFY
    parts = []
    for code, role in enumerate(devices.role_names):
        rows = np.flatnonzero(written & (devices["role"] == code))
        if rows.size:
            idx, rows = flat_indices(devices, rows, n, chips)
            parts.append((role, idx, np.tile(devices["tile"][rows], chips)))
    return parts


def tile_reference(
    chip: ProgrammedChip,
    parts: list[tuple[str, np.ndarray, np.ndarray]],
    t: float,
    n_tiles: int,
) -> np.ndarray:
    """``(S, tiles)`` reference read at time ``t``: the summed digital reads (µS) of each
    tile's written devices, all rows driven at 1."""
    xbar = chip.crossbar
    chips, per_chip = xbar.shape[0], xbar.shape[1] * xbar.shape[2]
    total = np.zeros(chips * n_tiles)
    for role, idx, tiles in parts:
        device = xbar.cell.devices[role]
        reads = digital_read(device, idx, t, chip.rngs, xbar.periphery)
        key = (idx // per_chip) * n_tiles + tiles
        total += np.bincount(key, weights=reads, minlength=chips * n_tiles)
    return total.reshape(chips, n_tiles)


def drift_gains(reference0: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Per-tile gains ``reference0 / reference`` (1 where a tile reads nothing)."""
    safe = np.where(reference > 0, reference, 1.0)
    return np.where(reference > 0, reference0 / safe, 1.0)


def drift_study(
    chip: ProgrammedChip,
    devices: DeviceTable,
    geometry: TileGeometry,
    config: RunConfig,
    topo: topology.Topology,
    task: tasks.Task,
    network_seed: int,
    engine: Engine,
    times: tuple[tuple[str, float], ...] = DRIFT_TIMES,
) -> list[DriftPoint]:
    """Evaluate the programmed network on every chip at each of ``times``.

    The network is evaluated with :func:`deephw.training.evaluate` on the weights the
    array presents at that time (analog reads with read noise, drift and leaks), with
    the evaluation's initial states of ``network_seed`` (those of the trained run).
    """
    xbar, rngs = chip.crossbar, chip.rngs
    start = xbar.time_s
    seeds = np.full(xbar.shape[0], network_seed)
    tile_map = geometry.tile_map()
    parts = reference_devices(chip, devices)
    chip.hold(start)
    reference0 = tile_reference(chip, parts, start, geometry.n_tiles)
    points = []
    for label, offset in times:
        t = start + offset
        chip.hold(t)
        weights = xbar.read_weights(rngs, t)
        gains = drift_gains(reference0, tile_reference(chip, parts, t, geometry.n_tiles))
        compensated = weights * gains[:, tile_map]
        mse, accuracy, _ = training.evaluate(config, topo, task, weights, seeds, engine)
        mse_c, accuracy_c, _ = training.evaluate(config, topo, task, compensated, seeds, engine)
        points.append(DriftPoint(label, offset, mse, accuracy, mse_c, accuracy_c, gains))
    return points
