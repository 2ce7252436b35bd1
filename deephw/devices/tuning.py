"""Closed-loop tuning (write-verify): of the difference of a device pair, and of single
devices to their own targets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from deephw.devices import draws
from deephw.devices.array import MAX_TRAIN

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


@dataclass
class TuneResult:
    """Outcome of :func:`tune_devices`, one entry per device.

    Attributes
    ----------
    iterations
        Verify reads made (at least 1).
    within
        Whether the last verify read was within tolerance.
    read_uS
        The last verify read (µS, through the periphery).
    """

    iterations: np.ndarray
    within: np.ndarray
    read_uS: np.ndarray


def tune_devices(
    device: DeviceArray,
    idx: np.ndarray,
    target_uS: np.ndarray,
    tolerance_uS: np.ndarray | float,
    max_iterations: np.ndarray | int,
    t: float,
    rng: draws.RNG,
    periphery: Periphery,
    write_first: np.ndarray | bool = True,
) -> TuneResult:
    """Closed-loop write-verify of the single devices ``idx`` to ``target_uS``.

    The devices with ``write_first`` are first written to their target (the model's
    programming noise; counted as the nominal pulses the write travels, see
    :meth:`DeviceArray.write`); the others (e.g. targets at their current state) are
    only verified. Then each iteration reads the devices still to do through the
    periphery (output noise, ADC); a device whose read is within its tolerance is done.
    The others are corrected:

    - not written yet: one write to the target;
    - bidirectional device: ``n = max(1, round(|error| / step))`` pulses toward the
      target (``step``: the model's nominal step);
    - device that only SETs gradually: ``n`` SET pulses when below the target; above it,
      a RESET and a new write.

    A device stops after ``max_iterations`` verify reads (its own, if an array). Stuck
    devices receive their pulses without changing, and end outside tolerance unless
    they happen to sit near the target.
    """
    idx = np.asarray(idx)
    n = idx.size
    target = np.broadcast_to(np.asarray(target_uS, dtype=float), (n,))
    tolerance = np.broadcast_to(np.asarray(tolerance_uS, dtype=float), (n,))
    limit = np.broadcast_to(np.asarray(max_iterations, dtype=np.int64), (n,))
    iterations = np.zeros(n, dtype=np.int64)
    within = np.zeros(n, dtype=bool)
    last = np.zeros(n)
    written = np.broadcast_to(np.asarray(write_first, dtype=bool), (n,)).copy()
    model = device.model
    step = model.nominal_step_uS()
    device.write(idx[written], target[written], t, rng)
    todo = np.arange(n)
    for _ in range(int(limit.max(initial=0))):
        if not todo.size:
            break
        value = digital_read(device, idx[todo], t, rng, periphery)
        iterations[todo] += 1
        last[todo] = value
        error = target[todo] - value
        ok = np.abs(error) <= tolerance[todo]
        within[todo[ok]] = True
        keep = ~ok & (iterations[todo] < limit[todo])
        todo, error = todo[keep], error[keep]
        fresh = ~written[todo]
        rewrite = fresh | ((not model.bidirectional) & (error < 0))
        again = todo[rewrite]
        device.write(idx[again], target[again], t, rng)
        written[again] = True
        move, error = todo[~rewrite], error[~rewrite]
        pulses = np.clip(np.rint(np.abs(error) / step), 1, MAX_TRAIN).astype(np.int64)
        device.pulse(idx[move], pulses, error > 0, t, rng)
    return TuneResult(iterations, within, last)
