"""Constant-step device: finite levels between hard bounds."""

from __future__ import annotations

import numpy as np

from deephw.devices.base import register_device
from deephw.devices.pulsed import PulsedModel


@register_device("constant_step")
class ConstantStepDevice(PulsedModel):
    """Every pulse moves the conductance by the device's constant step.

    ::

        g <- clip(g + step_up (1 + c2c xi), g_min, g_max)       (up pulse)
        g <- clip(g - step_down (1 + c2c xi), g_min, g_max)     (down pulse)

    Without variation the device holds ``levels`` conductances ``g_min + k step``; a
    write-verify lands on the level nearest to the target (plus ``write_noise_uS``).
    """

    def step(
        self, g: np.ndarray, up: np.ndarray, d2d: dict[str, np.ndarray], noise: np.ndarray | None
    ) -> np.ndarray:
        return g + self.signed_step(up, 1.0, 1.0, d2d, noise)

    def affine_step(
        self, up: np.ndarray, d2d: dict[str, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        return np.where(up, d2d["step_up"], -d2d["step_down"]), np.zeros(up.shape)

    def write(
        self, target: np.ndarray, d2d: dict[str, np.ndarray], noise: np.ndarray
    ) -> np.ndarray:
        size = np.where(d2d["step_up"] > 0, d2d["step_up"], np.inf)
        level = d2d["g_min"] + np.round((target - d2d["g_min"]) / size) * size
        level = np.where(np.isfinite(size), level, d2d["g_min"])
        return super().write(level, d2d, noise)
