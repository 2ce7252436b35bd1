"""Soft-bounds device: the step shrinks linearly toward the bound it approaches."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from deephw.devices.base import STUCK_MIN, Problem, noise_problem, register_device
from deephw.devices.pulsed import PulsedModel, PulsedParams
from deephw.validation import check


@dataclass(frozen=True)
class SoftBoundsParams(PulsedParams):
    """Pulsed-device fields plus IBM aihwkit's reference device and corrupt devices
    (``SoftBoundsReferenceDevice``; see :class:`SoftBoundsDevice`)."""

    subtract_symmetry_point: bool = field(
        default=False,
        metadata=check(
            unit="", doc="each device is read against a reference at its own symmetry point"
        ),
    )
    reference_dtod_uS: float = field(
        default=0.0,
        metadata=check(
            ge=0,
            unit="uS",
            group="d2d",
            ideal=0.0,
            doc="error of each device's reference (aihwkit: reference_std)",
        ),
    )
    stuck_corrupt_fraction: float = field(
        default=0.0,
        metadata=check(
            ge=0,
            le=1,
            unit="fraction of devices",
            group="stuck devices",
            ideal=0.0,
            doc="corrupt devices, stuck near the symmetry point (aihwkit: corrupt_devices_prob)",
        ),
    )
    stuck_corrupt_range_uS: float = field(
        default=0.0,
        metadata=check(
            ge=0,
            unit="uS",
            group="stuck devices",
            doc="spread of the corrupt devices' conductance (aihwkit: corrupt_devices_range)",
        ),
    )

    def problems(self) -> list[Problem]:
        found = super().problems()
        if found:
            return found
        for name in ("reference_dtod_uS", "stuck_corrupt_range_uS"):
            found += noise_problem(name, getattr(self, name), getattr(self, name), self.range_uS)
        stuck = self.stuck_min_fraction + self.stuck_max_fraction + self.stuck_corrupt_fraction
        if stuck > 1:
            found.append(("stuck_corrupt_fraction", self.stuck_corrupt_fraction, "stuck > 1"))
        return found


@register_device("soft_bounds")
class SoftBoundsDevice(PulsedModel):
    """Steps proportional to the distance to the bound being approached.

    With ``x = (g - g_min) / (g_max - g_min)`` (per-device bounds)::

        up:   g <- g + step_up   (1 - x) (1 + c2c xi)
        down: g <- g - step_down  x      (1 + c2c xi)

    ``step_up`` / ``step_down`` are the steps at the far bound; up and down steps are
    equal at the symmetry point ``x* = step_up / (step_up + step_down)``, where both
    equal :meth:`nominal_step_uS`. Additive cycle-to-cycle noise (``c2c_additive``) is
    ``step_c2c`` times the device's step at the nominal symmetry point ``g*`` (IBM
    aihwkit's ``dw_min``, defined there), ``step_up (1 - x(g*))`` up and ``step_down
    x(g*)`` down.

    aihwkit's reference device: a device is read against a reference of its own,
    ``W = (g - g_ref_dev) / G_ref``, set to its symmetry point (``subtract_symmetry_point``)
    with an error of standard deviation ``reference_dtod_uS``. Here the device's bounds
    are shifted by ``g* - g_ref_dev``, so the cell's fixed offset ``g*`` reads it alike.
    A fraction ``stuck_corrupt_fraction`` of the devices is corrupt: stuck at a uniform
    value within ``stuck_corrupt_range_uS`` of ``g*`` (inside its bounds), read against
    a reference at ``g*`` with the same error (aihwkit ``corrupt_devices_*``).
    """

    params_type = SoftBoundsParams

    def symmetry_uS(self) -> float:
        """Conductance of the nominal device's symmetry point, ``g*``."""
        p = self.params
        up = 1.0 + p.up_down
        return p.g_min_uS + p.range_uS * up / (up + 1.0 - p.up_down)

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
        """The pulsed-device draws, then the reference error and the corrupt devices."""
        p = self.params
        d2d = super().sample(rng, shape)
        g_min, g_max, span = d2d["g_min"], d2d["g_max"], d2d["g_max"] - d2d["g_min"]
        g_star = self.symmetry_uS()
        x_ref = np.clip((g_star - g_min) / span, 0.0, 1.0)
        d2d["noise_up"] = d2d["step_up"] * (1.0 - x_ref)
        d2d["noise_down"] = d2d["step_down"] * x_ref
        z_ref = rng.standard_normal(shape)
        u_corrupt = rng.random((2, *shape))
        shift = -p.reference_dtod_uS * z_ref
        if p.subtract_symmetry_point:
            total = d2d["step_up"] + d2d["step_down"]
            ratio = np.divide(d2d["step_up"], total, out=np.full(shape, 0.5), where=total > 0)
            own = g_min + span * ratio
            inside = (g_min < g_star) & (g_star < g_max)
            shift = shift + np.where(inside, g_star - own, 0.0)
        corrupt = u_corrupt[0] < p.stuck_corrupt_fraction
        low = np.maximum(g_min, g_star - p.stuck_corrupt_range_uS)
        high = np.minimum(g_max, g_star + p.stuck_corrupt_range_uS)
        value = low + (high - low) * u_corrupt[1] - p.reference_dtod_uS * z_ref
        d2d["g_min"] = np.where(corrupt, value, g_min + shift)
        d2d["g_max"] = np.where(corrupt, value, g_max + shift)
        d2d["stuck"] = np.where(corrupt, STUCK_MIN, d2d["stuck"]).astype(np.int8)
        return d2d

    def additive_scale(self, up: np.ndarray, d2d: dict[str, np.ndarray]) -> np.ndarray:
        """The device's step at the nominal symmetry point (drawn in :meth:`sample`)."""
        return np.where(up, d2d["noise_up"], d2d["noise_down"])

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
