"""Measured device: steps looked up in a table of conductance (piecewise linear)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from deephw.devices.base import DeviceModel, DeviceParams, Problem, register_device
from deephw.validation import check

TABLE_FIELDS = ("up_mean_uS", "down_mean_uS", "up_c2c_uS", "down_c2c_uS")


@dataclass(frozen=True)
class LookupParams(DeviceParams):
    """A table of the mean and the cycle-to-cycle standard deviation (absolute, µS) of
    the conductance change of one up and one down pulse, at conductances ``grid_uS``
    (increasing). ``step_dtod`` is the relative spread of a device's step scale."""

    grid_uS: tuple[float, ...] = ()
    up_mean_uS: tuple[float, ...] = ()
    down_mean_uS: tuple[float, ...] = ()
    up_c2c_uS: tuple[float, ...] = ()
    down_c2c_uS: tuple[float, ...] = ()
    step_dtod: float = field(default=0.0, metadata=check(ge=0, doc="relative"))
    write_noise_uS: float = field(default=0.0, metadata=check(ge=0, doc="absolute"))

    def problems(self) -> list[Problem]:
        found = super().problems()
        grid = np.asarray(self.grid_uS)
        if grid.size < 2:
            found.append(("grid_uS", list(self.grid_uS), "needs at least two points"))
        elif np.any(np.diff(grid) <= 0):
            found.append(("grid_uS", list(self.grid_uS), "must be strictly increasing"))
        for name in TABLE_FIELDS:
            value = getattr(self, name)
            if len(value) != grid.size:
                found.append((name, list(value), f"needs {grid.size} values, like grid_uS"))
            elif name.endswith("c2c_uS") and min(value) < 0:
                found.append((name, list(value), "standard deviations must be >= 0"))
        return found


@register_device("lookup")
class LookupDevice(DeviceModel):
    """Steps interpolated from a measured table (see :func:`deephw.devices.fit_card`).

    With ``interp`` piecewise linear in ``g`` over ``grid_uS`` (constant beyond it)::

        up:   g <- clip(g + k_dev (interp(up_mean) + interp(up_c2c) xi), g_min, g_max)
        down: g <- clip(g + k_dev (interp(down_mean) + interp(down_c2c) xi), g_min, g_max)

    with ``k_dev = 1 + step_dtod z`` drawn once per device.
    """

    params_type = LookupParams

    def sample_model(self, rng: np.random.Generator, shape: tuple[int, ...]) -> dict:
        z = rng.standard_normal(shape)
        return {"step_scale": np.maximum(1.0 + self.params.step_dtod * z, 0.0)}

    def step_noise(self) -> bool:
        p = self.params
        return max(p.up_c2c_uS) > 0 or max(p.down_c2c_uS) > 0

    def step(
        self, g: np.ndarray, up: np.ndarray, d2d: dict[str, np.ndarray], noise: np.ndarray | None
    ) -> np.ndarray:
        p = self.params
        mean = np.where(
            up, np.interp(g, p.grid_uS, p.up_mean_uS), np.interp(g, p.grid_uS, p.down_mean_uS)
        )
        if noise is not None:
            spread = np.where(
                up, np.interp(g, p.grid_uS, p.up_c2c_uS), np.interp(g, p.grid_uS, p.down_c2c_uS)
            )
            mean = mean + spread * noise
        return g + d2d["step_scale"] * mean

    def write_sigma(self, target: np.ndarray, d2d: dict[str, np.ndarray]) -> np.ndarray | float:
        return self.params.write_noise_uS

    def nominal_step_uS(self) -> float:
        """Mean over the table of the up and down step magnitudes."""
        p = self.params
        return float((np.mean(np.abs(p.up_mean_uS)) + np.mean(np.abs(p.down_mean_uS))) / 2)
