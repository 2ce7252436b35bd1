"""Measured device: steps looked up in a table of conductance (piecewise linear)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from deephw.devices import bulk
from deephw.devices.base import (
    DeviceModel,
    DeviceParams,
    Problem,
    noise_problem,
    register_device,
    span_problem,
)
from deephw.validation import check, zeros_like

TABLE_FIELDS = ("up_mean_uS", "down_mean_uS", "up_c2c_uS", "down_c2c_uS")


@dataclass(frozen=True)
class LookupParams(DeviceParams):
    """A table of the mean and the cycle-to-cycle standard deviation (absolute, µS) of
    the conductance change of one up and one down pulse, at conductances ``grid_uS``
    (increasing). ``step_dtod`` is the relative spread of a device's step scale."""

    grid_uS: tuple[float, ...] = field(
        default=(), metadata=check(unit="uS", doc="conductances of the table's rows")
    )
    up_mean_uS: tuple[float, ...] = field(
        default=(), metadata=check(unit="uS", group="step size", doc="mean change of an up pulse")
    )
    down_mean_uS: tuple[float, ...] = field(
        default=(), metadata=check(unit="uS", group="step size", doc="mean change of a down pulse")
    )
    up_c2c_uS: tuple[float, ...] = field(
        default=(),
        metadata=check(
            unit="uS", group="c2c", ideal=zeros_like, doc="cycle-to-cycle spread of an up pulse"
        ),
    )
    down_c2c_uS: tuple[float, ...] = field(
        default=(),
        metadata=check(
            unit="uS", group="c2c", ideal=zeros_like, doc="cycle-to-cycle spread of a down pulse"
        ),
    )
    step_dtod: float = field(
        default=0.0,
        metadata=check(
            ge=0,
            unit="relative to the step",
            group="d2d",
            ideal=0.0,
            doc="device-to-device spread of the step scale",
        ),
    )
    write_noise_uS: float = field(
        default=0.0,
        metadata=check(
            ge=0,
            unit="uS",
            group="programming noise",
            ideal=0.0,
            doc="standard deviation of a write-verify's result",
        ),
    )

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
        if found:
            return found
        for name in ("up_mean_uS", "down_mean_uS"):
            step = float(np.mean(np.abs(getattr(self, name))))
            found += span_problem(name, list(getattr(self, name)), step, self.range_uS)
        for name in ("up_c2c_uS", "down_c2c_uS"):
            values = getattr(self, name)
            found += noise_problem(name, list(values), max(values), self.range_uS, derived=True)
        if self.step_dtod > 1:
            found.append(("step_dtod", self.step_dtod, "relative spread over 100 %"))
        found += noise_problem(
            "write_noise_uS", self.write_noise_uS, self.write_noise_uS, self.range_uS
        )
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

    def pulses(
        self,
        g: np.ndarray,
        up: np.ndarray,
        n: np.ndarray,
        d2d: dict[str, np.ndarray],
        normal: Callable[[], np.ndarray] | None,
    ) -> np.ndarray:
        """Segment by segment of the table, where the mean step is affine in ``g``.

        Each chunk applies, by :func:`bulk.affine`, the pulses that bring a device's
        mean path to the end of its segment (all that remain when it converges inside
        it), with the cycle-to-cycle spread at the chunk's start as additive noise. A
        monotone path crosses each segment once; after ``2 * len(grid_uS) + 8`` chunks
        (a path that hovers at a segment's end) the rest is applied in one chunk.
        """
        p = self.params
        grid = np.asarray(p.grid_uS, dtype=float)
        mean = np.where(up[:, None], [p.up_mean_uS], [p.down_mean_uS])
        scale = d2d["step_scale"]
        rows = np.arange(g.size)
        left = np.concatenate([[-np.inf], grid])
        right = np.concatenate([grid, [np.inf]])
        remaining = np.asarray(n, dtype=float).copy()
        for chunk in range(2 * grid.size + 9):
            if not (remaining > 0).any():
                break
            seg = np.searchsorted(grid, g, side="right")  # 0: below the grid
            inner = np.clip(seg, 1, grid.size - 1)
            width = grid[inner] - grid[inner - 1]
            slope = (mean[rows, inner] - mean[rows, inner - 1]) / width
            slope = np.where((seg == 0) | (seg == grid.size), 0.0, slope)
            at = mean[rows, np.clip(seg - 1, 0, grid.size - 1)]
            at_left = np.where(seg == 0, mean[:, 0], at)
            beta = scale * slope
            alpha = scale * at_left - beta * np.where(seg == 0, 0.0, left[seg])
            step_now = alpha + beta * g
            target = np.where(step_now > 0, right[seg], left[seg])
            count = remaining
            if chunk < 2 * grid.size + 8:
                count = np.minimum(remaining, _pulses_to(g, target, alpha, beta))
            z = None if normal is None else normal()
            sigma = None
            if z is not None:
                up_c2c, down_c2c = (np.interp(g, grid, s) for s in (p.up_c2c_uS, p.down_c2c_uS))
                sigma = scale * np.where(up, up_c2c, down_c2c)
            moved = bulk.affine(g, count, alpha, beta, z, additive=sigma)
            g = np.clip(moved, d2d["g_min"], d2d["g_max"])
            remaining = remaining - count
        return g

    def write_sigma(self, target: np.ndarray, d2d: dict[str, np.ndarray]) -> np.ndarray | float:
        return self.params.write_noise_uS

    def nominal_step_uS(self) -> float:
        """Mean over the table of the up and down step magnitudes."""
        p = self.params
        return float((np.mean(np.abs(p.up_mean_uS)) + np.mean(np.abs(p.down_mean_uS))) / 2)


def _pulses_to(
    g: np.ndarray, target: np.ndarray, alpha: np.ndarray, beta: np.ndarray
) -> np.ndarray:
    """Pulses (at least 1) until the noise-free affine path from ``g`` passes ``target``;
    inf when it never does."""
    step = alpha + beta * g
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        linear = (target - g) / step
        distance = g + alpha / np.where(beta == 0, 1.0, beta)
        ratio = np.log1p((target - g) / distance) / np.log1p(np.maximum(beta, -1 + 1e-15))
    t = np.where(beta == 0, linear, ratio)
    t = np.where(np.isfinite(t) & (t >= 0) & (step != 0), t, np.inf)
    return np.maximum(np.ceil(t), 1.0)
