"""Exponential-step device: steps decay exponentially toward the bound approached."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from deephw.devices import bulk
from deephw.devices.base import register_device
from deephw.devices.pulsed import PulsedModel, PulsedParams
from deephw.validation import check


@dataclass(frozen=True)
class ExpStepParams(PulsedParams):
    """Pulsed-device fields plus the decay rates of up and down steps."""

    gamma_up: float = field(
        default=0.0,
        metadata=check(
            ge=0,
            unit="",
            group="nonlinearity",
            ideal=0.0,
            doc="decay of the up step over the range: exp(-gamma_up x)",
        ),
    )
    gamma_down: float = field(
        default=0.0,
        metadata=check(
            ge=0,
            unit="",
            group="nonlinearity",
            ideal=0.0,
            doc="decay of the down step over the range: exp(-gamma_down (1 - x))",
        ),
    )


@register_device("exp_step")
class ExpStepDevice(PulsedModel):
    """Steps that shrink exponentially with the distance travelled.

    With ``x = (g - g_min) / (g_max - g_min)``::

        up:   g <- clip(g + step_up   exp(-gamma_up x)        (1 + c2c xi), g_min, g_max)
        down: g <- clip(g - step_down exp(-gamma_down (1 - x)) (1 + c2c xi), g_min, g_max)
    """

    params_type = ExpStepParams

    def step(
        self, g: np.ndarray, up: np.ndarray, d2d: dict[str, np.ndarray], noise: np.ndarray | None
    ) -> np.ndarray:
        p = self.params
        x = (g - d2d["g_min"]) / (d2d["g_max"] - d2d["g_min"])
        scale_up = np.exp(-p.gamma_up * x)
        scale_down = np.exp(-p.gamma_down * (1.0 - x))
        return g + self.signed_step(up, scale_up, scale_down, d2d, noise)

    def pulses(
        self,
        g: np.ndarray,
        up: np.ndarray,
        n: np.ndarray,
        d2d: dict[str, np.ndarray],
        normal: Callable[[], np.ndarray] | None,
    ) -> np.ndarray:
        """Up pulses move ``x``, down pulses ``1 - x``, by :func:`bulk.exponential`."""
        p = self.params
        span = d2d["g_max"] - d2d["g_min"]
        x = (g - d2d["g_min"]) / span
        a = np.where(up, d2d["step_up"], d2d["step_down"]) / span
        gamma = np.where(up, p.gamma_up, p.gamma_down)
        z = None if normal is None else normal()
        additive = a * p.step_c2c if p.c2c_additive else None
        moments = (1.0, 1.0) if p.c2c_additive else (1.0, 1.0 + p.step_c2c**2)
        travel = bulk.exponential(np.where(up, x, 1.0 - x), n, a, gamma, z, moments, additive)
        return d2d["g_min"] + span * np.where(up, travel, 1.0 - travel)

    def nominal_step_uS(self) -> float:
        """Mean of the up and down steps at mid-range."""
        p = self.params
        up = (1 + p.up_down) * np.exp(-p.gamma_up / 2)
        down = (1 - p.up_down) * np.exp(-p.gamma_down / 2)
        return float(p.nominal_step * (up + down) / 2)
