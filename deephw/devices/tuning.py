"""Closed-loop tuning (write-verify) of single devices to their own targets, and the
periphery read it verifies with (a pair's difference is tuned by its cell,
:func:`deephw.devices.cells.tune_pair`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from deephw.devices import draws
from deephw.devices.array import MAX_TRAIN

if TYPE_CHECKING:
    from deephw.devices.array import DeviceArray
    from deephw.devices.periphery import Periphery


def digital_read(
    device: DeviceArray, idx: np.ndarray, t: float, rng: draws.RNG, periphery: Periphery
) -> np.ndarray:
    """Read devices ``idx`` (µS) as every digital read is made: the device's read noise
    at ``t``, then the periphery's output noise and ADC, ranged to the device's role
    (:meth:`~deephw.devices.periphery.Periphery.device_full_scale_uS`)."""
    value = device.read(t, rng, idx)
    full = periphery.device_full_scale_uS(device.model.params)
    return periphery.digital_read(value, rng, device.chips(idx), device.shape[0], full)


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
    only verified. Then each iteration reads the devices still to do by
    :func:`digital_read`, the read path of every other read (device read noise, output
    noise, ADC ranged to the device); a device whose read is within its tolerance is
    done. So is a device whose target lies within its tolerance of its nominal lower
    bound and whose read is below the target: nothing but read noise lies below the
    bound. The others are corrected:

    - not written yet: one write to the target;
    - bidirectional device: ``n = max(1, round(|error| / step))`` pulses toward the
      target (``step``: the model's nominal step);
    - device that only SETs gradually: ``n`` SET pulses when below the target; above it,
      a RESET and a new write.

    A device stops after ``max_iterations`` verify reads (its own, if an array). Stuck
    devices receive their pulses without changing, and end outside tolerance unless
    they happen to sit near the target.

    What the loop leaves. The reads decide the iterations, pulses and failures, but a
    read cannot tell the device's state better than its own noise: a loop that stops on
    a read within tolerance leaves the device off target by about the read noise, and
    a selection on noisy reads tells nothing finer. For a model whose programming noise
    is the *measured* outcome of iterative write-verify
    (:attr:`~deephw.devices.base.DeviceModel.measured_programming`, PCM's
    ``sigma_prog(q)``, measured after programming with reads that carry the same 1/f
    noise), that measurement is the honest answer, as in aihwkit, where the programming
    noise is applied to the final state: a device the loop programmed and that ends
    within tolerance is left at ``target + sigma_prog(q) xi`` (:func:`place_verified`,
    nothing more counted; with a zero spread, as on a noise-free card, the device stays
    where the loop left it). A tighter tolerance then costs
    reads and pulses but does not place devices closer than the measurement; a failed
    device stays where the loop left it. Other models end where the loop's own
    physics (their write noise, pulse steps and the noisy reads) leaves them.
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
    programmed = written.copy()
    model = device.model
    step = model.nominal_step_uS()
    floor = model.params.g_min_uS if model.params.bounded else -np.inf
    at_floor = target - tolerance <= floor
    device.write(idx[written], target[written], t, rng)
    todo = np.arange(n)
    for _ in range(int(limit.max(initial=0))):
        if not todo.size:
            break
        value = digital_read(device, idx[todo], t, rng, periphery)
        iterations[todo] += 1
        last[todo] = value
        error = target[todo] - value
        ok = (np.abs(error) <= tolerance[todo]) | (at_floor[todo] & (error >= 0))
        within[todo[ok]] = True
        keep = ~ok & (iterations[todo] < limit[todo])
        todo, error = todo[keep], error[keep]
        programmed[todo] = True
        fresh = ~written[todo]
        rewrite = fresh | ((not model.bidirectional) & (error < 0))
        again = todo[rewrite]
        device.write(idx[again], target[again], t, rng)
        written[again] = True
        move, error = todo[~rewrite], error[~rewrite]
        pulses = np.clip(np.rint(np.abs(error) / step), 1, MAX_TRAIN).astype(np.int64)
        device.pulse(idx[move], pulses, error > 0, t, rng)
    done = np.flatnonzero(within & programmed)
    place_verified(device, idx[done], target[done], rng)
    return TuneResult(iterations, within, last)


def place_verified(
    device: DeviceArray, idx: np.ndarray, target_uS: np.ndarray, rng: draws.RNG
) -> None:
    """Leave devices ``idx``, which a verify loop programmed and read within tolerance
    of ``target_uS``, where the measured outcome of that loop leaves them.

    For a model whose programming noise is the measured result of iterative
    write-verify (:attr:`~deephw.devices.base.DeviceModel.measured_programming`), the
    devices are placed at ``target + write_sigma(target) xi``
    (:meth:`DeviceArray.place`; nothing is counted: the loop counted its pulses and
    reads). Devices whose measured spread is zero (noise switched off, as on a
    noise-free card) keep where the loop left them, as do devices of other models.
    Used by :func:`tune_devices` and :func:`deephw.devices.cells.tune_pair`, so that
    single devices and pairs are programmed by one model.
    """
    model = device.model
    if not model.measured_programming or not idx.size:
        return
    target = np.asarray(target_uS, dtype=float)
    sigma = np.broadcast_to(model.write_sigma(target, device.params_at(idx)), idx.shape)
    spread = sigma > 0
    device.place(idx[spread], target[spread], rng)
