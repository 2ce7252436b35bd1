"""Unit cells: how the devices of one crossbar cell make a signed weight.

A cell kind registers by name (the card's ``cell.kind``). A cell owns one
:class:`~deephw.devices.array.DeviceArray` per role and works on flat cell indices
into ``(S, N, N)``: reading a cell's contribution (µS; the weight is contribution over
``g_ref_uS``), routing signed pulse counts to its devices, writing target weights,
and the maintenance its kind needs (refresh, transfer).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from deephw.devices import draws, nonideality
from deephw.devices.array import DeviceArray
from deephw.devices.base import DeviceModel, get_device_model
from deephw.devices.cards import Card, card_hash, card_to_yaml, load_card
from deephw.devices.periphery import Periphery
from deephw.devices.tuning import digital_read, place_verified
from deephw.errors import DeephwError
from deephw.registry import Registry
from deephw.streams import D2D_STREAM

CELLS: Registry[type] = Registry("cell kind", attribute="kind")


def register_cell(kind: str) -> Callable[[type], type]:
    """Class decorator registering a unit cell under ``kind``."""
    return CELLS.register(kind)


def get_cell(kind: str) -> type[UnitCell]:
    """The unit-cell class registered as ``kind``."""
    return CELLS.get(kind)


class UnitCell(ABC):
    """Base of the unit cells; see the module docstring.

    Parameters
    ----------
    card
        The validated card.
    present
        ``(S, N, N)`` bool: the cells that exist (the structural mask).
    seeds
        One seed per chip; every device-to-device parameter is drawn from it.
    """

    kind: ClassVar[str] = "abstract"
    roles: ClassVar[tuple[str, ...]] = ()

    def __init__(self, card: Card, present: np.ndarray, seeds: Sequence[int]) -> None:
        self.card = card
        self.spec = card.cell
        self.models = self.models_for(card)
        self.devices = {
            role: DeviceArray(self.models[role], present, seeds, (D2D_STREAM, k))
            for k, role in enumerate(self.roles)
        }
        self.n_chips = len(seeds)

    # -- card-level facts ----------------------------------------------------------
    @classmethod
    def models_for(cls, card: Card) -> dict[str, DeviceModel]:
        """The device model of each role."""
        model = get_device_model(card.device.model)(card.device)
        return dict.fromkeys(cls.roles, model)

    @classmethod
    def update_model(cls, card: Card) -> DeviceModel:
        """The model of the device that takes the updates."""
        return cls.models_for(card)[cls.roles[-1]]

    @classmethod
    def dw_min(cls, card: Card) -> float:
        """Weight change of one nominal pulse on the updated device."""
        return cls.update_model(card).nominal_step_uS() / card.cell.g_ref_uS

    @classmethod
    @abstractmethod
    def full_scale_uS(cls, card: Card) -> float:
        """The largest magnitude of the cell's contribution (nominal bounds)."""

    @classmethod
    def nominal_targets(cls, card: Card, weights: np.ndarray) -> dict[str, np.ndarray]:
        """Conductance (µS) of each role that makes ``weights`` on nominal devices.

        The values :meth:`write` aims at, without variation or noise; the inverse of
        :meth:`nominal_weights`.
        """
        raise DeephwError(f"cell kind {cls.kind!r} has no nominal targets")

    @classmethod
    def nominal_weights(cls, card: Card, conductances: dict[str, np.ndarray]) -> np.ndarray:
        """Weights that device conductances (µS, one array per role) make on a nominal
        cell (no per-chip references); the inverse of :meth:`nominal_targets`."""
        raise DeephwError(f"cell kind {cls.kind!r} has no nominal weights")

    # -- operations ----------------------------------------------------------------
    @abstractmethod
    def contribution(self, reads: dict[str, np.ndarray], idx: np.ndarray, t: float) -> np.ndarray:
        """The cell's signed conductance (µS) from its devices' reads at chip time ``t``."""

    def read(self, t: float, rng: draws.RNG, idx: np.ndarray) -> np.ndarray:
        """Analog read (µS) of cells ``idx`` at chip time ``t`` (device read noise)."""
        reads = {role: dev.read(t, rng, idx) for role, dev in self.devices.items()}
        return self.contribution(reads, idx, t)

    def value(self, t: float, idx: np.ndarray) -> np.ndarray:
        """Noise-free contribution (µS) of cells ``idx`` at ``t``; not a chip read."""
        values = {role: dev.value(t, idx) for role, dev in self.devices.items()}
        return self.contribution(values, idx, t)

    @abstractmethod
    def pulse(self, idx: np.ndarray, n: np.ndarray, t: float, rng: draws.RNG) -> None:
        """Apply signed pulse counts ``n`` (positive: raise the weight) to cells ``idx``."""

    def add_exact(self, delta_w: np.ndarray, enabled: np.ndarray) -> None:
        """Exact weight change of a continuous device: ``W += delta_w; W *= enabled``."""
        raise DeephwError(f"cell kind {self.kind!r} takes pulses, not exact writes")

    @abstractmethod
    def write(self, idx: np.ndarray, weights: np.ndarray, t: float, rng: draws.RNG) -> None:
        """Program cells ``idx`` to target ``weights`` by write-verify."""

    def refresh(
        self, idx: np.ndarray, t: float, rng: draws.RNG, periphery: Periphery, force: bool
    ) -> np.ndarray:
        """Refresh the cells among ``idx`` that need it; ``(S,)`` counts (none here)."""
        return np.zeros(self.n_chips, dtype=np.int64)

    def after_pulse(
        self, idx: np.ndarray, t: float, rng: draws.RNG, periphery: Periphery
    ) -> np.ndarray:
        """Maintenance after pulsing cells ``idx``; ``(S,)`` refresh counts (none here)."""
        return np.zeros(self.n_chips, dtype=np.int64)

    def transfer(
        self, idx: np.ndarray, t: float, rng: draws.RNG, periphery: Periphery
    ) -> tuple[np.ndarray, np.ndarray]:
        """Transfer the fast device of cells ``idx`` into the slow pair.

        Returns ``(S,)`` counts of cells transferred and of cells refreshed meanwhile.
        Only cells with a fast device can transfer.
        """
        raise DeephwError(f"cell kind {self.kind!r} has no fast device to transfer")

    def extra_state(self) -> dict[str, np.ndarray]:
        """Cell-level arrays beyond the devices' (e.g. polarity), for saving."""
        return {}

    def load_extra_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore :meth:`extra_state` (nothing to restore here)."""
        if state:
            raise ValueError(f"cell kind {self.kind!r} has no extra state: {sorted(state)}")


@register_cell("single")
class SingleCell(UnitCell):
    """One bidirectional device against a fixed reference: ``W = (G - g_offset) / G_ref``.

    Positive pulses potentiate, negative ones depress. A continuous (ideal) device is
    written exactly: ``G += dW G_ref; G *= enabled``.
    """

    roles = ("G",)

    @classmethod
    def full_scale_uS(cls, card: Card) -> float:
        p, offset = card.device, card.cell.g_offset_uS
        if not p.bounded:
            return np.inf
        return max(abs(p.g_max_uS - offset), abs(p.g_min_uS - offset))

    def contribution(self, reads: dict[str, np.ndarray], idx: np.ndarray, t: float) -> np.ndarray:
        return reads["G"] - self.spec.g_offset_uS

    def pulse(self, idx: np.ndarray, n: np.ndarray, t: float, rng: draws.RNG) -> None:
        self.devices["G"].pulse(idx, np.abs(n), n > 0, t, rng)

    def add_exact(self, delta_w: np.ndarray, enabled: np.ndarray) -> None:
        self.devices["G"].add(delta_w * self.spec.g_ref_uS, enabled)

    def write(self, idx: np.ndarray, weights: np.ndarray, t: float, rng: draws.RNG) -> None:
        target = self.spec.g_offset_uS + weights * self.spec.g_ref_uS
        self.devices["G"].write(idx, target, t, rng)

    @classmethod
    def nominal_targets(cls, card: Card, weights: np.ndarray) -> dict[str, np.ndarray]:
        """``G = g_offset + W G_ref``."""
        return {"G": card.cell.g_offset_uS + np.asarray(weights) * card.cell.g_ref_uS}

    @classmethod
    def nominal_weights(cls, card: Card, conductances: dict[str, np.ndarray]) -> np.ndarray:
        """``W = (G - g_offset) / G_ref``."""
        return (np.asarray(conductances["G"]) - card.cell.g_offset_uS) / card.cell.g_ref_uS


@register_cell("pair")
class PairCell(UnitCell):
    """A differential pair: ``W = gain (G+ - G-) / G_ref`` (gain 1 for ``pair``).

    Updates SET one side: ``n > 0`` pulses G+, ``n < 0`` pulses G-. When the side a cell
    raised reaches the refresh level ``g_min + refresh_fraction (g_max - g_min)``
    (nominal bounds, read through the ADC), the cell is refreshed: the difference is
    read, both devices are RESET, and the difference is reprogrammed by closed-loop
    tuning (:func:`tune_pair`).
    """

    roles = ("G+", "G-")

    @property
    def gain(self) -> float:
        """The pair's gain (F of the Ambrogio cell; 1 for a plain pair)."""
        return 1.0

    @property
    def refresh_level_uS(self) -> float:
        """Conductance (µS) at which a side counts as saturated."""
        p = self.card.device
        return p.g_min_uS + self.spec.refresh_fraction * p.range_uS

    @classmethod
    def full_scale_uS(cls, card: Card) -> float:
        return card.device.range_uS

    def contribution(self, reads: dict[str, np.ndarray], idx: np.ndarray, t: float) -> np.ndarray:
        return reads["G+"] - reads["G-"]

    def pulse(self, idx: np.ndarray, n: np.ndarray, t: float, rng: draws.RNG) -> None:
        up = n > 0
        self.devices["G+"].pulse(idx[up], n[up], up[up], t, rng)
        down = n < 0
        self.devices["G-"].pulse(idx[down], -n[down], down[down], t, rng)

    def write_pair(self, idx: np.ndarray, diff_uS: np.ndarray, t: float, rng: draws.RNG) -> None:
        """Program ``G+ - G- = diff_uS``: RESET both, write the positive part to G+ and
        the negative part to G- (write-verify with the model's programming noise)."""
        floor = self.models["G+"].nominal_reset_uS()
        for role, part in (("G+", diff_uS), ("G-", -diff_uS)):
            device = self.devices[role]
            device.reset(idx, t)
            grow = part > 0
            device.write(idx[grow], floor + part[grow], t, rng)

    def write(self, idx: np.ndarray, weights: np.ndarray, t: float, rng: draws.RNG) -> None:
        self.write_pair(idx, weights * self.spec.g_ref_uS / self.gain, t, rng)

    @classmethod
    def nominal_gain(cls, card: Card) -> float:
        """The pair's gain for ``card`` (1 for a plain pair; F of the Ambrogio cell)."""
        return 1.0

    @classmethod
    def nominal_targets(cls, card: Card, weights: np.ndarray) -> dict[str, np.ndarray]:
        """The pair difference ``D = W G_ref / gain``: ``G+ = g_min + max(D, 0)``,
        ``G- = g_min + max(-D, 0)`` (as :meth:`write_pair` programs it)."""
        diff = np.asarray(weights) * card.cell.g_ref_uS / cls.nominal_gain(card)
        floor = cls.models_for(card)["G+"].nominal_reset_uS()
        return {"G+": floor + np.maximum(diff, 0.0), "G-": floor + np.maximum(-diff, 0.0)}

    @classmethod
    def nominal_weights(cls, card: Card, conductances: dict[str, np.ndarray]) -> np.ndarray:
        """``W = gain (G+ - G-) / G_ref``."""
        pair = np.asarray(conductances["G+"]) - np.asarray(conductances["G-"])
        return cls.nominal_gain(card) * pair / card.cell.g_ref_uS

    def refresh(
        self, idx: np.ndarray, t: float, rng: draws.RNG, periphery: Periphery, force: bool
    ) -> np.ndarray:
        plus = digital_read(self.devices["G+"], idx, t, rng, periphery)
        minus = digital_read(self.devices["G-"], idx, t, rng, periphery)
        due = force | (np.maximum(plus, minus) >= self.refresh_level_uS)
        idx, target = idx[due], (plus - minus)[due]
        counts = np.bincount(self.devices["G+"].chips(idx), minlength=self.n_chips)
        self.devices["G+"].reset(idx, t)
        self.devices["G-"].reset(idx, t)
        return counts + tune_pair(self, idx, target, t, rng, periphery).refreshed

    def after_pulse(
        self, idx: np.ndarray, t: float, rng: draws.RNG, periphery: Periphery
    ) -> np.ndarray:
        return self.refresh(idx, t, rng, periphery, force=False)


def describe(card: Card) -> dict[str, str]:
    """Derived numbers of a card: weight per pulse, weight range, pulses across range."""
    cls = get_cell(card.cell.kind)
    dw = cls.dw_min(card)
    full = cls.full_scale_uS(card) / card.cell.g_ref_uS
    out = {"cell": cls.kind, "roles": ", ".join(cls.roles), "weight per pulse": f"{dw:.6g}"}
    out["digital read full scale (weight)"] = f"{full:.6g}"
    model = cls.update_model(card)
    span = model.params.range_uS / model.nominal_step_uS()
    if np.isfinite(span):
        out["nominal pulses across the updated device's range"] = f"{span:.6g}"
    return out


@dataclass
class PairTuneResult:
    """Outcome of :func:`tune_pair`.

    Attributes
    ----------
    refreshed
        ``(S,)`` number of cells refreshed on each chip during tuning.
    within
        ``(n,)`` whether the cell's last verify read was within tolerance.
    programmed
        ``(n, 2)`` whether G+ (column 0) and G- (column 1) received SET pulses since
        their last RESET.
    """

    refreshed: np.ndarray
    within: np.ndarray
    programmed: np.ndarray


def tune_pair(
    cell: PairCell,
    idx: np.ndarray,
    target_uS: np.ndarray,
    t: float,
    rng: draws.RNG,
    periphery: Periphery,
) -> PairTuneResult:
    """Bring ``G+ - G-`` of cells ``idx`` to ``target_uS`` by SET pulses and verify reads.

    Each iteration reads both devices through the read path of every digital read
    (:func:`~deephw.devices.tuning.digital_read`); cells within the card's
    ``tune_tolerance_uS`` are done; the others get one SET pulse on G+ (difference too
    low) or G- (too high). A cell whose side to raise has reached the refresh level is
    refreshed instead: both devices are RESET and the loop reprograms the difference.
    Stops after ``tune_max_iterations`` iterations.

    The reads decide the iterations, pulses, refreshes and failures. Where the pair
    ends is decided as for single devices (:func:`~deephw.devices.tuning.place_verified`):
    for a model whose programming noise is the measured outcome of iterative
    write-verify (PCM's ``sigma_prog``), a cell that ends within tolerance is left with
    its difference at the target plus the measured spread of each device the loop
    programmed (pulsed since its last RESET): the side pulsed last takes the correction
    to the target, the other programmed side (if any) stays at its value, and each is
    placed with its own ``sigma_prog(q) xi`` (within its bounds: a correction below a
    side's lower bound leaves it there). A noisy read within tolerance tells no
    finer than that measurement. Cells the loop did not program and failed cells stay
    where the loop left them, as does every cell of other models.
    """
    plus, minus = cell.devices["G+"], cell.devices["G-"]
    spec = cell.spec
    refreshed = np.zeros(plus.shape[0], dtype=np.int64)
    idx = np.asarray(idx)
    target = np.broadcast_to(np.asarray(target_uS, dtype=float), idx.shape)
    within = np.zeros(idx.size, dtype=bool)
    programmed = np.zeros((idx.size, 2), dtype=bool)
    last_plus = np.zeros(idx.size, dtype=bool)  # the side pulsed last is G+
    todo = np.arange(idx.size)
    for _ in range(spec.tune_max_iterations):
        if not todo.size:
            break
        cells = idx[todo]
        g_plus = digital_read(plus, cells, t, rng, periphery)
        g_minus = digital_read(minus, cells, t, rng, periphery)
        error = target[todo] - (g_plus - g_minus)
        ok = np.abs(error) <= spec.tune_tolerance_uS
        within[todo[ok]] = True
        todo, error = todo[~ok], error[~ok]
        g_plus, g_minus, cells = g_plus[~ok], g_minus[~ok], cells[~ok]
        raise_plus = error > 0
        side = np.where(raise_plus, g_plus, g_minus)
        full = side >= cell.refresh_level_uS
        if full.any():
            stale = cells[full]
            plus.reset(stale, t)
            minus.reset(stale, t)
            refreshed += np.bincount(plus.chips(stale), minlength=plus.shape[0])
            programmed[todo[full]] = False
        for column, device, go in ((0, plus, ~full & raise_plus), (1, minus, ~full & ~raise_plus)):
            ones = np.ones(int(go.sum()), dtype=np.int64)
            device.pulse(cells[go], ones, ones > 0, t, rng)
            programmed[todo[go], column] = True
            last_plus[todo[go]] = column == 0
    _place_pair(cell, idx, target, within, programmed, last_plus, t, rng)
    return PairTuneResult(refreshed, within, programmed)


def _place_pair(
    cell: PairCell,
    idx: np.ndarray,
    target: np.ndarray,
    within: np.ndarray,
    programmed: np.ndarray,
    last_plus: np.ndarray,
    t: float,
    rng: draws.RNG,
) -> None:
    """Place the programmed sides of the cells ``tune_pair`` ended within tolerance
    (see there) by :func:`~deephw.devices.tuning.place_verified`."""
    plus, minus = cell.devices["G+"], cell.devices["G-"]
    if not plus.model.measured_programming:
        return
    done = np.flatnonzero(within & programmed.any(axis=1))
    cells = idx[done]
    g_plus, g_minus = plus.value(t, cells), minus.value(t, cells)
    miss = target[done] - (g_plus - g_minus)
    on_plus = last_plus[done]
    aims = (g_plus + np.where(on_plus, miss, 0.0), g_minus - np.where(on_plus, 0.0, miss))
    for column, device, aim in zip((0, 1), (plus, minus), aims, strict=True):
        chosen = programmed[done, column]
        place_verified(device, cells[chosen], aim[chosen], rng)


def show_card(name_or_path: str | Path) -> str:
    """A card's validated content as YAML, headed by its hash, derived numbers and its
    non-idealities (group, the card field that sets each, value, unit, and the value
    that switches it off), as comments."""
    card = load_card(name_or_path)
    lines = [f"# card {card.name}  sha256 {card_hash(card)}"]
    lines += [f"# {key}: {value}" for key, value in describe(card).items()]
    lines += ["#", "# non-idealities:"]
    lines += [f"#   {line}" for line in nonideality.table(card).splitlines()]
    return "\n".join(lines) + "\n" + card_to_yaml(card)
