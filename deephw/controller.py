"""The controller: the chip's digital periphery, running DEEP in physical time.

It owns what happens outside the analog core: the crossbar of the run's device card, the
update scheme, the DAC that drives the clamped rows, the ADC that latches states and
reads weights, the chip clock and the event counters. One epoch of a batch, in chip
time: read the weights and measure the row sums (the leak) → drive the inputs (DAC) →
free phase (``M0`` circuit steps of ``dt * tau``) → latch ``s0`` (ADC) → nudged phase
(``Mb`` steps) → program the update (pulses; its duration is counted per chip, see
:meth:`Controller.program`) → idle ``update_time_s`` → prune at the end of the epoch →
transfer every K updates (hybrid scheme). Capacitor leak and PCM drift follow the chip
clock, which the chips of a batch share: it advances by the circuit phases and the idle
time, not by programming, whose duration differs from chip to chip.

Energy: the devices' events (pulses, reads) at the card's device costs, plus the
array's read current during the phases and the ADC conversions of leak measurements
and state latches at the card's ``costs`` (:mod:`deephw.devices.energy`).

With the ``ideal`` card every read is exact and every update is ``W += dW`` exactly, so
the controller reproduces the NumPy core bit for bit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from deephw import model
from deephw.crossbar import Crossbar
from deephw.devices import energy
from deephw.multiply import MultiplyModel
from deephw.pulses import InSituRequest
from deephw.schemes import InSitu
from deephw.streams import IN_SITU_STREAM, NOISE_STREAM

if TYPE_CHECKING:
    from deephw.assembly import Run


class Controller:
    """Runs the phases and the local updates on a crossbar, as a chip's periphery would.

    Parameters
    ----------
    run
        The assembled run: its config (hardware, dynamics, engine time constant), card,
        update scheme and learning rule (its leak).
    mask
        ``(S, N, N)`` structural masks: the cells that hold devices.
    seeds
        The training seeds; chips and noise streams derive from them.
    initial_weights
        ``(S, N, N)`` weights written (write-verify) before training starts.
    """

    def __init__(
        self, run: Run, mask: np.ndarray, seeds: np.ndarray, initial_weights: np.ndarray
    ) -> None:
        config, card = run.config, run.card
        hw = config.hardware
        chip_seeds = seeds if hw.chip_seed is None else hw.chip_seed + seeds
        self.crossbar = Crossbar(card, mask, chip_seeds)
        self.scheme = run.scheme
        self.scheme.check(self.crossbar)
        self.rngs = [np.random.default_rng([int(s), NOISE_STREAM]) for s in seeds]
        self.in_engine = isinstance(self.scheme, InSitu) and self.scheme.accumulate_in_engine
        self._in_situ_seeds = np.random.default_rng([int(seeds[0]), IN_SITU_STREAM])
        self.step_s = config.dynamics.dt * config.engine.tau_ns * 1e-9
        self.update_time_s = hw.update_time_s
        self.rule = run.rule
        update_device = type(self.crossbar.cell).update_model(card)
        self.pulse_s = update_device.params.costs.set_ns * 1e-9
        self.crossbar.write_weights(initial_weights, self.rngs)
        self.programming_s = np.zeros(len(seeds))
        self.costs = card.costs
        self.energy_pJ = {"array_read": np.zeros(len(seeds)), "adc": np.zeros(len(seeds))}
        self._batch = 1
        self._in_situ_shape = (0, 0)  # (steps, batch) of the last engine-accumulated phase

    @property
    def time_s(self) -> float:
        """The chip clock."""
        return self.crossbar.time_s

    def read_weights(self) -> np.ndarray:
        """``(S, N, N)`` effective weights the array presents to the neuron circuits now."""
        return self.crossbar.read_weights(self.rngs)

    def read_multiply(self) -> MultiplyModel:
        """How the array turns states into column currents now (weights read once)."""
        return self.crossbar.multiply_model(self.rngs)

    def read_leak(self, weights: np.ndarray) -> np.ndarray:
        """``(S, N)`` leak of each neuron circuit, as the rule sets it: e.g. DEEP's row
        sums measured through the ADC (one conversion per cell, priced), or EP's 1
        (``weights`` then gives the shape)."""

        def measure() -> np.ndarray:
            cells = self.crossbar.enabled.sum(axis=(1, 2))
            self.energy_pJ["adc"] += energy.conversions_pJ(self.costs, cells)
            return self.crossbar.read_leak(self.rngs)

        return self.rule.leak(weights, measure)

    def drive(self, state: np.ndarray, n_inputs: int) -> np.ndarray:
        """Clamp the inputs through the DAC (in place); returns ``state`` (``(S, B, N)``:
        its ``B`` samples are what the following phases read the array for)."""
        self._batch = state.shape[-2] if state.ndim >= 3 else 1
        state[..., :n_inputs] = self.crossbar.periphery.dac(state[..., :n_inputs])
        return state

    @property
    def exact_latch(self) -> bool:
        """Whether :meth:`latch` returns the states as they are, at no cost (no ADC bits,
        unpriced conversions)."""
        return self.crossbar.periphery.spec.adc_bits is None and not self.costs.adc_conversion_pJ

    def latch(self, state: np.ndarray) -> np.ndarray:
        """States (``(S, B, N)``, or a trajectory of them) as the periphery reads them (ADC;
        one conversion per neuron, sample and step)."""
        conversions = state.size // self.crossbar.shape[0]
        self.energy_pJ["adc"] += energy.conversions_pJ(self.costs, conversions)
        return self.crossbar.periphery.latch(state)

    def elapse(self, n_steps: int) -> None:
        """Advance the chip clock by ``n_steps`` circuit steps, pricing the array's read
        current over them (every sample of the batch reads the whole array)."""
        seconds = n_steps * self.step_s
        if self.costs.read_voltage_mV > 0:
            total = self._conductance_sum_uS()
            read = energy.array_read_pJ(self.costs, total, seconds) * self._batch
            self.energy_pJ["array_read"] += read
        self.crossbar.advance(seconds)

    def _conductance_sum_uS(self) -> np.ndarray:
        """``(S,)`` sum of the conductances (µS) of every device of every enabled cell now."""
        xbar = self.crossbar
        idx = np.flatnonzero(xbar.enabled)
        total = np.zeros(xbar.shape[0])
        for device in xbar.cell.devices.values():
            values = device.value(xbar.time_s, idx)
            total += np.bincount(device.chips(idx), weights=values, minlength=xbar.shape[0])
        return total

    def in_situ_request(self, n_steps: int, batch: int, lr: float) -> InSituRequest:
        """The engine request accumulating the in-situ coincidences of a nudged phase
        (``hardware.scheme.in_engine``): the chips' noise generators for the NumPy engine's
        draws, a fresh seed for Brian2's."""
        seed = int(self._in_situ_seeds.integers(2**31 - 1))
        self._in_situ_shape = (n_steps, batch)
        return self.scheme.request(self.crossbar, n_steps, batch, lr, self.rngs, seed)

    def program(
        self,
        lr: float,
        l1: float,
        trajectory: np.ndarray | None = None,
        delta: np.ndarray | None = None,
        counts: np.ndarray | None = None,
        l1_sign: str = "after",
    ) -> np.ndarray:
        """Program one update with the run's scheme; returns the signed pulses per cell.

        Each chip's programming time is added to ``programming_s``:

        - in-situ coincidences (``in_situ``, or ``hybrid`` with ``inner: in_situ``) are
          array-parallel: in each pulse slot every row and column driver fires at once
          and every coinciding cell takes its pulse, up pulses and down pulses in two
          separate passes, so an update lasts ``2 bit_length Mb B`` slots (``Mb`` nudged
          steps, ``B`` samples, one slot per SET pulse duration) on every chip, whatever
          the pulses; an L1 shrink adds one row-by-row pass of ``ceil(l1 / dw_min)``
          pulses per row that holds cells;
        - accumulated (digital) updates are row-parallel: rows in sequence, each row's
          cells in parallel, ``max |pulses|`` slots per row.

        The shared clock advances by ``update_time_s`` only, so that no chip's clock
        depends on the other chips of the batch (a seed trains the same alone or batched).
        """
        update = {"delta": delta, "trajectory": trajectory, "lr": lr, "l1": l1, "l1_sign": l1_sign}
        if counts is not None:
            update["counts"] = counts  # engine-accumulated in-situ coincidences
        pulses = self.scheme.update(self.crossbar, self.rngs, **update)
        self.programming_s += self._programming_slots(pulses, trajectory, counts, l1) * self.pulse_s
        self.crossbar.advance(self.update_time_s)
        return pulses

    def _programming_slots(
        self,
        pulses: np.ndarray,
        trajectory: np.ndarray | None,
        counts: np.ndarray | None,
        l1: float,
    ) -> np.ndarray:
        """``(S,)`` pulse slots of one update (see :meth:`program`)."""
        if not self.scheme.trajectory_pulses and counts is None:
            return np.abs(pulses).max(axis=2).sum(axis=1)
        n_steps, batch = self._in_situ_shape
        if trajectory is not None:
            n_steps, batch = trajectory.shape[0] - 1, trajectory.shape[2]
        bit_length = getattr(self.scheme, "in_situ", self.scheme).bit_length
        slots = np.full(len(self.programming_s), 2.0 * bit_length * n_steps * batch)
        if l1:
            rows = self.crossbar.enabled.any(axis=2).sum(axis=1)
            slots += rows * np.ceil(l1 / self.crossbar.dw_min)
        return slots

    def prune(
        self,
        mask: np.ndarray,
        threshold: float,
        temperature: float,
        rngs: list[np.random.Generator],
        regrow: bool = False,
        normaliser: str = "incoming",
    ) -> np.ndarray:
        """Boltzmann pruning on the weights read through the ADC; disables removed cells.

        ``mask`` is updated in place; ``rngs`` are the training generators (the pruning
        draws belong to the learning algorithm, not to the devices). With ``regrow`` the
        cells are RESET to zero weight instead and stay programmable; ``mask`` is kept.
        """
        weights = self.crossbar.read_weights(self.rngs, digital=True)
        removed = model.boltzmann_prune(
            weights, mask, threshold, temperature, rngs, regrow=regrow, normaliser=normaliser
        )
        if regrow:
            self.crossbar.reset(removed, self.rngs)
        else:
            self.crossbar.disable(removed)
        return removed

    def totals(self) -> dict[str, np.ndarray]:
        """Cumulative events per device group and chip, energy (pJ) per chip.

        Keys are ``GROUP.EVENT`` (groups: the cell's device roles, e.g. ``G+``, ``G-``,
        ``g``, and ``cell`` for transfers, refreshes and pruned cells), ``energy_pJ``
        (the total) with its parts ``energy.devices_pJ`` (device events),
        ``energy.array_read_pJ`` (the array read during the phases) and
        ``energy.adc_pJ`` (ADC conversions of leak measurements and latches), and
        ``programming_s`` (each chip's programming time so far).
        """
        out = {}
        for group, counts in self.crossbar.counters().items():
            for event, values in counts.items():
                out[f"{group}.{event}"] = np.asarray(values, dtype=float)
        devices = self.crossbar.cost()["energy_pJ"]
        out["energy_pJ"] = devices + self.energy_pJ["array_read"] + self.energy_pJ["adc"]
        out["energy.devices_pJ"] = devices
        out["energy.array_read_pJ"] = self.energy_pJ["array_read"].copy()
        out["energy.adc_pJ"] = self.energy_pJ["adc"].copy()
        out["programming_s"] = self.programming_s.copy()
        return out
