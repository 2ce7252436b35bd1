"""Closed-loop tuning (write-verify) of the difference of a device pair."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from deephw.devices import draws

if TYPE_CHECKING:
    from deephw.devices.array import DeviceArray
    from deephw.devices.cells import PairCell
    from deephw.devices.periphery import Periphery


def digital_read(
    device: DeviceArray, idx: np.ndarray, t: float, rng: draws.RNG, periphery: Periphery
) -> np.ndarray:
    """Read devices ``idx`` (µS) through the periphery (output noise and ADC)."""
    value = device.read(t, rng, idx)
    return periphery.digital_read(value, rng, device.chips(idx), device.shape[0])


def tune_pair(
    cell: PairCell,
    idx: np.ndarray,
    target_uS: np.ndarray,
    t: float,
    rng: draws.RNG,
    periphery: Periphery,
) -> np.ndarray:
    """Bring ``G+ - G-`` of cells ``idx`` to ``target_uS`` by SET pulses and verify reads.

    Each iteration reads both devices through the ADC; cells within the card's
    ``tune_tolerance_uS`` are done; the others get one SET pulse on G+ (difference too
    low) or G- (too high). A cell whose side to raise has reached the refresh level is
    refreshed instead: both devices are RESET and the loop reprograms the difference.
    Stops after ``tune_max_iterations`` iterations.

    Returns
    -------
    numpy.ndarray
        ``(S,)`` number of cells refreshed on each chip.
    """
    plus, minus = cell.devices["G+"], cell.devices["G-"]
    spec = cell.spec
    refreshed = np.zeros(plus.shape[0], dtype=np.int64)
    idx, target = np.asarray(idx), np.asarray(target_uS, dtype=float)
    for _ in range(spec.tune_max_iterations):
        if not idx.size:
            break
        g_plus = digital_read(plus, idx, t, rng, periphery)
        g_minus = digital_read(minus, idx, t, rng, periphery)
        error = target - (g_plus - g_minus)
        todo = np.abs(error) > spec.tune_tolerance_uS
        idx, target, error = idx[todo], target[todo], error[todo]
        g_plus, g_minus = g_plus[todo], g_minus[todo]
        raise_plus = error > 0
        side = np.where(raise_plus, g_plus, g_minus)
        full = side >= cell.refresh_level_uS
        if full.any():
            stale = idx[full]
            plus.reset(stale, t)
            minus.reset(stale, t)
            refreshed += np.bincount(plus.chips(stale), minlength=plus.shape[0])
        ones = np.ones(idx.size, dtype=np.int64)
        go = ~full
        plus.pulse(idx[go & raise_plus], ones[go & raise_plus], ones[go & raise_plus] > 0, t, rng)
        go_minus = go & ~raise_plus
        minus.pulse(idx[go_minus], ones[go_minus], ones[go_minus] > 0, t, rng)
    return refreshed
