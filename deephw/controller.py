"""The controller: the chip's digital periphery, running DEEP in physical time.

It owns what happens outside the analog core: the crossbar of the run's device card, the
update scheme, the DAC that drives the clamped rows, the ADC that latches states and
reads weights, the chip clock and the event counters. One epoch of a batch, in chip
time: read the weights and measure the row sums (the leak) → drive the inputs (DAC) →
free phase (``M0`` circuit steps of ``dt * tau``) → latch ``s0`` (ADC) → nudged phase
(``Mb`` steps) → program the update (pulses; row by row, the columns in parallel; its
duration is counted per chip) → idle ``update_time_s`` → prune at the end of the epoch →
transfer every K updates (hybrid scheme). Capacitor leak and PCM drift follow the chip
clock, which the chips of a batch share: it advances by the circuit phases and the idle
time, not by programming, whose duration differs from chip to chip.

With the ``ideal`` card every read is exact and every update is ``W += dW`` exactly, so
the controller reproduces the NumPy core bit for bit.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from deephw import model
from deephw.crossbar import Crossbar
from deephw.devices import Card, load_card, replace_card
from deephw.engines.in_situ import InSituRequest
from deephw.errors import ConfigError
from deephw.schemes import InSitu, UpdateScheme, get_scheme

if TYPE_CHECKING:
    from deephw.config import RunConfig

NOISE_STREAM = 3
"""Second entropy word of the generators of device and periphery noise."""

IN_SITU_STREAM = 4
"""Second entropy word of the generator of the Brian2 engine's in-situ seeds."""

DEVICE_EVENTS = ("set", "reset", "reads")
CELL_EVENTS = ("transfers", "refreshes", "pruned")


def hardware_card(config: RunConfig, source: str = "") -> Card:
    """The device card a run config names, with its overrides applied and validated.

    Errors name the config file and the field (``hardware.card`` or the overridden
    ``hardware.card_overrides.SECTION.FIELD``).
    """
    hw = config.hardware
    ref = hw.card
    target: str | Path = config.resolve(ref) if is_card_file(ref) else ref
    try:
        card = load_card(target)
    except (ConfigError, KeyError, FileNotFoundError) as exc:
        reason = exc.reason if isinstance(exc, ConfigError) else str(exc).strip("'\"")
        raise ConfigError(source, "hardware.card", ref, reason) from None
    except OSError as exc:  # e.g. a name too long for the file system
        raise ConfigError(source, "hardware.card", ref, f"cannot read ({exc.strerror})") from None
    if hw.card_overrides:
        try:
            card = replace_card(card, hw.card_overrides)
        except ConfigError as exc:
            field = f"hardware.card_overrides.{exc.field}" if exc.field else "hardware"
            raise ConfigError(source, field, exc.value, exc.reason) from None
    try:
        make_scheme(config).check_card(card)
    except ConfigError as exc:
        raise ConfigError(source, "hardware.scheme", hw.scheme, exc.reason) from None
    if hw.in_engine and hw.scheme != "in_situ":
        reason = "the engine accumulates the coincidences of scheme in_situ only"
        raise ConfigError(source, "hardware.in_engine", True, reason)
    if hw.in_engine and hw.update_management and config.engine.name == "brian2":
        reason = "inside Brian2 the coincidences need hardware.update_management: false"
        raise ConfigError(source, "hardware.in_engine", True, reason)
    in_situ = hw.scheme == "in_situ" or (hw.scheme == "hybrid" and hw.inner == "in_situ")
    if in_situ and config.learning.rule != "deep":
        reason = "in-situ pulses follow the nudged trajectory of learning.rule deep"
        field = "hardware.scheme" if hw.scheme == "in_situ" else "hardware.inner"
        raise ConfigError(source, field, "in_situ", reason)
    return card


def is_card_file(card: str) -> bool:
    """Whether ``hardware.card`` names a file (else a shipped card's name)."""
    return card.endswith((".yaml", ".yml")) or "/" in card or "\\" in card


def make_scheme(config: RunConfig) -> UpdateScheme:
    """The update scheme a run config names, with the options that apply to it."""
    hw = config.hardware
    options = {
        "digital": {"rounding": hw.rounding},
        "in_situ": {
            "bit_length": hw.bit_length,
            "update_management": hw.update_management,
            "accumulate_in_engine": hw.in_engine,
        },
        "hybrid": {
            "inner": hw.inner,
            "transfer_every": hw.transfer_every,
            "rounding": hw.rounding,
            "bit_length": hw.bit_length,
            "update_management": hw.update_management,
        },
    }[hw.scheme]
    return get_scheme(hw.scheme, **options)


class Controller:
    """Runs the phases and the local updates on a crossbar, as a chip's periphery would.

    Parameters
    ----------
    config
        The run config (hardware, dynamics, engine time constant).
    card
        The device card (see :func:`hardware_card`).
    mask
        ``(S, N, N)`` structural masks: the cells that hold devices.
    seeds
        The training seeds; chips and noise streams derive from them.
    initial_weights
        ``(S, N, N)`` weights written (write-verify) before training starts.
    """

    def __init__(
        self,
        config: RunConfig,
        card: Card,
        mask: np.ndarray,
        seeds: np.ndarray,
        initial_weights: np.ndarray,
    ) -> None:
        hw = config.hardware
        chip_seeds = seeds if hw.chip_seed is None else hw.chip_seed + seeds
        self.crossbar = Crossbar(card, mask, chip_seeds)
        self.scheme = make_scheme(config)
        self.scheme.check(self.crossbar)
        self.rngs = [np.random.default_rng([int(s), NOISE_STREAM]) for s in seeds]
        self.in_engine = isinstance(self.scheme, InSitu) and self.scheme.accumulate_in_engine
        self._in_situ_seeds = np.random.default_rng([int(seeds[0]), IN_SITU_STREAM])
        self.step_s = config.dynamics.dt * config.engine.tau_ns * 1e-9
        self.update_time_s = hw.update_time_s
        self.extra_leak = config.dynamics.extra_leak
        self.deep = config.learning.rule == "deep"
        update_device = type(self.crossbar.cell).update_model(card)
        self.pulse_s = update_device.params.costs.set_ns * 1e-9
        self.crossbar.write_weights(initial_weights, self.rngs)
        self.programming_s = np.zeros(len(seeds))

    @property
    def time_s(self) -> float:
        """The chip clock."""
        return self.crossbar.time_s

    def read_weights(self) -> np.ndarray:
        """``(S, N, N)`` effective weights the array presents to the neuron circuits now."""
        return self.crossbar.read_weights(self.rngs)

    def read_leak(self, weights: np.ndarray) -> np.ndarray:
        """``(S, N)`` leak of each neuron circuit.

        DEEP: the row sums measured through the ADC (plus the constant extra leak);
        asymmetric EP: 1 (``weights`` only gives the shape).
        """
        if not self.deep:
            return model.asym_ep_leak(weights)
        return self.crossbar.read_leak(self.rngs) + self.extra_leak

    def drive(self, state: np.ndarray, n_inputs: int) -> np.ndarray:
        """Clamp the inputs through the DAC (in place); returns ``state``."""
        state[..., :n_inputs] = self.crossbar.periphery.dac(state[..., :n_inputs])
        return state

    def latch(self, state: np.ndarray) -> np.ndarray:
        """States as the periphery reads them (ADC)."""
        return self.crossbar.periphery.latch(state)

    def elapse(self, n_steps: int) -> None:
        """Advance the chip clock by ``n_steps`` circuit steps."""
        self.crossbar.advance(n_steps * self.step_s)

    def in_situ_request(self, n_steps: int, batch: int, lr: float) -> InSituRequest:
        """The engine request accumulating the in-situ coincidences of a nudged phase
        (``hardware.in_engine``): the chips' noise generators for the NumPy engine's
        draws, a fresh seed for Brian2's."""
        seed = int(self._in_situ_seeds.integers(2**31 - 1))
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

        Each chip's programming time (rows in sequence, each row's cells in parallel:
        ``max |pulses|`` pulse durations per row) is added to ``programming_s``. The
        shared clock advances by ``update_time_s`` only, so that no chip's clock depends
        on the other chips of the batch (a seed trains the same alone or batched).
        """
        update = {"delta": delta, "trajectory": trajectory, "lr": lr, "l1": l1, "l1_sign": l1_sign}
        if counts is not None:
            update["counts"] = counts  # engine-accumulated in-situ coincidences
        pulses = self.scheme.update(self.crossbar, self.rngs, **update)
        self.programming_s += np.abs(pulses).max(axis=2).sum(axis=1) * self.pulse_s
        self.crossbar.advance(self.update_time_s)
        return pulses

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
        ``g``, and ``cell`` for transfers, refreshes and pruned cells), ``energy_pJ`` and
        ``programming_s`` (each chip's programming time so far).
        """
        out = {}
        for group, counts in self.crossbar.counters().items():
            for event, values in counts.items():
                out[f"{group}.{event}"] = np.asarray(values, dtype=float)
        out["energy_pJ"] = self.crossbar.cost()["energy_pJ"]
        out["programming_s"] = self.programming_s.copy()
        return out
