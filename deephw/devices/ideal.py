"""The ideal device: a float weight with no effects."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from deephw.devices.base import (
    DeviceModel,
    DeviceParams,
    Problem,
    register_device,
    span_problem,
)
from deephw.validation import check


@dataclass(frozen=True)
class IdealParams(DeviceParams):
    """Card fields of the ideal device; bounds are optional (``null``: unbounded)."""

    g_min_uS: float | None = field(
        default=None,
        metadata=check(unit="uS", group="bounds", ideal=None, doc="lower bound (null: none)"),
    )
    g_max_uS: float | None = field(
        default=None,
        metadata=check(unit="uS", group="bounds", ideal=None, doc="upper bound (null: none)"),
    )
    step_uS: float = field(
        default=0.01,
        metadata=check(
            gt=0, unit="uS", group="step size", doc="change of one pulse under pulse schemes"
        ),
    )

    conductances_are_physical: ClassVar[bool] = False

    def problems(self) -> list[Problem]:
        found = super().problems()
        if self.bounded and not found:
            found += span_problem("step_uS", self.step_uS, self.step_uS, self.range_uS)
        return found


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

    def pulses(
        self,
        g: np.ndarray,
        up: np.ndarray,
        n: np.ndarray,
        d2d: dict[str, np.ndarray],
        normal: Callable[[], np.ndarray] | None,
    ) -> np.ndarray:
        return g + n * np.where(up, self.params.step_uS, -self.params.step_uS)

    def reset_value(self, d2d: dict[str, np.ndarray]) -> np.ndarray:
        """0 µS, or the lower bound when it is finite."""
        return np.where(np.isfinite(d2d["g_min"]), d2d["g_min"], 0.0)

    def nominal_step_uS(self) -> float:
        return self.params.step_uS
