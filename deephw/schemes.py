"""Update schemes: how the learning rule's weight change becomes pulses on a crossbar.

- ``digital``: the periphery accumulates ``dW`` over the nudged phase and the batch,
  then issues ``round(dW / dw_min)`` pulses per cell (deterministic or stochastic
  rounding).
- ``in_situ``: at every nudged step ``m`` the rows fire pulse trains with probability
  proportional to ``s_i(m)`` and the columns to ``|s_j(m) - s_j(m-1)|`` with its sign;
  each coincidence is one pulse (stochastic pulse update, Gokmen & Vlasov 2016).
- ``hybrid``: either of the above on the fast device of an Ambrogio cell, with a
  transfer into the slow pair every ``transfer_every`` updates.

Schemes register by name; :func:`get_scheme` resolves a name at the edges. Every scheme
ends an update by :meth:`deephw.crossbar.Crossbar.count_update`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deephw import model
from deephw.crossbar import ROUNDINGS, Crossbar
from deephw.devices import Card, draws
from deephw.errors import ConfigError
from deephw.pulses import InSituRequest, coincidences
from deephw.registry import Registry
from deephw.validation import build, check

SCHEMES: Registry[type] = Registry("scheme")


def register_scheme(name: str) -> Callable[[type], type]:
    """Class decorator registering an update scheme under ``name``."""
    return SCHEMES.register(name)


_ROUND = "how dW / dw_min becomes a whole number of pulses"
_BITS = "time slots of the pulse trains per nudged step"
_MANAGED = "scale row and column probabilities to balance them (Gokmen & Vlasov)"


@dataclass(frozen=True)
class DigitalOptions:
    """``hardware.scheme`` options of ``digital``: how ``dW / dw_min`` is rounded."""

    rounding: str = field(default="stochastic", metadata=check(choices=ROUNDINGS, doc=_ROUND))


@dataclass(frozen=True)
class InSituOptions:
    """``hardware.scheme`` options of ``in_situ``: time slots per step, update management,
    and ``in_engine`` (the engine accumulates the coincidences during the nudged phase)."""

    bit_length: int = field(default=10, metadata=check(ge=1, doc=_BITS))
    update_management: bool = field(default=True, metadata=check(doc=_MANAGED))
    in_engine: bool = field(default=False, metadata=check(doc="the engine counts coincidences"))


@dataclass(frozen=True)
class HybridOptions:
    """``hardware.scheme`` options of ``hybrid``: the ``inner`` scheme on the fast device,
    its options, and ``transfer_every`` (default: the card's)."""

    inner: str = field(
        default="digital",
        metadata=check(choices=("digital", "in_situ"), doc="scheme on the fast device"),
    )
    transfer_every: int | None = field(
        default=None, metadata=check(ge=1, doc="updates between transfers; null: the card's")
    )
    rounding: str = field(default="stochastic", metadata=check(choices=ROUNDINGS, doc=_ROUND))
    bit_length: int = field(default=10, metadata=check(ge=1, doc=_BITS))
    update_management: bool = field(default=True, metadata=check(doc=_MANAGED))


def scheme_options(name: str, given: dict[str, Any]) -> Any:
    """The validated options of scheme ``name`` (a key it does not use is an error)."""
    return build(SCHEMES.get(name).Options, dict(given), prefix="scheme")


def configured_scheme(name: str, given: dict[str, Any]) -> UpdateScheme:
    """The scheme ``name`` configured by the ``hardware.scheme`` options ``given``."""
    return SCHEMES.get(name).from_options(scheme_options(name, given))


def get_scheme(name: str, **options: object) -> UpdateScheme:
    """Instantiate the update scheme registered as ``name`` with its options."""
    try:
        cls = SCHEMES.get(name)
    except KeyError as exc:
        raise ConfigError("", "scheme", name, exc.args[0]) from None
    return cls(**options)


def scheme_names() -> list[str]:
    """Names of the registered update schemes."""
    return SCHEMES.names()


class UpdateScheme(ABC):
    """Turns one learning step into pulses on a crossbar."""

    name: str = "abstract"
    Options: type = DigitalOptions
    needs_fast_device: bool = False
    trajectory_pulses: bool = False
    """Whether the pulses follow the nudged trajectory itself (in situ) rather than an
    accumulated weight change: only rules with an in-situ form can drive the scheme."""

    @classmethod
    def from_options(cls, options: Any) -> UpdateScheme:
        """The scheme configured by its options (an instance of :attr:`Options`)."""
        return cls(**vars(options))

    def check(self, crossbar: Crossbar) -> None:
        """Raise :class:`~deephw.errors.ConfigError` if the crossbar's card does not fit."""
        self.check_card(crossbar.card)

    def check_card(self, card: Card) -> None:
        """Raise :class:`~deephw.errors.ConfigError` if ``card`` does not fit the scheme."""
        has_fast = card.fast_device is not None
        if self.needs_fast_device and not has_fast:
            reason = "needs a cell with a fast device (cell.kind ambrogio)"
            raise ConfigError(card.name, "scheme", self.name, reason)
        if has_fast and not self.needs_fast_device:
            reason = "the card's fast device would never be transferred: use 'hybrid'"
            raise ConfigError(card.name, "scheme", self.name, reason)

    @abstractmethod
    def update(
        self,
        crossbar: Crossbar,
        rng: draws.RNG,
        *,
        delta: np.ndarray | None = None,
        trajectory: np.ndarray | None = None,
        lr: float = 1.0,
        l1: float = 0.0,
        l1_sign: str = "after",
    ) -> np.ndarray:
        """Program one update; returns the signed pulses issued per cell ``(S, N, N)``.

        Parameters
        ----------
        crossbar
            The crossbar to program.
        rng
            One generator, or one per chip.
        delta
            ``(S, N, N)`` weight change of the learning rule (schemes that accumulate).
        trajectory
            ``(Mb + 1, S, B, N)`` nudged-phase trajectory (index 0: ``s0``), for the
            schemes whose pulses follow it (:attr:`trajectory_pulses`).
        lr
            Learning rate, setting the coincidence gain of in-situ pulses.
        l1
            L1 shrink per update, programmed as ``-l1 sign(W)`` with ``W`` read digitally.
        l1_sign
            ``after`` (the sign of the updated weight) or ``before`` (of the weight before
            the update; digital accumulation only), see :func:`deephw.model.l1_request`.
        """


def _delta(delta: np.ndarray | None) -> np.ndarray:
    if delta is None:
        raise ValueError("digital programming needs the rule's weight change (delta)")
    return delta


def _check_l1_sign_after(l1: float, l1_sign: str) -> None:
    # the in-situ pulses change the weights before the L1 shrink reads them
    if l1 and l1_sign != "after":
        reason = "in-situ pulses are applied before the L1 read: only 'after' is possible"
        raise ConfigError("", "learning.l1_sign", l1_sign, reason)


def _check_rounding(rounding: str) -> None:
    if rounding not in ROUNDINGS:
        raise ConfigError("", "scheme.rounding", rounding, f"must be one of {list(ROUNDINGS)}")


@register_scheme("digital")
class DigitalAccumulate(UpdateScheme):
    """Accumulate ``dW`` digitally, then issue ``round(dW / dw_min)`` pulses per cell.

    The request is ``l1_request(W, dW, l1)`` (:func:`deephw.model.l1_request`), ``W``
    read through the ADC only when ``l1 > 0``. With the ideal card this is exactly the
    NumPy core's update ``W += l1_request(W, dW, l1); W *= mask``.
    """

    Options = DigitalOptions

    def __init__(self, rounding: str = "deterministic") -> None:
        _check_rounding(rounding)
        self.rounding = rounding

    def update(
        self,
        crossbar: Crossbar,
        rng: draws.RNG,
        *,
        delta: np.ndarray | None = None,
        trajectory: np.ndarray | None = None,
        lr: float = 1.0,
        l1: float = 0.0,
        l1_sign: str = "after",
    ) -> np.ndarray:
        self.check(crossbar)
        pulses = self.program(crossbar, rng, _delta(delta), l1, l1_sign)
        crossbar.count_update()
        return pulses

    def program(
        self,
        crossbar: Crossbar,
        rng: draws.RNG,
        delta: np.ndarray,
        l1: float,
        l1_sign: str = "after",
    ) -> np.ndarray:
        """Program ``delta`` with the L1 shrink, without counting an update."""
        weights = crossbar.read_weights(rng, digital=True) if l1 else None
        request = model.l1_request(weights, delta, l1, l1_sign)
        return crossbar.program(request, rng, self.rounding)


@register_scheme("in_situ")
class InSitu(UpdateScheme):
    """Stochastic pulse coincidences at every nudged step (Gokmen & Vlasov 2016).

    For step ``m`` and sample ``b``, over ``bit_length`` time slots, row ``i`` fires with
    probability ``min(1, c_x s_i(m))`` and column ``j`` with ``min(1, c_d |d_j|)``,
    ``d_j = s_j(m) - s_j(m-1)``; a coincidence gives cell ``(i, j)`` one pulse of sign
    ``sign(d_j)``. With ``c_x c_d = lr / (Mb B bit_length dw_min)`` the expected change
    is DEEP's rule (eq. 2) while no probability saturates. ``update_management`` picks
    ``c_x / c_d = max|d| / max s`` per chip and step, which keeps both factors equally
    far from saturation. Up and down coincidences of a step are applied in turn.

    With ``accumulate_in_engine`` the engine draws and sums the coincidences during the
    nudged phase (:meth:`request` builds its :class:`~deephw.engines.InSituRequest`) and
    :meth:`update` gets the ``(2, S, N, N)`` up/down ``counts``: all up pulses, then all
    down pulses, are applied once per update instead of step by step (the same pulses
    on a linear device), from the unlatched analog states.
    """

    Options = InSituOptions

    @classmethod
    def from_options(cls, options: InSituOptions) -> InSitu:
        return cls(options.bit_length, options.update_management, options.in_engine)

    trajectory_pulses = True

    def __init__(
        self,
        bit_length: int = 10,
        update_management: bool = True,
        accumulate_in_engine: bool = False,
    ) -> None:
        if not isinstance(bit_length, int) or bit_length < 1:
            raise ConfigError("", "scheme.bit_length", bit_length, "must be an integer >= 1")
        self.bit_length = bit_length
        self.update_management = bool(update_management)
        self.accumulate_in_engine = bool(accumulate_in_engine)

    def request(
        self,
        crossbar: Crossbar,
        n_steps: int,
        batch: int,
        lr: float,
        rng: draws.RNG | None = None,
        seed: int | None = None,
    ) -> InSituRequest:
        """The engine request accumulating this scheme's coincidences over a nudged phase
        of ``n_steps`` steps and ``batch`` samples (``rng``: NumPy engine draws, ``seed``:
        Brian2's)."""
        gain = lr / (n_steps * batch * self.bit_length * crossbar.dw_min)
        return InSituRequest(self.bit_length, gain, self.update_management, rng, seed)

    def update(
        self,
        crossbar: Crossbar,
        rng: draws.RNG,
        *,
        delta: np.ndarray | None = None,
        trajectory: np.ndarray | None = None,
        lr: float = 1.0,
        l1: float = 0.0,
        l1_sign: str = "after",
        counts: np.ndarray | None = None,
    ) -> np.ndarray:
        """Program one update; with ``accumulate_in_engine``, from the engine's ``counts``."""
        self.check(crossbar)
        _check_l1_sign_after(l1, l1_sign)
        if self.accumulate_in_engine:
            pulses = self.apply_counts(crossbar, rng, counts, l1)
        else:
            pulses = self.coincide(crossbar, rng, trajectory, lr, l1)
        crossbar.count_update()
        return pulses

    def apply_counts(
        self, crossbar: Crossbar, rng: draws.RNG, counts: np.ndarray | None, l1: float
    ) -> np.ndarray:
        """Apply an engine's ``(2, S, N, N)`` up/down counts, then the L1 shrink."""
        if counts is None:
            reason = "accumulate_in_engine needs the engine's coincidence counts"
            raise ConfigError("", "scheme", self.name, reason)
        up, down = np.asarray(counts, dtype=np.int64)
        crossbar.apply_pulses(up, rng)
        crossbar.apply_pulses(-down, rng)
        total = (up - down) * crossbar.enabled
        if l1:
            weights = crossbar.read_weights(rng, digital=True)
            total += crossbar.program(-l1 * np.sign(weights), rng, "stochastic")
        return total

    def coincide(
        self,
        crossbar: Crossbar,
        rng: draws.RNG,
        trajectory: np.ndarray | None,
        lr: float,
        l1: float,
    ) -> np.ndarray:
        """Issue the coincidence pulses of every nudged step, then the L1 shrink."""
        if trajectory is None:
            reason = "needs the nudged-phase trajectory (a rule with an in-situ form)"
            raise ConfigError("", "scheme", self.name, reason)
        n_steps, n_chips, batch, n = trajectory.shape
        n_steps -= 1
        slots = self.bit_length
        gain = lr / (n_steps * batch * slots * crossbar.dw_min)
        total = np.zeros(crossbar.shape, dtype=np.int64)
        for m in range(1, n_steps + 1):
            x, d = trajectory[m], trajectory[m] - trajectory[m - 1]
            up, down = coincidences(x, d, gain, slots, self.update_management, rng)
            crossbar.apply_pulses(up, rng)
            crossbar.apply_pulses(-down, rng)
            total += (up - down) * crossbar.enabled
        if l1:
            weights = crossbar.read_weights(rng, digital=True)
            total += crossbar.program(-l1 * np.sign(weights), rng, "stochastic")
        return total


@register_scheme("hybrid")
class Hybrid(UpdateScheme):
    """Updates on the fast device (``inner``: ``in_situ`` or ``digital``), and a transfer
    into the slow pair every ``transfer_every`` updates (default: the card's)."""

    Options = HybridOptions
    needs_fast_device = True

    def __init__(
        self,
        inner: str = "digital",
        transfer_every: int | None = None,
        rounding: str = "stochastic",
        bit_length: int = 10,
        update_management: bool = True,
    ) -> None:
        if inner not in ("digital", "in_situ"):
            raise ConfigError("", "scheme.inner", inner, "must be 'digital' or 'in_situ'")
        if transfer_every is not None and (
            not isinstance(transfer_every, int) or transfer_every < 1
        ):
            raise ConfigError(
                "", "scheme.transfer_every", transfer_every, "must be an integer >= 1"
            )
        self.inner = inner
        self.trajectory_pulses = inner == "in_situ"
        self.transfer_every = transfer_every
        self.digital = DigitalAccumulate(rounding)
        self.in_situ = InSitu(bit_length, update_management)

    def update(
        self,
        crossbar: Crossbar,
        rng: draws.RNG,
        *,
        delta: np.ndarray | None = None,
        trajectory: np.ndarray | None = None,
        lr: float = 1.0,
        l1: float = 0.0,
        l1_sign: str = "after",
    ) -> np.ndarray:
        self.check(crossbar)
        if self.inner == "in_situ":
            _check_l1_sign_after(l1, l1_sign)
            pulses = self.in_situ.coincide(crossbar, rng, trajectory, lr, l1)
        else:
            pulses = self.digital.program(crossbar, rng, _delta(delta), l1, l1_sign)
        every = self.transfer_every or crossbar.card.cell.transfer_every
        if crossbar.count_update() % every == 0:
            crossbar.transfer(rng)
        return pulses
