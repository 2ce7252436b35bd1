"""The ideal device: a float weight with no effects."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from deephw.devices.base import DeviceModel, DeviceParams, register_device
from deephw.validation import check


@dataclass(frozen=True)
class IdealParams(DeviceParams):
    """Card fields of the ideal device; bounds are optional (``null``: unbounded)."""

    g_min_uS: float | None = None
    g_max_uS: float | None = None
    step_uS: float = field(
        default=0.01, metadata=check(gt=0, doc="change of one pulse under pulse schemes")
    )


@register_device("ideal")
class IdealDevice(DeviceModel):
    """A float conductance with no noise, drift or variation.

    Digital writes are exact, ``g <- g + dg``; a pulse (under pulse-coincidence
    schemes) moves it by exactly ``+-step_uS``::

        g <- clip(g +- step_uS, g_min, g_max)        (bounds infinite unless given)
    """

    params_type = IdealParams
    continuous = True

    def step(
        self, g: np.ndarray, up: np.ndarray, d2d: dict[str, np.ndarray], noise: np.ndarray | None
    ) -> np.ndarray:
        size = self.params.step_uS
        return g + np.where(up, size, -size)

    def reset_value(self, d2d: dict[str, np.ndarray]) -> np.ndarray:
        """0 µS, or the lower bound when it is finite."""
        return np.where(np.isfinite(d2d["g_min"]), d2d["g_min"], 0.0)

    def nominal_step_uS(self) -> float:
        return self.params.step_uS
