"""3T1C capacitor cell: near-linear, up/down asymmetric steps and a leak toward rest."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from deephw.devices.base import Problem, noise_problem, register_device
from deephw.devices.pulsed import PulsedModel, PulsedParams
from deephw.validation import check


@dataclass(frozen=True)
class CapacitorParams(PulsedParams):
    """Pulsed-device fields plus the step nonlinearity, reset and rest points, and leak.

    ``g_reset_dtod`` is an absolute standard deviation (µS) of the conductance a device
    takes when its capacitor is reset; ``tau_dtod`` is relative to ``tau_s``.
    """

    nonlinearity: float = field(
        default=0.0,
        metadata=check(
            ge=0,
            lt=1,
            unit="relative to the step",
            group="nonlinearity",
            ideal=0.0,
            doc="how much the step shrinks toward the bound approached",
        ),
    )
    g_reset_uS: float = field(
        default=0.0,
        metadata=check(unit="uS", doc="conductance after a reset (capacitor at V_reset)"),
    )
    g_reset_dtod_uS: float = field(
        default=0.0,
        metadata=check(
            ge=0,
            unit="uS",
            group="d2d",
            ideal=0.0,
            doc="device-to-device spread of the reset conductance",
        ),
    )
    g_rest_uS: float = field(
        default=0.0,
        metadata=check(unit="uS", group="capacitor leak", doc="conductance the leak tends to"),
    )
    tau_s: float | None = field(
        default=None,
        metadata=check(
            gt=0,
            unit="s",
            group="capacitor leak",
            ideal=None,
            doc="leak time constant (null: no leak)",
        ),
    )
    tau_dtod: float = field(
        default=0.0,
        metadata=check(
            ge=0,
            unit="relative to tau_s",
            group="d2d",
            ideal=0.0,
            doc="device-to-device spread of the leak time constant",
        ),
    )

    def problems(self) -> list[Problem]:
        found = super().problems()
        for name in ("g_reset_uS", "g_rest_uS"):
            value = getattr(self, name)
            if not self.g_min_uS <= value <= self.g_max_uS:
                found.append((name, value, "must lie within [g_min_uS, g_max_uS]"))
        found += noise_problem(
            "g_reset_dtod_uS", self.g_reset_dtod_uS, self.g_reset_dtod_uS, self.range_uS
        )
        if self.tau_dtod > 1:
            found.append(("tau_dtod", self.tau_dtod, "relative spread over 100 %"))
        return found


@register_device("capacitor")
class CapacitorDevice(PulsedModel):
    """A read FET whose gate is a capacitor charged and discharged by pulses.

    With ``x = (g - g_min) / (g_max - g_min)``, pull-up / pull-down pulses give::

        up:   g <- clip(g + step_up   (1 - nl x)       (1 + c2c xi), g_min, g_max)
        down: g <- clip(g - step_down (1 - nl (1 - x)) (1 + c2c xi), g_min, g_max)

    (``step_up != step_down`` per device: threshold-voltage variation). Between
    programming events the charge leaks toward the rest point::

        g(t) = g_rest + (g(t_p) - g_rest) exp(-(t - t_p) / tau_dev)

    A fresh device and a reset put ``g`` at ``g_reset_uS`` (per-device spread).
    """

    params_type = CapacitorParams
    time_dependent = True

    def sample_model(self, rng: np.random.Generator, shape: tuple[int, ...]) -> dict:
        p = self.params
        out = super().sample_model(rng, shape)
        z = rng.standard_normal((2, *shape))
        tau = np.inf if p.tau_s is None else p.tau_s
        out["tau_s"] = np.maximum(tau * (1.0 + p.tau_dtod * z[0]), 0.01 * tau)
        out["g_reset"] = p.g_reset_uS + p.g_reset_dtod_uS * z[1]
        return out

    def reset_value(self, d2d: dict[str, np.ndarray]) -> np.ndarray:
        return np.clip(d2d["g_reset"], d2d["g_min"], d2d["g_max"])

    def nominal_reset_uS(self) -> float:
        return float(self.params.g_reset_uS)

    def step(
        self, g: np.ndarray, up: np.ndarray, d2d: dict[str, np.ndarray], noise: np.ndarray | None
    ) -> np.ndarray:
        nl = self.params.nonlinearity
        x = (g - d2d["g_min"]) / (d2d["g_max"] - d2d["g_min"])
        return g + self.signed_step(up, 1.0 - nl * x, 1.0 - nl * (1.0 - x), d2d, noise)

    def affine_step(
        self, up: np.ndarray, d2d: dict[str, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Up: ``s_up (1 - nl x)``; down: ``-s_down (1 - nl + nl x)``, ``x`` affine in ``g``."""
        nl = self.params.nonlinearity
        span = d2d["g_max"] - d2d["g_min"]
        beta = -np.where(up, d2d["step_up"], d2d["step_down"]) * nl / span
        at_min = np.where(up, d2d["step_up"], -d2d["step_down"] * (1.0 - nl))
        return at_min - beta * d2d["g_min"], beta

    def evolve(
        self, g: np.ndarray, elapsed_s: np.ndarray, d2d: dict[str, np.ndarray]
    ) -> np.ndarray:
        rest = self.params.g_rest_uS
        return rest + (g - rest) * np.exp(-elapsed_s / d2d["tau_s"])

    def nominal_step_uS(self) -> float:
        """The nominal step at mid-range, ``step (1 - nl / 2)``."""
        return self.params.nominal_step * (1.0 - self.params.nonlinearity / 2)
