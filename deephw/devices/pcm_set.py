"""Gradual SET of a PCM device: IBM aihwkit's exponential-step model and its noise.

With ``x = (g - g_min) / (g_max - g_min)`` per device, one SET pulse moves the
conductance by::

    delta(x) = s_dev ((1 - f) exp(-gamma x) + f)
    g <- clip(g + delta + c (|delta| + a + h |g|) xi, g_min, g_max)

(``s_dev``: the device's first step, ``set_step_uS`` with the relative spread
``set_step_dtod``; ``f``: ``set_floor_fraction``; ``c``, ``a``, ``h``: ``set_c2c``,
``set_c2c_add_uS``, ``set_c2c_slope``; ``xi`` standard normal). The noise is added to
the step, so a SET pulse may lower the conductance, as in the source.

This is aihwkit's ``ExpStepDevice`` with its "complex" cycle-to-cycle noise
(``update_once_complex_noise`` in ``rpu_expstep_device.cpp``): there, in weight units
``w`` in ``[0, w_max_dev]`` with ``a = -1``, ``b = 0``, an up step is
``dw_min (1 - A_up exp(-2 gamma_up w / w_max_dev))`` and its noise
``dw_min_std (|dw| + dw_min_std_add + dw_min_std_slope |w|)``. Hence, with ``u`` µS
per weight unit: ``s = u dw_min (1 - A_up)``, ``f = 1 / (1 - A_up)``,
``gamma = 2 gamma_up``, ``c = dw_min_std``, ``a = u dw_min_std_add``,
``h = dw_min_std_slope``. With ``f = 0`` and no ``a``, ``h`` the step is a plain
exponential decay with noise relative to the step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from deephw.devices import bulk

if TYPE_CHECKING:
    from deephw.devices.pcm import PcmParams


def mean_step(p: PcmParams, x: np.ndarray, first: np.ndarray | float) -> np.ndarray:
    """Noise-free SET step (µS) at normalised state ``x`` of devices whose first step is
    ``first`` (µS)."""
    f = p.set_floor_fraction
    return first * ((1.0 - f) * np.exp(-p.set_gamma * x) + f)


def step_sigma(p: PcmParams, delta: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Standard deviation (µS) of the cycle-to-cycle noise of a step ``delta`` from ``g``."""
    return p.set_c2c * (np.abs(delta) + p.set_c2c_add_uS + p.set_c2c_slope * np.abs(g))


def set_pulse(
    p: PcmParams, g: np.ndarray, d2d: dict[str, np.ndarray], noise: np.ndarray | None
) -> np.ndarray:
    """Conductance after one SET pulse, before clipping; ``noise`` standard normal or
    None (no cycle-to-cycle noise)."""
    x = (g - d2d["g_min"]) / (d2d["g_max"] - d2d["g_min"])
    delta = mean_step(p, x, d2d["set_step"])
    if noise is None:
        return g + delta
    return g + delta + step_sigma(p, delta, g) * noise


def set_pulses(
    p: PcmParams,
    g: np.ndarray,
    n: np.ndarray,
    d2d: dict[str, np.ndarray],
    normal: Callable[[], np.ndarray] | None,
) -> np.ndarray:
    """Conductance after ``n`` SET pulses, before clipping, by
    :func:`bulk.floored_exponential` (noise in range units: relative ``c``, constant
    ``c (a + h g_min)``, growing with ``x`` as ``c h``)."""
    g_min = d2d["g_min"]
    span = d2d["g_max"] - g_min
    x = (g - g_min) / span
    z = None if normal is None else normal()
    c = p.set_c2c
    noise = (
        c,
        c * (p.set_c2c_add_uS + p.set_c2c_slope * np.abs(g_min)) / span,
        c * p.set_c2c_slope,
    )
    x_n = bulk.floored_exponential(
        x, n, d2d["set_step"] / span, p.set_gamma, p.set_floor_fraction, z, noise
    )
    return g_min + span * x_n


def sweep_pulses(p: PcmParams) -> float:
    """Nominal SET pulses that take a nominal device from ``g_min`` to ``g_max`` (along
    the mean path of the continuous limit)."""
    a = p.set_step_uS / p.range_uS
    return float(bulk.floored_exponential_pulses(1.0, a, p.set_gamma, p.set_floor_fraction))
