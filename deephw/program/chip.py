"""Executing a weight program on a freshly sampled simulated chip.

The chip is a one-or-more-chip :class:`~deephw.crossbar.Crossbar` of the program's card,
its devices drawn from its own seeds (device-to-device variation, stuck devices); the
pruned cells are disabled. Group after group, every device is RESET (its starting
state); ``write_verify`` devices are then programmed by closed-loop write-verify
(:func:`~deephw.devices.tuning.tune_devices`: reads through the read path of every
other read, i.e. the device's read noise, the periphery's output noise and the ADC
ranged to the device, then corrections, up to the group's iteration limit; a PCM device
that ends within tolerance is left with the card's measured programming noise
``sigma_prog``), ``reset`` devices stay at reset. All of it happens at chip time 0;
drift and leaks start from there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from deephw.crossbar import Crossbar
from deephw.devices import Card
from deephw.devices.tuning import digital_read, tune_devices
from deephw.program.memory import ProgramContent
from deephw.program.plan import RESET, WRITE_VERIFY
from deephw.program.tables import DeviceTable
from deephw.streams import PROGRAM_STREAM


@dataclass
class GroupOutcome:
    """What programming one group did, ``(S, D)`` arrays over chips and devices."""

    name: str
    table: DeviceTable
    iterations: np.ndarray
    within: np.ndarray
    verified: np.ndarray
    residual_uS: np.ndarray
    pulses: np.ndarray
    set_pulses: np.ndarray
    reset_pulses: np.ndarray
    stuck: np.ndarray


@dataclass
class ProgrammedChip:
    """The chips after programming, their noise generators and the per-group outcomes."""

    crossbar: Crossbar
    rngs: list[np.random.Generator]
    seeds: np.ndarray
    outcomes: list[GroupOutcome] = field(default_factory=list)
    held: dict[str, np.ndarray] = field(default_factory=dict)

    def hold(self, t: float) -> None:
        """RESET the held devices (``reset`` method) again at time ``t``."""
        for role, idx in self.held.items():
            self.crossbar.cell.devices[role].reset(idx, t)


def flat_indices(
    table: DeviceTable, rows: np.ndarray, n: int, chips: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted flat crossbar indices of ``rows`` on every chip, and the order used."""
    cell = table["pre"][rows].astype(np.int64) * n + table["post"][rows]
    order = np.argsort(cell, kind="stable")
    per_chip = n * n
    idx = (np.arange(chips)[:, None] * per_chip + cell[order][None, :]).reshape(-1)
    return idx, rows[order]


def program_chip(program: ProgramContent, card: Card, seeds: Sequence[int]) -> ProgrammedChip:
    """Sample ``len(seeds)`` chips of ``card`` and execute ``program`` on each.

    Returns
    -------
    ProgrammedChip
        The crossbar at chip time 0 after programming, and per group: verify
        iterations, within-tolerance flags, true residuals (conductance minus target),
        pulses (SET, RESET) and stuck flags per chip and device.
    """
    seeds = np.asarray(seeds, dtype=np.int64)
    chips, n = seeds.size, program.n
    tables = list(zip(program.manifest.groups, program.tables(), strict=True))
    structural, enabled = program.masks()
    xbar = Crossbar(card, np.broadcast_to(structural, (chips, n, n)), seeds)
    xbar.disable(np.broadcast_to(structural & ~enabled, (chips, n, n)))
    rngs = [np.random.default_rng([int(s), PROGRAM_STREAM]) for s in seeds]
    chip = ProgrammedChip(xbar, rngs, seeds)
    t = xbar.time_s
    held: dict[str, list[np.ndarray]] = {}
    for ref, table in tables:
        size = (chips, len(table))
        out = {
            "iterations": np.zeros(size, dtype=np.int64),
            "within": np.zeros(size, dtype=bool),
            "verified": np.zeros(size, dtype=bool),
            "residual": np.zeros(size),
            "set": np.zeros(size, dtype=np.int64),
            "reset": np.zeros(size, dtype=np.int64),
            "stuck": np.zeros(size, dtype=bool),
        }
        for code, role in enumerate(table.role_names):
            device = xbar.cell.devices[role]
            for method in (WRITE_VERIFY, RESET):
                rows = np.flatnonzero((table["role"] == code) & (table["method"] == method))
                if not rows.size:
                    continue
                idx, rows = flat_indices(table, rows, n, chips)
                before = {k: device.counts[k].reshape(-1)[idx] for k in ("set", "reset")}
                target = np.tile(table["target_uS"][rows], chips)
                device.reset(idx, t)
                if method == RESET:
                    held.setdefault(role, []).append(idx)
                else:
                    result = tune_devices(
                        device,
                        idx,
                        target,
                        np.tile(table["tolerance_uS"][rows], chips),
                        np.tile(table["max_iterations"][rows], chips),
                        t,
                        rngs,
                        xbar.periphery,
                        write_first=np.tile(table["pulses"][rows] > 0, chips),
                    )
                    out["iterations"][:, rows] = result.iterations.reshape(chips, -1)
                    out["within"][:, rows] = result.within.reshape(chips, -1)
                    out["verified"][:, rows] = True
                for key in ("set", "reset"):
                    spent = device.counts[key].reshape(-1)[idx] - before[key]
                    out[key][:, rows] = spent.reshape(chips, -1)
                residual = device.value(t, idx) - target
                out["residual"][:, rows] = residual.reshape(chips, -1)
                out["stuck"][:, rows] = device.stuck.reshape(-1)[idx].reshape(chips, -1)
        chip.outcomes.append(
            GroupOutcome(
                ref.name,
                table,
                out["iterations"],
                out["within"],
                out["verified"],
                out["residual"],
                out["set"] + out["reset"],
                out["set"],
                out["reset"],
                out["stuck"],
            )
        )
    chip.held = {role: np.unique(np.concatenate(parts)) for role, parts in held.items()}
    return chip


def read_devices(chip: ProgrammedChip, table: DeviceTable, t: float, k: int = 0) -> np.ndarray:
    """Digital reads (µS, through the ADC) at time ``t`` of ``table``'s devices on chip
    ``k``, in the table's order: what a lab would measure after programming."""
    n = chip.crossbar.shape[1]
    values = np.empty(len(table))
    for code, role in enumerate(table.role_names):
        rows = np.flatnonzero(table["role"] == code)
        if not rows.size:
            continue
        idx, rows = flat_indices(table, rows, n, 1)
        idx = idx + k * n * n
        device = chip.crossbar.cell.devices[role]
        values[rows] = digital_read(device, idx, t, chip.rngs, chip.crossbar.periphery)
    return values
