"""Soft-bounds device: the step shrinks linearly toward the bound it approaches."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from deephw.devices.base import register_device
from deephw.devices.pulsed import PulsedModel


@register_device("soft_bounds")
class SoftBoundsDevice(PulsedModel):
    """Steps proportional to the distance to the bound being approached.

    With ``x = (g - g_min) / (g_max - g_min)`` (per-device bounds)::

        up:   g <- g + step_up   (1 - x) (1 + c2c xi)
        down: g <- g - step_down  x      (1 + c2c xi)

    ``step_up`` / ``step_down`` are the steps at the far bound; up and down steps are
    equal at the symmetry point ``x* = step_up / (step_up + step_down)``, where both
    equal :meth:`nominal_step_uS`.
    """

    def step(
        self, g: np.ndarray, up: np.ndarray, d2d: dict[str, np.ndarray], noise: np.ndarray | None
    ) -> np.ndarray:
        x = (g - d2d["g_min"]) / (d2d["g_max"] - d2d["g_min"])
        return g + self.signed_step(up, 1.0 - x, x, d2d, noise)

    def affine_step(
        self, up: np.ndarray, d2d: dict[str, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Up: ``s_up (g_max - g) / R``; down: ``-s_down (g - g_min) / R``."""
        span = d2d["g_max"] - d2d["g_min"]
        size = np.where(up, d2d["step_up"], d2d["step_down"]) / span
        return size * np.where(up, d2d["g_max"], d2d["g_min"]), -size

    def pulses(
        self,
        g: np.ndarray,
        up: np.ndarray,
        n: np.ndarray,
        d2d: dict[str, np.ndarray],
        normal: Callable[[], np.ndarray] | None,
    ) -> np.ndarray:
        """The affine closed form; with additive noise, folded at the bound approached.

        The bound is the fixed point of the mean step, so the drift is odd about it: a
        path held at the bound (clipped pulse by pulse) has the law of the free path
        folded back at it, in the limit of small steps.
        """
        moved = super().pulses(g, up, n, d2d, normal)
        if not self.params.c2c_additive or normal is None:
            return moved
        bound = np.where(up, d2d["g_max"], d2d["g_min"])
        return bound - np.where(up, 1.0, -1.0) * np.abs(bound - moved)

    def nominal_step_uS(self) -> float:
        """Step at the symmetry point, ``s_up s_down / (s_up + s_down)`` of the nominal."""
        p = self.params
        up, down = p.nominal_step * (1 + p.up_down), p.nominal_step * (1 - p.up_down)
        return up * down / (up + down)
