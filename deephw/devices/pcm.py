"""Phase-change memory: gradual SET, abrupt RESET, programming noise, drift, 1/f noise."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from deephw.devices import pcm_set
from deephw.devices.base import (
    DeviceModel,
    DeviceParams,
    Problem,
    noise_problem,
    register_device,
    span_problem,
)
from deephw.validation import check

Q_FLOOR = 1e-6
"""Smallest ``q = g / g_max`` used in the statistical formulas (they take ``ln q``)."""


@dataclass(frozen=True)
class PcmParams(DeviceParams):
    """Card fields of a PCM device.

    ``q = g / g_max_uS`` with the nominal ``g_max_uS``. Coefficient lists are polynomial
    (programming noise, lowest order first) or ``(a, b)`` of ``a ln q + b`` (drift).
    The SET fields are those of aihwkit's exponential-step device in conductance units
    (see :class:`PcmDevice`).
    """

    set_step_uS: float = field(
        default=0.5,
        metadata=check(
            gt=0,
            unit="uS",
            group="step size",
            doc="first gradual-SET step, at g_min (aihwkit: dw_min (1 - A_up))",
        ),
    )
    set_gamma: float = field(
        default=0.0,
        metadata=check(
            ge=0,
            unit="",
            group="nonlinearity",
            ideal=0.0,
            doc="decay of the SET step over the range (aihwkit: -2 a gamma_up)",
        ),
    )
    set_floor_fraction: float = field(
        default=0.0,
        metadata=check(
            ge=0,
            le=1,
            unit="of the first step",
            group="nonlinearity",
            doc="non-decaying part of the SET step (aihwkit: 1 / (1 - A_up))",
        ),
    )
    set_step_dtod: float = field(
        default=0.0,
        metadata=check(
            ge=0,
            unit="relative to the step",
            group="d2d",
            ideal=0.0,
            doc="device-to-device spread of the SET step (aihwkit: dw_min_dtod)",
        ),
    )
    set_c2c: float = field(
        default=0.0,
        metadata=check(
            ge=0,
            unit="relative to the step",
            group="c2c",
            ideal=0.0,
            doc="cycle-to-cycle noise of each SET pulse (aihwkit: dw_min_std)",
        ),
    )
    set_c2c_add_uS: float = field(
        default=0.0,
        metadata=check(
            ge=0,
            unit="uS",
            group="c2c",
            ideal=0.0,
            doc="additive term of the SET noise (aihwkit: dw_min_std_add)",
        ),
    )
    set_c2c_slope: float = field(
        default=0.0,
        metadata=check(
            ge=0,
            unit="per uS of g",
            group="c2c",
            ideal=0.0,
            doc="term of the SET noise growing with g (aihwkit: dw_min_std_slope)",
        ),
    )
    reset_uS: float | None = field(
        default=None,
        metadata=check(unit="uS", doc="RESET level; null: g_min (aihwkit: reset)"),
    )
    reset_dtod_uS: float = field(
        default=0.0,
        metadata=check(
            ge=0,
            unit="uS",
            group="d2d",
            ideal=0.0,
            doc="device-to-device spread of the RESET level (aihwkit: reset_dtod)",
        ),
    )
    prog_noise_poly_uS: tuple[float, ...] = field(
        default=(0.0,),
        metadata=check(
            unit="uS, polynomial in q",
            group="programming noise",
            ideal=(0.0,),
            doc="spread of a write-verify's result, polynomial in q (lowest order first)",
        ),
    )
    drift_t0_s: float = field(
        default=20.0,
        metadata=check(gt=0, unit="s", group="drift", doc="time after programming drift starts"),
    )
    drift_nu_mean: tuple[float, ...] = field(
        default=(0.0, 0.0),
        metadata=check(
            unit="(a, b) of a ln q + b",
            group="drift",
            ideal=(0.0, 0.0),
            doc="mean drift exponent nu",
        ),
    )
    drift_nu_mean_clip: tuple[float, ...] = field(
        default=(0.0, 1.0),
        metadata=check(
            unit="(low, high)",
            group="drift",
            ideal=(0.0, 0.0),
            doc="clip of the mean drift exponent",
        ),
    )
    drift_nu_std: tuple[float, ...] = field(
        default=(0.0, 0.0),
        metadata=check(
            unit="(a, b) of a ln q + b",
            group="drift",
            ideal=(0.0, 0.0),
            doc="device-to-device spread of the drift exponent",
        ),
    )
    drift_nu_std_clip: tuple[float, ...] = field(
        default=(0.0, 1.0),
        metadata=check(
            unit="(low, high)",
            group="drift",
            ideal=(0.0, 0.0),
            doc="clip of the drift exponent's spread",
        ),
    )
    read_noise_q_coeff: float = field(
        default=0.0,
        metadata=check(
            ge=0,
            unit="relative to g",
            group="read noise",
            ideal=0.0,
            doc="1/f read noise: Q = min(coeff / q^exponent, max)",
        ),
    )
    read_noise_q_exponent: float = field(
        default=0.0,
        metadata=check(ge=0, unit="", group="read noise", doc="exponent of q in the 1/f Q"),
    )
    read_noise_q_max: float = field(
        default=0.0,
        metadata=check(
            ge=0,
            le=1,
            unit="relative to g",
            group="read noise",
            ideal=0.0,
            doc="largest 1/f Q",
        ),
    )
    t_read_s: float = field(
        default=250e-9,
        metadata=check(gt=0, unit="s", group="read noise", doc="duration of a read (1/f band)"),
    )
    read_noise_t_min_s: float = field(
        default=20.0,
        metadata=check(
            ge=0,
            unit="s",
            group="read noise",
            doc=(
                "a read sooner after programming has the 1/f noise of this elapsed time "
                "(aihwkit's PCM noise model evaluates it at t + t0, t0 = 20 s)"
            ),
        ),
    )

    def problems(self) -> list[Problem]:
        found = super().problems()
        pairs = ("drift_nu_mean", "drift_nu_mean_clip", "drift_nu_std", "drift_nu_std_clip")
        for name in pairs:
            value = getattr(self, name)
            if len(value) != 2:
                found.append((name, list(value), "needs exactly two numbers"))
            elif name.endswith("clip") and value[0] > value[1]:
                found.append((name, list(value), "lower clip above upper"))
        if not self.prog_noise_poly_uS:
            found.append(("prog_noise_poly_uS", [], "needs at least one coefficient"))
        if found or not self.bounded:
            return found
        found += span_problem("set_step_uS", self.set_step_uS, self.set_step_uS, self.range_uS)
        if self.set_step_dtod > 1:
            found.append(("set_step_dtod", self.set_step_dtod, "relative spread over 100 %"))
        found += self.set_problems()
        q = np.linspace(0.0, 1.0, 101)
        sigma = np.polynomial.polynomial.polyval(q, self.prog_noise_poly_uS)
        worst = float(np.max(np.abs(sigma)))
        coefficients = list(self.prog_noise_poly_uS)
        found += noise_problem(
            "prog_noise_poly_uS", coefficients, worst, self.range_uS, derived=True
        )
        return found

    def set_problems(self) -> list[Problem]:
        """Problems of the SET noise (its worst case, a first step at ``g_max``) and of
        the RESET level."""
        worst = self.set_step_uS + self.set_c2c_add_uS + self.set_c2c_slope * abs(self.g_max_uS)
        sigma = self.set_c2c * worst
        found = noise_problem("set_c2c", self.set_c2c, sigma, self.range_uS, derived=True)
        found += noise_problem(
            "reset_dtod_uS", self.reset_dtod_uS, self.reset_dtod_uS, self.range_uS
        )
        reset = self.reset_uS
        if reset is not None and not self.g_min_uS <= reset <= self.g_max_uS:
            found.append(("reset_uS", reset, "must lie within [g_min_uS, g_max_uS]"))
        return found


@register_device("pcm")
class PcmDevice(DeviceModel):
    """A PCM device (statistical model of Nandakumar et al.).

    Gradual SET only, by IBM aihwkit's exponential-step model (Nandakumar et al. 2020;
    see :mod:`deephw.devices.pcm_set`); with ``x = (g - g_min) / (g_max - g_min)`` per
    device::

        SET:   delta = s_dev ((1 - f) exp(-gamma x) + f)
               g <- clip(g + delta + c2c (|delta| + add + slope |g|) xi, g_min, g_max)
        RESET: g <- clip(g_reset_dev, g_min, g_max)          (abrupt)

    with ``g_reset_dev = reset_uS + reset_dtod_uS z`` drawn once per device.

    Write-verify to a target ``g_T`` (``q = g_T / g_max``)::

        g = g_T + sigma_prog(q) xi,   sigma_prog = sum_k c_k q^k   (µS)

    Drift after programming at ``t_p`` to ``g_p``::

        g(t) = g_p (max(t - t_p, t0) / t0)^(-nu),
        nu = |nu_mean(q) + nu_std(q) z|,  nu_mean = clip(a ln q + b, lo, hi) (same for std)

    with ``z`` a standard normal drawn afresh at every programming (write or SET
    pulses), as aihwkit's ``PCMLikeNoiseModel.generate_drift_coefficients`` draws it for
    each programmed target. Read noise (1/f)::

        sigma_read = g(t) Q(q) sqrt(ln((max(t - t_p, t_min) + t_read) / (2 t_read))),
        Q = min(c / q^e, Q_max)

    (the log is floored at 0) plus the white ``read_noise_uS`` in quadrature. The
    statistics describe a device from ``t0`` after programming on: drift is referenced
    there and the programming noise was measured there. A read sooner, such as a verify
    read during write-verify, therefore sees the 1/f noise of ``t_min =
    read_noise_t_min_s`` (20 s on the shipped cards, aihwkit's ``t_inference + t0``), not
    the zero the formula gives at ``t - t_p = 0``.

    The programming noise ``sigma_prog`` is what iterative write-verify leaves
    (:attr:`measured_programming`): a verify loop whose reads carry this read noise and
    the periphery's output noise cannot place a device closer to its target, and the
    measured spread already contains that limit.
    """

    params_type = PcmParams
    bidirectional = False
    time_dependent = True
    measured_programming = True

    def sample_model(self, rng: np.random.Generator, shape: tuple[int, ...]) -> dict:
        p = self.params
        z = rng.standard_normal((2, *shape))
        out = {
            "set_step": np.maximum(p.set_step_uS * (1.0 + p.set_step_dtod * z[0]), 0.0),
            "nu_z": z[1],
        }
        out["g_reset"] = self.nominal_reset_uS() + p.reset_dtod_uS * rng.standard_normal(shape)
        return out

    def reset_value(self, d2d: dict[str, np.ndarray]) -> np.ndarray:
        return np.clip(d2d["g_reset"], d2d["g_min"], d2d["g_max"])

    def nominal_reset_uS(self) -> float:
        reset = self.params.reset_uS
        return super().nominal_reset_uS() if reset is None else float(reset)

    def program_draws(self) -> tuple[str, ...]:
        """``("nu_z",)`` when the drift exponent is random (a nonzero spread)."""
        coefficients, (lo, hi) = self.params.drift_nu_std, self.params.drift_nu_std_clip
        constant_zero = (lo == hi == 0) or (not any(coefficients) and lo <= 0 <= hi)
        return () if constant_zero else ("nu_z",)

    def q(self, g: np.ndarray) -> np.ndarray:
        """``g / g_max`` (nominal), floored at :data:`Q_FLOOR` and capped at 1."""
        return np.clip(g / self.params.g_max_uS, Q_FLOOR, 1.0)

    def step_noise(self) -> bool:
        return self.params.set_c2c > 0

    def step(
        self, g: np.ndarray, up: np.ndarray, d2d: dict[str, np.ndarray], noise: np.ndarray | None
    ) -> np.ndarray:
        return pcm_set.set_pulse(self.params, g, d2d, noise)

    def pulses(
        self,
        g: np.ndarray,
        up: np.ndarray,
        n: np.ndarray,
        d2d: dict[str, np.ndarray],
        normal: Callable[[], np.ndarray] | None,
    ) -> np.ndarray:
        """SET pulses by :func:`deephw.devices.pcm_set.set_pulses`."""
        return pcm_set.set_pulses(self.params, g, n, d2d, normal)

    def nu(self, g: np.ndarray, d2d: dict[str, np.ndarray]) -> np.ndarray:
        """Drift exponent ``|nu_mean + nu_std z|`` of each device programmed to ``g``."""
        p = self.params
        log_q = np.log(self.q(g))
        mean = np.clip(p.drift_nu_mean[0] * log_q + p.drift_nu_mean[1], *p.drift_nu_mean_clip)
        std = np.clip(p.drift_nu_std[0] * log_q + p.drift_nu_std[1], *p.drift_nu_std_clip)
        return np.abs(mean + std * d2d["nu_z"])

    def evolve(
        self, g: np.ndarray, elapsed_s: np.ndarray, d2d: dict[str, np.ndarray]
    ) -> np.ndarray:
        t0 = self.params.drift_t0_s
        return g * (np.maximum(elapsed_s, t0) / t0) ** (-self.nu(g, d2d))

    def read_sigma(
        self, g: np.ndarray, g_now: np.ndarray, elapsed_s: np.ndarray, d2d: dict[str, np.ndarray]
    ) -> np.ndarray | float:
        p = self.params
        q_factor = np.minimum(
            p.read_noise_q_coeff / self.q(g) ** p.read_noise_q_exponent, p.read_noise_q_max
        )
        elapsed_s = np.maximum(elapsed_s, p.read_noise_t_min_s)
        log_t = np.log((elapsed_s + p.t_read_s) / (2.0 * p.t_read_s))
        flicker = g_now * q_factor * np.sqrt(np.maximum(log_t, 0.0))
        return np.sqrt(flicker**2 + p.read_noise_uS**2)

    def write_sigma(self, target: np.ndarray, d2d: dict[str, np.ndarray]) -> np.ndarray | float:
        q = np.clip(target / self.params.g_max_uS, 0.0, 1.0)
        sigma = np.polynomial.polynomial.polyval(q, self.params.prog_noise_poly_uS)
        return np.maximum(sigma, 0.0)

    def nominal_step_uS(self) -> float:
        """The mean step of a SET sweep: the range over the nominal pulses that take a
        nominal device from ``g_min`` to ``g_max``."""
        return float(self.params.range_uS / pcm_set.sweep_pulses(self.params))
