"""Shared card fields and sampling of bidirectional pulsed devices.

A pulsed device moves by a step per pulse. Its nominal step is ``step_uS`` (or the range
divided into ``levels - 1`` steps). Each device draws its own step scale and up/down
asymmetry once per chip::

    step_dev  = step_uS * (1 + step_dtod * z1)            (relative spread)
    ud_dev    = up_down + up_down_dtod * z2               (absolute spread)
    step_up   = step_dev * (1 + ud_dev),  step_down = step_dev * (1 - ud_dev)

(with ``step_dtod_log_normal``: ``step_dev = step_uS exp(step_dtod z1)``, IBM aihwkit's
``dw_min_dtod_log_normal``), and each pulse multiplies its (state-dependent) step by
``(1 + step_c2c * xi)`` with ``xi`` standard normal (cycle-to-cycle, relative to the
step). With ``c2c_additive`` the noise is instead added, ``+ step_c2c * s * xi``
whatever the state, ``s`` the model's reference step of the pulse's direction
(:meth:`PulsedModel.additive_scale`). A write-verify to a target lands within
``write_noise_uS`` (absolute standard deviation).

``update_write_noise_uS`` is aihwkit's write noise (``write_noise_std`` times
``dw_min``): the device keeps a hidden conductance that pulses and writes change, and
every read sees it plus a noise drawn afresh each time the device is updated (a pulse
train, a write) and kept until the next update (see
:class:`deephw.devices.array.DeviceArray`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from deephw.devices import bulk
from deephw.devices.base import DeviceModel, DeviceParams, Problem, noise_problem, span_problem
from deephw.validation import check


@dataclass(frozen=True)
class PulsedParams(DeviceParams):
    """Card fields of a bidirectional pulsed device (see the module docstring)."""

    step_uS: float | None = field(
        default=None,
        metadata=check(gt=0, unit="uS", group="step size", doc="nominal conductance step"),
    )
    levels: int | None = field(
        default=None,
        metadata=check(
            ge=2, unit="levels", group="step size", doc="the range in levels (overrides step_uS)"
        ),
    )
    step_dtod: float = field(
        default=0.0,
        metadata=check(
            ge=0,
            unit="relative to the step",
            group="d2d",
            ideal=0.0,
            doc="device-to-device spread of the step",
        ),
    )
    up_down: float = field(
        default=0.0,
        metadata=check(
            gt=-1,
            lt=1,
            unit="relative to the step",
            group="nonlinearity",
            ideal=0.0,
            doc="up/down step asymmetry: steps (1 + up_down) up and (1 - up_down) down",
        ),
    )
    up_down_dtod: float = field(
        default=0.0,
        metadata=check(
            ge=0,
            unit="absolute, of up_down",
            group="d2d",
            ideal=0.0,
            doc="device-to-device spread of the up/down asymmetry",
        ),
    )
    step_c2c: float = field(
        default=0.0,
        metadata=check(
            ge=0,
            unit="relative to the step",
            group="c2c",
            ideal=0.0,
            doc="cycle-to-cycle noise of each pulse",
        ),
    )
    c2c_additive: bool = field(
        default=False,
        metadata=check(
            unit="", group="c2c", doc="c2c noise added at the step's size, whatever the state"
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
    step_dtod_log_normal: bool = field(
        default=False,
        metadata=check(
            unit="",
            group="d2d",
            doc="the step's d2d spread is log-normal (aihwkit: dw_min_dtod_log_normal)",
        ),
    )
    update_write_noise_uS: float = field(
        default=0.0,
        metadata=check(
            ge=0,
            unit="uS",
            group="programming noise",
            ideal=0.0,
            doc="noise on the apparent conductance, drawn afresh at every update "
            "(aihwkit: write_noise_std x dw_min)",
        ),
    )

    @property
    def nominal_step(self) -> float:
        """The nominal step in µS: ``step_uS``, or the range over ``levels - 1``."""
        if self.levels is not None:
            return self.range_uS / (self.levels - 1)
        return self.step_uS

    def problems(self) -> list[Problem]:
        found = super().problems()
        if (self.step_uS is None) == (self.levels is None):
            found.append(("step_uS", self.step_uS, "give exactly one of step_uS and levels"))
            return found
        if found:
            return found
        name = "levels" if self.levels is not None else "step_uS"
        value = self.levels if self.levels is not None else self.step_uS
        found += span_problem(name, value, self.nominal_step, self.range_uS)
        for spread in ("step_dtod", "up_down_dtod"):
            if getattr(self, spread) > 1:
                found.append((spread, getattr(self, spread), "relative spread over 100 %"))
        sigma = self.step_c2c * self.nominal_step
        found += noise_problem("step_c2c", self.step_c2c, sigma, self.range_uS, derived=True)
        for name in ("write_noise_uS", "update_write_noise_uS"):
            found += noise_problem(name, getattr(self, name), getattr(self, name), self.range_uS)
        return found


class PulsedModel(DeviceModel):
    """Base of bidirectional pulsed models: samples ``step_up`` and ``step_down``."""

    params_type = PulsedParams

    def sample_model(self, rng: np.random.Generator, shape: tuple[int, ...]) -> dict:
        p = self.params
        z = rng.standard_normal((2, *shape))
        if p.step_dtod_log_normal:
            step = p.nominal_step * np.exp(p.step_dtod * z[0])
        else:
            step = np.maximum(p.nominal_step * (1.0 + p.step_dtod * z[0]), 0.0)
        up_down = p.up_down + p.up_down_dtod * z[1]
        return {
            "step_up": step * np.maximum(1.0 + up_down, 0.0),
            "step_down": step * np.maximum(1.0 - up_down, 0.0),
        }

    def step_noise(self) -> bool:
        return self.params.step_c2c > 0

    def signed_step(
        self,
        up: np.ndarray,
        scale_up: np.ndarray | float,
        scale_down: np.ndarray | float,
        d2d: dict[str, np.ndarray],
        noise: np.ndarray | None,
    ) -> np.ndarray:
        """``+step_up * scale_up`` or ``-step_down * scale_down`` with c2c noise."""
        base = np.where(up, d2d["step_up"], -d2d["step_down"])
        size = base * np.where(up, scale_up, scale_down)
        if noise is None:
            return size
        if self.params.c2c_additive:
            return size + self.additive_scale(up, d2d) * self.params.step_c2c * noise
        return size * (1.0 + self.params.step_c2c * noise)

    def additive_scale(self, up: np.ndarray, d2d: dict[str, np.ndarray]) -> np.ndarray:
        """The step (µS) that scales additive cycle-to-cycle noise: ``step_up`` for up
        pulses, ``step_down`` for down pulses."""
        return np.where(up, d2d["step_up"], d2d["step_down"])

    def affine_step(
        self, up: np.ndarray, d2d: dict[str, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """``(alpha, beta)`` of a noise-free signed step ``alpha + beta g`` (µS), or None
        when the step is not affine in ``g``."""
        return None

    def additive_sigma(self, up: np.ndarray, d2d: dict[str, np.ndarray]) -> np.ndarray | None:
        """Standard deviation (µS) of additive cycle-to-cycle noise per pulse, or None
        when the noise multiplies the step."""
        if not self.params.c2c_additive:
            return None
        return self.additive_scale(up, d2d) * self.params.step_c2c

    def pulses(
        self,
        g: np.ndarray,
        up: np.ndarray,
        n: np.ndarray,
        d2d: dict[str, np.ndarray],
        normal: Callable[[], np.ndarray] | None,
    ) -> np.ndarray:
        coefficients = self.affine_step(up, d2d)
        if coefficients is None:
            raise NotImplementedError
        alpha, beta = coefficients
        z = None if normal is None else normal()
        additive = self.additive_sigma(up, d2d)
        return bulk.affine(g, n, alpha, beta, z, self.params.step_c2c, additive)

    def write_sigma(self, target: np.ndarray, d2d: dict[str, np.ndarray]) -> float:
        return self.params.write_noise_uS

    def update_noise_uS(self) -> float:
        return self.params.update_write_noise_uS

    def nominal_step_uS(self) -> float:
        return self.params.nominal_step
