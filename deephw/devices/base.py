"""The device-model interface, the fields every device card shares, and the registry.

A device model describes one kind of memory device (a PCM cell, a capacitor, ...) as
element-wise NumPy functions of its conductance ``g`` (in µS) and of per-device
parameters sampled once per chip (device-to-device variation, ``*_dtod``). The
stateful, vectorised bookkeeping (conductances of ``(S, N, N)`` devices, stuck faults,
endurance, counters) lives in :class:`deephw.devices.array.DeviceArray`; a model only
states the physics. Models register by name; a card's ``model:`` key selects one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from deephw.registry import Registry
from deephw.validation import check

STUCK_NONE, STUCK_MIN, STUCK_MAX = 0, 1, 2
"""Codes of a device's stuck-at state."""

Problem = tuple[str, object, str]
"""A cross-field problem of a card section: (field, value, reason)."""

MAX_SPAN = 1e15
"""The most nominal steps a card's conductance range may hold: pulse counts stay far
inside int64 and a step stays far above the rounding of a conductance."""


def noise_problem(
    name: str, value: object, sigma: float, span: float, derived: bool = False
) -> list[Problem]:
    """A problem when the standard deviation ``sigma`` (µS) set by field ``name`` (given
    as ``value``) exceeds the conductance range ``span`` (µS): such a device holds no
    information. ``derived``: ``sigma`` is computed from ``value`` (a relative spread
    times a step, a polynomial's worst case), and the message says what it came to."""
    if sigma > span:
        came_to = f"gives noise of {sigma:.4g} uS, " if derived else "noise "
        return [(name, value, f"{came_to}larger than the conductance range ({span:g} uS)")]
    return []


def span_problem(name: str, value: object, step: float, span: float) -> list[Problem]:
    """Problems of a nominal step ``step`` (µS) set by field ``name``: larger than the
    range ``span``, or so small that the range holds more than :data:`MAX_SPAN` steps."""
    if not np.isfinite(span):
        return []
    if step > span:
        return [(name, value, f"step {step:g} uS larger than the conductance range {span:g} uS")]
    if not step > 0 or span / step > MAX_SPAN:
        reason = f"the range would hold {span / step if step > 0 else np.inf:.3g} steps"
        return [(name, value, f"{reason} (at most {MAX_SPAN:.0e})")]
    return []


@dataclass(frozen=True)
class CostSpec:
    """Energy (pJ) and duration (ns) of one SET pulse, RESET pulse and device read."""

    set_pJ: float = field(
        default=0.0, metadata=check(ge=0, unit="pJ", doc="energy of one SET (potentiating) pulse")
    )
    reset_pJ: float = field(
        default=0.0,
        metadata=check(ge=0, unit="pJ", doc="energy of one RESET (depressing or abrupt) pulse"),
    )
    read_pJ: float = field(
        default=0.0, metadata=check(ge=0, unit="pJ", doc="energy of one read of one device")
    )
    set_ns: float = field(
        default=0.0,
        metadata=check(ge=0, unit="ns", doc="duration of one SET pulse (also the pulse slot)"),
    )
    reset_ns: float = field(
        default=0.0, metadata=check(ge=0, unit="ns", doc="duration of one RESET pulse")
    )
    read_ns: float = field(
        default=0.0, metadata=check(ge=0, unit="ns", doc="duration of one read of one device")
    )


@dataclass(frozen=True)
class DeviceParams:
    """Card fields every device model has.

    Spreads named ``*_dtod`` are device-to-device: drawn once per device from the chip's
    seed. Bounds spreads are standard deviations relative to the nominal range
    ``g_max_uS - g_min_uS``; the endurance spread is the standard deviation of the log of
    a device's pulse budget.
    """

    model: str = field(metadata=check(unit="", doc="the device model (a registered name)"))
    g_min_uS: float = field(
        default=0.0, metadata=check(unit="uS", group="bounds", doc="lower conductance bound")
    )
    g_max_uS: float = field(
        default=1.0, metadata=check(unit="uS", group="bounds", doc="upper conductance bound")
    )
    g_min_dtod: float = field(
        default=0.0,
        metadata=check(
            ge=0,
            unit="relative to the range",
            group="d2d",
            ideal=0.0,
            doc="device-to-device spread of the lower bound",
        ),
    )
    g_max_dtod: float = field(
        default=0.0,
        metadata=check(
            ge=0,
            unit="relative to the range",
            group="d2d",
            ideal=0.0,
            doc="device-to-device spread of the upper bound",
        ),
    )
    read_noise_uS: float = field(
        default=0.0,
        metadata=check(
            ge=0,
            unit="uS",
            group="read noise",
            ideal=0.0,
            doc="white read noise: standard deviation of every read",
        ),
    )
    stuck_min_fraction: float = field(
        default=0.0,
        metadata=check(
            ge=0,
            le=1,
            unit="fraction of devices",
            group="stuck devices",
            ideal=0.0,
            doc="devices stuck at their lower bound",
        ),
    )
    stuck_max_fraction: float = field(
        default=0.0,
        metadata=check(
            ge=0,
            le=1,
            unit="fraction of devices",
            group="stuck devices",
            ideal=0.0,
            doc="devices stuck at their upper bound",
        ),
    )
    endurance_pulses: int | None = field(
        default=None,
        metadata=check(
            ge=1,
            unit="pulses",
            group="endurance",
            ideal=None,
            doc="pulses a device takes before it sticks (null: no limit)",
        ),
    )
    endurance_dtod: float = field(
        default=0.0,
        metadata=check(
            ge=0,
            unit="std of the log budget",
            group="d2d",
            ideal=0.0,
            doc="device-to-device spread of the pulse budget",
        ),
    )
    endurance_stuck: str = field(
        default="current",
        metadata=check(
            choices=("current", "min", "max"),
            unit="",
            group="endurance",
            doc="where a worn-out device sticks",
        ),
    )
    costs: CostSpec = field(
        default=CostSpec(),
        metadata=check(unit="", doc="energy and duration of one pulse and one read"),
    )

    conductances_are_physical: ClassVar[bool] = True
    """Whether the bounds are conductances (>= 0); False for the ideal device's weight."""

    @property
    def bounded(self) -> bool:
        """Whether the device has conductance bounds."""
        return self.g_min_uS is not None and self.g_max_uS is not None

    @property
    def range_uS(self) -> float:
        """Nominal conductance range ``g_max_uS - g_min_uS`` (inf when unbounded)."""
        return self.g_max_uS - self.g_min_uS if self.bounded else np.inf

    def problems(self) -> list[Problem]:
        """Cross-field inconsistencies, as ``(field, value, reason)``."""
        found: list[Problem] = []
        if self.bounded and not self.g_max_uS > self.g_min_uS:
            found.append(("g_max_uS", self.g_max_uS, f"must be > g_min_uS ({self.g_min_uS})"))
            return found
        if self.conductances_are_physical:
            for name in ("g_min_uS", "g_max_uS"):
                value = getattr(self, name)
                if value is not None and value < 0:
                    found.append((name, value, "a conductance cannot be negative"))
        for name in ("g_min_dtod", "g_max_dtod"):
            value = getattr(self, name)
            if value > 1:
                found.append((name, value, "spread larger than the conductance range (> 1)"))
        if self.bounded:
            found += noise_problem(
                "read_noise_uS", self.read_noise_uS, self.read_noise_uS, self.range_uS
            )
        stuck = self.stuck_min_fraction + self.stuck_max_fraction
        if stuck > 1:
            found.append(("stuck_max_fraction", self.stuck_max_fraction, "stuck fractions sum > 1"))
        if not self.bounded:
            if stuck > 0:
                found.append(("stuck_min_fraction", stuck, "stuck-at faults need bounds"))
            if self.endurance_stuck != "current":
                found.append(("endurance_stuck", self.endurance_stuck, "needs bounds"))
        return found


class DeviceModel(ABC):
    """The physics of one kind of device, as element-wise functions.

    Arrays passed to the methods are 1-D selections of devices; ``d2d`` maps parameter
    names to the same selection of per-device parameters (``g_min``, ``g_max``,
    ``budget`` and the model's own, see :meth:`sample`). Conductances are in µS, times
    in seconds.
    """

    name: ClassVar[str] = "abstract"
    params_type: ClassVar[type[DeviceParams]] = DeviceParams
    bidirectional: ClassVar[bool] = True
    """Whether pulses can lower the conductance (else only SET pulses raise it)."""
    continuous: ClassVar[bool] = False
    """Whether digital writes change the conductance exactly (the ideal device)."""
    time_dependent: ClassVar[bool] = False
    """Whether the conductance changes with the time since programming (drift, leak)."""
    measured_programming: ClassVar[bool] = False
    """Whether :meth:`write_sigma` is the measured spread that iterative write-verify
    leaves (then a successful verify loop ends with the device at ``target +
    write_sigma xi``, see :func:`deephw.devices.tuning.tune_devices`)."""

    def __init__(self, params: DeviceParams) -> None:
        self.params = params

    # -- sampling ------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
        """Device-to-device parameters of one chip's devices, and their stuck-at codes.

        Draws, in this order: bounds, stuck-at faults, endurance budget, then the
        model's own parameters (:meth:`sample_model`).
        """
        p = self.params
        z_bounds = rng.standard_normal((2, *shape))
        u_stuck = rng.random(shape)
        z_budget = rng.standard_normal(shape)
        if p.bounded:
            spread = p.range_uS
            g_min = p.g_min_uS + spread * p.g_min_dtod * z_bounds[0]
            g_max = p.g_max_uS + spread * p.g_max_dtod * z_bounds[1]
            g_max = np.maximum(g_max, g_min + 1e-3 * spread)
        else:
            g_min, g_max = np.full(shape, -np.inf), np.full(shape, np.inf)
        stuck = np.where(u_stuck < p.stuck_min_fraction, STUCK_MIN, STUCK_NONE)
        top = p.stuck_min_fraction + p.stuck_max_fraction
        stuck = np.where((u_stuck >= p.stuck_min_fraction) & (u_stuck < top), STUCK_MAX, stuck)
        if p.endurance_pulses is None:
            budget = np.full(shape, np.inf)
        else:
            budget = np.floor(p.endurance_pulses * np.exp(p.endurance_dtod * z_budget))
        d2d = {"g_min": g_min, "g_max": g_max, "budget": budget, "stuck": stuck.astype(np.int8)}
        d2d.update(self.sample_model(rng, shape))
        return d2d

    def sample_model(self, rng: np.random.Generator, shape: tuple[int, ...]) -> dict:
        """The model's own device-to-device parameters (none by default)."""
        return {}

    def program_draws(self) -> tuple[str, ...]:
        """Per-device parameters (keys of :meth:`sample_model`, standard normal) drawn
        afresh whenever a device is programmed (written or pulsed); none by default."""
        return ()

    # -- physics -------------------------------------------------------------------
    def reset_value(self, d2d: dict[str, np.ndarray]) -> np.ndarray:
        """Conductance of a fresh device and after a RESET: ``g_min`` by default."""
        return d2d["g_min"].copy()

    def nominal_reset_uS(self) -> float:
        """Conductance (µS) of a nominal device (no spread) after a RESET: ``g_min_uS``
        (0 when the device has no lower bound)."""
        g_min = self.params.g_min_uS
        return 0.0 if g_min is None else float(g_min)

    @abstractmethod
    def step(
        self, g: np.ndarray, up: np.ndarray, d2d: dict[str, np.ndarray], noise: np.ndarray | None
    ) -> np.ndarray:
        """Conductance after one pulse (``up`` True: potentiating), before clipping.

        ``noise`` holds one standard normal draw per device for the cycle-to-cycle
        variation, or is None when :meth:`step_noise` is False.
        """

    def step_noise(self) -> bool:
        """Whether :meth:`step` needs a random draw per pulse (cycle-to-cycle noise)."""
        return False

    def pulse(
        self, g: np.ndarray, up: np.ndarray, d2d: dict[str, np.ndarray], noise: np.ndarray | None
    ) -> np.ndarray:
        """One pulse, clipped to the device's bounds ``[g_min, g_max]``."""
        return np.clip(self.step(g, up, d2d, noise), d2d["g_min"], d2d["g_max"])

    def pulses(
        self,
        g: np.ndarray,
        up: np.ndarray,
        n: np.ndarray,
        d2d: dict[str, np.ndarray],
        normal: Callable[[], np.ndarray] | None,
    ) -> np.ndarray:
        """Conductance after ``n`` pulses each (floats), before clipping, at a cost that
        does not grow with ``n``.

        The statistics of the result are those of ``n`` calls of :meth:`step` away from
        the bounds (see :mod:`deephw.devices.bulk`); the caller applies the first and
        last pulses of a long train one at a time, so the bounds act as they do pulse
        by pulse. ``normal()`` returns one fresh standard normal draw per device (None
        when :meth:`step_noise` is False). Models without such a form raise
        NotImplementedError and are pulsed one pulse at a time.
        """
        raise NotImplementedError

    def evolve(
        self, g: np.ndarray, elapsed_s: np.ndarray, d2d: dict[str, np.ndarray]
    ) -> np.ndarray:
        """Conductance ``elapsed_s`` seconds after being programmed to ``g`` (no change)."""
        return g

    def read_sigma(
        self, g: np.ndarray, g_now: np.ndarray, elapsed_s: np.ndarray, d2d: dict[str, np.ndarray]
    ) -> np.ndarray | float:
        """Standard deviation (µS) of a read of a device programmed to ``g``, now ``g_now``."""
        return self.params.read_noise_uS

    def reads_exactly(self) -> bool:
        """Whether every read returns the conductance as it is (no read noise at all),
        so a read needs none of :meth:`read_sigma`'s arguments."""
        return type(self).read_sigma is DeviceModel.read_sigma and not self.params.read_noise_uS

    def write(
        self, target: np.ndarray, d2d: dict[str, np.ndarray], noise: np.ndarray
    ) -> np.ndarray:
        """Conductance after a write-verify to ``target`` (µS), ``noise`` standard normal.

        Default: the target plus :meth:`write_sigma` times the noise, within bounds.
        """
        g = target + self.write_sigma(target, d2d) * noise
        return np.clip(g, d2d["g_min"], d2d["g_max"])

    def write_sigma(self, target: np.ndarray, d2d: dict[str, np.ndarray]) -> np.ndarray | float:
        """Standard deviation (µS) of a write-verify to ``target`` (0 by default)."""
        return 0.0

    def update_noise_uS(self) -> float:
        """Standard deviation (µS) of the noise between the conductance reads see and the
        hidden one that updates change, drawn afresh at every update (0 by default)."""
        return 0.0

    @abstractmethod
    def nominal_step_uS(self) -> float:
        """The conductance change of one typical pulse (µS), as the periphery assumes it."""


DEVICE_MODELS: Registry[type] = Registry("device model")


def register_device(name: str) -> Callable[[type], type]:
    """Class decorator registering a device model under ``name``."""
    return DEVICE_MODELS.register(name)


def get_device_model(name: str) -> type[DeviceModel]:
    """The device model class registered as ``name``."""
    return DEVICE_MODELS.get(name)


def device_model_names() -> list[str]:
    """Names of the registered device models."""
    return DEVICE_MODELS.names()
