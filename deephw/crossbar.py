"""The crossbar backend: conductance devices of ``S`` chips holding ``(S, N, N)`` weights.

Row ``i`` is driven by the presynaptic activity ``s_i`` (the bias neuron is a row too),
column ``j`` collects neuron ``j``'s input current; cell ``(i, j)`` holds the weight of
``i -> j``. Cells exist only where the structural mask has a connection. A
:class:`Crossbar` keeps a chip clock (seconds) so that leaks and drift advance, and
counts events per device role (SET / RESET pulses, reads) and per cell (transfers,
refreshes, pruned cells).

With the ``ideal`` card, reads return the float weights exactly and
:meth:`Crossbar.program` does ``W += request; W *= mask``: training through the
crossbar is then bit for bit the plain NumPy training.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import yaml

from deephw import atomic
from deephw.devices import draws
from deephw.devices.array import MAX_TRAIN
from deephw.devices.cards import Card, card_from_dict, card_to_yaml, load_card
from deephw.devices.cells import UnitCell, get_cell
from deephw.devices.nonideality import nonidealities
from deephw.devices.periphery import Periphery
from deephw.multiply import DenseMultiply, IRDropMultiply, MultiplyModel
from deephw.validation import NO_IDEAL

if TYPE_CHECKING:
    from deephw.engines.base import EpochsAnswer

ROUNDINGS = ("deterministic", "stochastic")
CELL_EVENTS = ("transfers", "refreshes", "pruned")
MAX_SWEEPS = 4
"""Pulse counts per update are capped at this many nominal sweeps of the device range."""


class Crossbar:
    """Crossbar arrays of ``S`` chips, one per seed, built from a device card.

    Parameters
    ----------
    card
        A :class:`~deephw.devices.cards.Card`, a shipped card's name or a card file.
    mask
        ``(S, N, N)`` bool structural mask: the cells that hold devices.
    seeds
        ``(S,)`` chip seeds; every device-to-device parameter of chip ``s`` is drawn
        from ``seeds[s]`` (the same seed makes the same chip).

    Notes
    -----
    Every stochastic method takes ``rng``: one ``numpy.random.Generator``, or a sequence
    of ``S`` generators (one per chip, so that each chip's draws do not depend on the
    others'). Noise-free cards (``ideal``) draw nothing.
    """

    def __init__(self, card: Card | str | Path, mask: np.ndarray, seeds: Sequence[int]) -> None:
        self.card = load_card(card)
        mask = np.array(mask, dtype=bool)
        if mask.ndim != 3 or mask.shape[1] != mask.shape[2]:
            raise ValueError(f"mask must be (S, N, N), got {mask.shape}")
        self.seeds = np.asarray(seeds, dtype=np.int64).reshape(-1)
        if self.seeds.size != mask.shape[0]:
            raise ValueError(f"{self.seeds.size} seeds for {mask.shape[0]} chips")
        cell_type = get_cell(self.card.cell.kind)
        self.cell: UnitCell = cell_type(self.card, mask, self.seeds)
        self.periphery = Periphery(self.card.periphery, cell_type.full_scale_uS(self.card))
        self.mask = mask
        self.enabled = mask.copy()
        self.time_s = 0.0
        self.updates = 0
        self.events = {name: np.zeros(mask.shape[0], dtype=np.int64) for name in CELL_EVENTS}
        self._exact = self.cell.kind == "single" and cell_type.update_model(self.card).continuous

    # -- facts ---------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int]:
        """``(S, N, N)``."""
        return self.mask.shape

    @property
    def dw_min(self) -> float:
        """Nominal weight change of one pulse on the updated device."""
        return type(self.cell).dw_min(self.card)

    @property
    def g_ref_uS(self) -> float:
        """Conductance (µS) of a unit weight."""
        return self.card.cell.g_ref_uS

    def _cells(self, where: np.ndarray | None = None) -> np.ndarray:
        sel = self.enabled if where is None else self.enabled & where
        return np.flatnonzero(sel)

    def _scatter(self, idx: np.ndarray, values: np.ndarray) -> np.ndarray:
        out = np.zeros(self.shape)
        out.reshape(-1)[idx] = values
        return out

    @property
    def transparent(self) -> bool:
        """Whether the array holds the weights themselves: exact writes to one device
        per cell of unit scale (``G_ref`` 1 µS, no offset), every non-ideality that can
        be switched off switched off, device models that neither evolve in time nor add
        read or update noise, and nothing priced (device events, array reads, ADC
        conversions). Its reads, then, are its conductances, and a whole epoch can
        run outside it (:mod:`deephw.fused`)."""
        card = self.card
        if not (self._exact and card.cell.g_ref_uS == 1.0 and card.cell.g_offset_uS == 0.0):
            return False
        if any(row.ideal != NO_IDEAL for row in nonidealities(card, active_only=True)):
            return False
        models = self.cell.models_for(card).values()
        if any(m.time_dependent or not m.reads_exactly() or m.update_noise_uS() for m in models):
            return False
        prices = [dataclasses.astuple(card.costs)] + [
            dataclasses.astuple(m.params.costs) for m in models
        ]
        return not any(any(values) for values in prices)

    def absorb_epochs(self, answer: EpochsAnswer, reads_per_epoch: int) -> None:
        """Take the device state of whole epochs run outside (a transparent array):
        the conductances after them, one SET or RESET per update that raised or lowered
        a cell, their wear, ``reads_per_epoch`` reads of every enabled cell per epoch,
        one update per epoch."""
        (device,) = self.cell.devices.values()
        device.g[...] = answer.conductance
        device.absorb(
            answer.set_cells, answer.reset_cells, answer.changed_cells,
            self.enabled, reads_per_epoch * answer.done,
        )  # fmt: skip
        self.updates += answer.done

    # -- reading -------------------------------------------------------------------
    def read_weights(
        self, rng: draws.RNG, t: float | None = None, digital: bool = False
    ) -> np.ndarray:
        """Effective weights ``(S, N, N)`` as the array is read at chip time ``t``.

        Each device is read with its read noise and time evolution (drift, leak) at
        ``t`` (default: the chip clock). ``digital=True`` reads every cell through the
        periphery (output noise, ADC), as the controller's weight reads do. Disabled and
        absent cells read 0.
        """
        t = self.time_s if t is None else float(t)
        idx = self._cells()
        value = self.cell.read(t, rng, idx)
        if digital:
            value = self.periphery.digital_read(
                value, rng, idx // (self.shape[1] * self.shape[2]), self.shape[0]
            )
        return self._scatter(idx, value / self.g_ref_uS)

    def multiply_model(self, rng: draws.RNG) -> MultiplyModel:
        """How the array turns states into column currents now.

        The weights are read once (:meth:`read_weights`). With ideal wires (the card's
        ``array.wire_ohm`` 0) that is the ideal product; otherwise the wires of each tile
        drop the currents (:class:`~deephw.multiply.IRDropMultiply`), loaded by every
        cell's device conductances at the chip clock (noise-free: the read noise of the
        load is a second-order effect, and no random number is drawn for it).
        """
        weights = self.read_weights(rng)
        wires = self.card.array
        if wires.wire_ohm == 0:
            return DenseMultiply(weights)
        return IRDropMultiply(
            weights, self.load_uS(), wires.wire_ohm, wires.tile_rows, wires.tile_cols
        )

    def load_uS(self, t: float | None = None) -> np.ndarray:
        """``(S, N, N)`` sum of each enabled cell's device conductances (µS, absolute
        values) at ``t``: the conductance between its row and column wire."""
        t = self.time_s if t is None else float(t)
        idx = self._cells()
        total = sum(np.abs(device.value(t, idx)) for device in self.cell.devices.values())
        return self._scatter(idx, total)

    def leak_imbalance(self, n_clamped: int = 0) -> np.ndarray | None:
        """``(S,)`` relative mismatch between the leak measured cell by cell and the
        outgoing currents under IR drop (:meth:`IRDropMultiply.leak_imbalance`), with
        the weights the devices hold now; None with ideal wires. Not a chip operation."""
        wires = self.card.array
        if wires.wire_ohm == 0:
            return None
        model = IRDropMultiply(
            self.true_weights(), self.load_uS(), wires.wire_ohm, wires.tile_rows, wires.tile_cols
        )
        return model.leak_imbalance(n_clamped)

    def true_weights(self, t: float | None = None) -> np.ndarray:
        """The weights the devices hold at ``t``, without read noise or ADC.

        The simulator's view for monitoring and analysis: not a chip operation, so
        nothing is counted and no random number is drawn.
        """
        t = self.time_s if t is None else float(t)
        idx = self._cells()
        return self._scatter(idx, self.cell.value(t, idx) / self.g_ref_uS)

    def read_leak(self, rng: draws.RNG, t: float | None = None) -> np.ndarray:
        """``(S, N)`` outgoing row sums ``sum_k W_jk`` as the periphery measures them.

        Each cell of row ``j`` is read through its column's ADC (with output noise) and
        the periphery adds them up; this is DEEP's leak of neuron ``j``.
        """
        return self.read_weights(rng, t, digital=True).sum(axis=2)

    # -- programming ---------------------------------------------------------------
    def write_weights(self, weights: np.ndarray, rng: draws.RNG) -> None:
        """Program every enabled cell to ``weights`` (write-verify with programming noise).

        Continuous (ideal) devices are set exactly: ``W = weights * mask``.
        """
        weights = self._check(weights, "weights", finite=True)
        idx = self._cells()
        self.cell.write(idx, weights.reshape(-1)[idx], self.time_s, rng)

    def program(
        self, request: np.ndarray, rng: draws.RNG, rounding: str = "deterministic"
    ) -> np.ndarray:
        """Program a requested weight change, returning the signed pulses per cell.

        Pulse-programmed cells get ``n = round(request / dw_min)`` pulses on their
        updated device (``deterministic``: to nearest; ``stochastic``: up with
        probability equal to the fraction), capped at :data:`MAX_SWEEPS` sweeps of its
        range. Continuous (ideal) cells change exactly, ``W += request; W *= mask``, and
        count one pulse per changed cell.
        """
        request = self._check(request, "request", finite=True)
        if rounding not in ROUNDINGS:
            raise ValueError(f"rounding must be one of {ROUNDINGS}, got {rounding!r}")
        if self._exact:
            self.cell.add_exact(request, self.enabled)
            return (np.sign(request) * self.enabled).astype(np.int64)
        with np.errstate(over="ignore"):  # inf is clipped to the cap below
            ratio = request / self.dw_min
        if rounding == "deterministic":
            pulses = np.rint(ratio)
        else:
            pulses = np.floor(ratio + draws.uniform(rng, self.shape))
        cap = self._pulse_cap()
        pulses = (np.clip(pulses, -cap, cap) * self.enabled).astype(np.int64)
        self.apply_pulses(pulses, rng)
        return pulses

    def apply_pulses(self, pulses: np.ndarray, rng: draws.RNG) -> None:
        """Apply signed pulse counts ``(S, N, N)`` (positive: raise the weight).

        Pulses to disabled or absent cells are ignored. Cells that need it are then
        refreshed (pairs whose raised side saturated).
        """
        pulses = self._check(pulses, "pulses").astype(np.int64)
        idx = self._cells(pulses != 0)
        if not idx.size:
            return
        self.cell.pulse(idx, pulses.reshape(-1)[idx], self.time_s, rng)
        self.events["refreshes"] += self.cell.after_pulse(idx, self.time_s, rng, self.periphery)

    def _pulse_cap(self) -> float:
        model = type(self.cell).update_model(self.card)
        span = model.params.range_uS / model.nominal_step_uS()
        return float(min(np.ceil(MAX_SWEEPS * span), MAX_TRAIN)) if np.isfinite(span) else MAX_TRAIN

    def transfer(self, rng: draws.RNG) -> np.ndarray:
        """Transfer every enabled cell's fast device into its pair; ``(S,)`` counts."""
        moved, refreshed = self.cell.transfer(self._cells(), self.time_s, rng, self.periphery)
        self.events["transfers"] += moved
        self.events["refreshes"] += refreshed
        return moved

    def refresh(self, rng: draws.RNG, force: bool = False) -> np.ndarray:
        """Refresh saturated pairs (every pair with ``force``); ``(S,)`` counts."""
        counts = self.cell.refresh(self._cells(), self.time_s, rng, self.periphery, force)
        self.events["refreshes"] += counts
        return counts

    def disable(self, removed: np.ndarray) -> np.ndarray:
        """Disable pruned cells for good; their devices are left unprogrammed.

        Returns the ``(S,)`` number of cells newly disabled.
        """
        removed = self._check(removed, "removed").astype(bool) & self.enabled
        self.enabled &= ~removed
        counts = removed.sum(axis=(1, 2))
        self.events["pruned"] += counts
        return counts

    def reset(self, cells: np.ndarray, rng: draws.RNG) -> np.ndarray:
        """RESET pruned cells to zero weight (write-verify); they stay enabled.

        Pruning with regrowth: the cells remain programmable, so the connections can
        grow back. Counted as pruned cells; returns the ``(S,)`` number of cells reset.
        """
        cells = self._check(cells, "cells").astype(bool) & self.enabled
        idx = np.flatnonzero(cells)
        if idx.size:
            self.cell.write(idx, np.zeros(idx.size), self.time_s, rng)
        counts = cells.sum(axis=(1, 2))
        self.events["pruned"] += counts
        return counts

    def count_update(self) -> int:
        """Count one completed learning update; returns the number so far."""
        self.updates += 1
        return self.updates

    def advance(self, seconds: float) -> None:
        """Advance the chip clock by ``seconds`` (leaks and drift follow)."""
        if not seconds >= 0:
            raise ValueError(f"cannot advance the clock by {seconds!r} s")
        self.time_s += float(seconds)

    def _check(self, array: np.ndarray, what: str, finite: bool = False) -> np.ndarray:
        array = np.asarray(array)
        if array.shape != self.shape:
            raise ValueError(f"{what} must have shape {self.shape}, got {array.shape}")
        if finite:
            bad = ~np.isfinite(array) & self.enabled
            if bad.any():
                chip, i, j = (int(v) for v in np.argwhere(bad)[0])
                error = FloatingPointError(f"{what}[{chip}, {i}, {j}] is not finite")
                error.chip = chip
                raise error
        return array

    # -- counters ------------------------------------------------------------------
    def counters(self) -> dict[str, dict[str, np.ndarray]]:
        """Event totals per chip: ``{role: {set, reset, reads}, "cell": {...}}``.

        Per-device counts (for any grouping of devices) are in
        ``self.cell.devices[role].counts``.
        """
        out = {
            role: {name: v.sum(axis=(1, 2)) for name, v in dev.counts.items()}
            for role, dev in self.cell.devices.items()
        }
        out["cell"] = {name: v.copy() for name, v in self.events.items()}
        return out

    def cost(self) -> dict[str, np.ndarray]:
        """Energy (pJ) and serial duration (ns) per chip of the events so far.

        Each role's SETs, RESETs and reads are priced with its own device's ``costs``.
        """
        models = type(self.cell).models_for(self.card)
        energy = np.zeros(self.shape[0])
        duration = np.zeros(self.shape[0])
        for role, counts in self.counters().items():
            if role not in models:
                continue
            c = models[role].params.costs
            energy += counts["set"] * c.set_pJ + counts["reset"] * c.reset_pJ
            energy += counts["reads"] * c.read_pJ
            duration += counts["set"] * c.set_ns + counts["reset"] * c.reset_ns
            duration += counts["reads"] * c.read_ns
        return {"energy_pJ": energy, "time_ns": duration}

    # -- persistence ---------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Every conductance, sampled parameter, counter and clock, as NumPy arrays."""
        state = {
            "card_yaml": np.array(card_to_yaml(self.card)),
            "seeds": self.seeds.copy(),
            "mask": self.mask.copy(),
            "enabled": self.enabled.copy(),
            "time_s": np.array(self.time_s),
            "updates": np.array(self.updates),
        }
        state.update({f"events.{k}": v.copy() for k, v in self.events.items()})
        for role, device in self.cell.devices.items():
            state.update(device.state_dict(f"{role}."))
        state.update({f"cell.{k}": v for k, v in self.cell.extra_state().items()})
        return state

    @classmethod
    def from_state_dict(cls, state: dict[str, np.ndarray]) -> Crossbar:
        """Rebuild a crossbar saved by :meth:`state_dict` (its card travels with it)."""
        card = card_from_dict(yaml.safe_load(str(state["card_yaml"])), "state_dict")
        crossbar = cls(card, state["mask"], state["seeds"])
        crossbar.enabled = np.array(state["enabled"], dtype=bool)
        crossbar.time_s = float(state["time_s"])
        crossbar.updates = int(state["updates"])
        crossbar.events = {k: np.array(state[f"events.{k}"]) for k in CELL_EVENTS}
        for role, device in crossbar.cell.devices.items():
            device.load_state_dict(state, f"{role}.")
        extra = {k[len("cell.") :]: v for k, v in state.items() if k.startswith("cell.")}
        crossbar.cell.load_extra_state(extra)
        return crossbar

    def save(self, path: str | Path) -> Path:
        """Write :meth:`state_dict` to an NPZ file, atomically."""
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **self.state_dict())
        atomic.write_bytes(path, buffer.getvalue())
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> Crossbar:
        """Read a crossbar saved by :meth:`save`."""
        with np.load(path, allow_pickle=False) as data:
            return cls.from_state_dict({k: data[k] for k in data.files})
