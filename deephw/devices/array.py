"""The vectorised state of one device role (e.g. all G+ devices) of ``S`` chips.

Arrays have shape ``(S, N, N)``; operations take flat indices into them (sorted and
unique, so that the chip of index ``k`` is ``k // (N * N)``). Device-to-device parameters are
drawn per chip from ``default_rng([seed, *stream])``: the same seed always makes the
same chip, whatever else is simulated beside it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deephw.devices import draws
from deephw.devices.base import STUCK_MAX, STUCK_MIN, DeviceModel

EXACT_PULSES = 256
"""Pulse trains up to this long are applied one pulse at a time (bit for bit as always);
longer ones as their first and last :data:`EDGE_PULSES` pulses one at a time and the
middle at once, by the model's :meth:`~deephw.devices.base.DeviceModel.pulses`."""

EDGE_PULSES = EXACT_PULSES // 2
"""Pulses applied one at a time at each end of a long train: near a bound (a fresh
device at ``g_min``, a device driven into ``g_max``) every pulse is clipped, which the
closed forms do not model; these pulses put that behaviour back."""

MAX_COUNT = np.iinfo(np.int64).max
"""Counters saturate here instead of wrapping around."""

MAX_TRAIN = 2**62
"""The most pulses one operation applies to a device (far more than any bound needs:
cards span at most ``1e15`` nominal steps), so that counts fit in int64."""

COUNTERS = ("set", "reset", "reads")
"""Per-device event counters: potentiating pulses (SET), depressing or abrupt RESET
pulses (RESET), and reads."""


class DeviceArray:
    """Conductances, sampled parameters, faults and counters of one role's devices.

    Parameters
    ----------
    model
        The device model.
    present
        ``(S, N, N)`` bool: where a device exists. Elsewhere nothing is ever read,
        programmed or counted, and the conductance stays 0.
    seeds
        One seed per chip.
    stream
        Extra entropy words that separate this role's draws from other roles'.
    """

    def __init__(
        self,
        model: DeviceModel,
        present: np.ndarray,
        seeds: Sequence[int],
        stream: Sequence[int],
    ) -> None:
        self.model = model
        self.present = np.array(present, dtype=bool)
        self.shape = self.present.shape
        if len(seeds) != self.shape[0]:
            raise ValueError(f"{len(seeds)} seeds for {self.shape[0]} chips")
        chips = [
            model.sample(np.random.default_rng([int(s), *map(int, stream)]), self.shape[1:])
            for s in seeds
        ]
        self.d2d = {key: np.stack([chip[key] for chip in chips]) for key in chips[0]}
        code = self.d2d.pop("stuck")
        self.stuck = (code != 0) & self.present
        g = model.reset_value(self.d2d)
        g = np.where(code == STUCK_MIN, self.d2d["g_min"], g)
        g = np.where(code == STUCK_MAX, self.d2d["g_max"], g)
        self.g = np.where(self.present, g, 0.0)
        self.t_prog = np.zeros(self.shape)
        self.write_offset = np.zeros(self.shape) if model.update_noise_uS() > 0 else None
        """Apparent minus hidden conductance (µS) of devices with update write noise
        (None without): ``g`` is the hidden state that pulses move, reads see ``g``
        plus this offset, drawn afresh at every pulse train and write."""
        self.pulses = np.zeros(self.shape, dtype=np.int64)
        self.counts = {name: np.zeros(self.shape, dtype=np.int64) for name in COUNTERS}

    # -- helpers -------------------------------------------------------------------
    @property
    def per_chip(self) -> int:
        """Devices per chip, ``N * N``."""
        return self.shape[1] * self.shape[2]

    def chips(self, idx: np.ndarray) -> np.ndarray:
        """Chip of each flat index."""
        return idx // self.per_chip

    def params_at(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        """Per-device parameters of the devices at flat indices ``idx``."""
        return {key: value.reshape(-1)[idx] for key, value in self.d2d.items()}

    def indices(self, where: np.ndarray | None = None) -> np.ndarray:
        """Sorted flat indices of present devices (within ``where`` if given)."""
        sel = self.present if where is None else self.present & where
        return np.flatnonzero(sel)

    def _count(self, name: str, idx: np.ndarray, amount: np.ndarray | int = 1) -> None:
        _saturating_add(self.counts[name].reshape(-1), idx, amount)

    # -- time ----------------------------------------------------------------------
    def value(self, t: float, idx: np.ndarray) -> np.ndarray:
        """Conductance at chip time ``t`` of devices ``idx`` without read noise (a copy):
        the hidden state, evolved, plus any update write noise."""
        now = self.hidden_value(t, idx)
        if self.write_offset is None:
            return now
        return now + self.write_offset.reshape(-1)[idx]

    def hidden_value(self, t: float, idx: np.ndarray) -> np.ndarray:
        """The hidden (stored) conductance at chip time ``t`` of devices ``idx`` (a copy)."""
        g = self.g.reshape(-1)[idx]
        if not self.model.time_dependent:
            return g.copy()
        elapsed = t - self.t_prog.reshape(-1)[idx]
        now = self.model.evolve(g, elapsed, self.params_at(idx))
        return np.where(self.stuck.reshape(-1)[idx], g, now)

    def settle(self, t: float, idx: np.ndarray) -> None:
        """Fold the time evolution into the stored state before programming at ``t``."""
        if self.model.time_dependent:
            self.g.reshape(-1)[idx] = self.hidden_value(t, idx)
            self.t_prog.reshape(-1)[idx] = t

    def _redraw_write_noise(self, idx: np.ndarray, rng: draws.RNG | None) -> None:
        """New update write noise for the devices ``idx`` that are not stuck (none with
        ``rng`` None: the apparent conductance is the hidden one)."""
        if self.write_offset is None or not idx.size:
            return
        live = idx[~self.stuck.reshape(-1)[idx]]
        if rng is None:
            self.write_offset.reshape(-1)[live] = 0.0
            return
        noise = draws.normal_at(rng, self.chips(live), self.shape[0])
        self.write_offset.reshape(-1)[live] = self.model.update_noise_uS() * noise

    # -- operations ----------------------------------------------------------------
    def read(self, t: float, rng: draws.RNG, idx: np.ndarray) -> np.ndarray:
        """Noisy read (µS) at chip time ``t`` of devices ``idx``; counts one read each."""
        self._count("reads", idx)
        g_now = self.value(t, idx)
        if self.model.reads_exactly():
            return g_now
        elapsed = t - self.t_prog.reshape(-1)[idx]
        sigma = self.model.read_sigma(self.g.reshape(-1)[idx], g_now, elapsed, self.params_at(idx))
        if np.isscalar(sigma) and sigma == 0:
            return g_now
        return g_now + sigma * draws.normal_at(rng, self.chips(idx), self.shape[0])

    def pulse(
        self, idx: np.ndarray, counts: np.ndarray, up: np.ndarray, t: float, rng: draws.RNG
    ) -> None:
        """Apply ``counts`` pulses (``up``: potentiating) to devices ``idx`` at time ``t``.

        A stuck device receives (and counts) its pulses but does not change, and a
        device whose pulse count reaches its endurance budget becomes stuck. Trains of
        up to :data:`EXACT_PULSES` pulses are applied one pulse at a time; the middle of
        longer trains at once, so that the cost does not grow with the count. The
        model's :meth:`~deephw.devices.base.DeviceModel.program_draws` are drawn afresh.
        """
        keep = counts > 0
        idx, counts, up = idx[keep], np.asarray(counts)[keep], up[keep]
        if not idx.size:
            return
        if not self.model.bidirectional and not up.all():
            raise ValueError(f"device model {self.model.name!r} has no gradual depression")
        self.settle(t, idx)
        self._redraw(idx, rng)
        self._count("set", idx, np.where(up, counts, 0))
        self._count("reset", idx, np.where(up, 0, counts))
        long = counts > EXACT_PULSES
        if not long.any() or not self._has_bulk():
            self._pulse_one_by_one(idx, counts, up, rng)
        else:
            self._pulse_one_by_one(idx, np.where(long, EDGE_PULSES, counts), up, rng)
            self._pulse_at_once(idx[long], counts[long] - 2 * EDGE_PULSES, up[long], rng)
            self._pulse_one_by_one(idx[long], np.full(long.sum(), EDGE_PULSES), up[long], rng)
        self._redraw_write_noise(idx, rng)

    def _has_bulk(self) -> bool:
        return type(self.model).pulses is not DeviceModel.pulses

    def _pulse_one_by_one(
        self, idx: np.ndarray, counts: np.ndarray, up: np.ndarray, rng: draws.RNG
    ) -> None:
        g, stuck = self.g.reshape(-1), self.stuck.reshape(-1)
        for k in range(int(counts.max(initial=0))):
            active = counts > k
            sel, sel_up = idx[active], up[active]
            live = ~stuck[sel]
            sel_live = sel[live]
            noise = None
            if self.model.step_noise():
                noise = draws.normal_at(rng, self.chips(sel_live), self.shape[0])
            g[sel_live] = self.model.pulse(
                g[sel_live], sel_up[live], self.params_at(sel_live), noise
            )
            self._wear(sel, 1)

    def _pulse_at_once(
        self, idx: np.ndarray, counts: np.ndarray, up: np.ndarray, rng: draws.RNG
    ) -> None:
        g, stuck = self.g.reshape(-1), self.stuck.reshape(-1)
        live = ~stuck[idx]
        sel = idx[live]
        # a device changes until its pulse count reaches its endurance budget
        left = self.d2d["budget"].reshape(-1)[sel] - self.pulses.reshape(-1)[sel]
        n = np.minimum(counts[live], np.maximum(left, 1)).astype(float)
        normal = None
        if self.model.step_noise():
            chips = self.chips(sel)

            def normal() -> np.ndarray:
                return draws.normal_at(rng, chips, self.shape[0])

        params = self.params_at(sel)
        moved = self.model.pulses(g[sel], up[live], n, params, normal)
        g[sel] = np.clip(moved, params["g_min"], params["g_max"])
        self._wear(idx, counts)

    def reset(self, idx: np.ndarray, t: float) -> None:
        """Abrupt RESET of devices ``idx`` to their reset value (stuck ones stay)."""
        if not idx.size:
            return
        live = idx[~self.stuck.reshape(-1)[idx]]
        self.g.reshape(-1)[live] = self.model.reset_value(self.params_at(live))
        self.t_prog.reshape(-1)[live] = t
        self._redraw_write_noise(live, None)
        self._count("reset", idx)
        self._wear(idx, 1)

    def write(self, idx: np.ndarray, target: np.ndarray, t: float, rng: draws.RNG) -> None:
        """Write-verify devices ``idx`` to ``target`` (µS), with the model's write noise.

        A unidirectional device is RESET first when the target lies below its current
        conductance; the SET / RESET counters and the endurance count receive the
        number of nominal steps the write travels (at least one pulse per device). The
        model's :meth:`~deephw.devices.base.DeviceModel.program_draws` are drawn afresh.
        """
        if not idx.size:
            return
        self.settle(t, idx)
        self._redraw(idx, rng)
        g = self.g.reshape(-1)
        before = g[idx]
        params = self.params_at(idx)
        step = self.model.nominal_step_uS()
        if self.model.bidirectional:
            start = before
            n_reset = np.where(target < before, np.ceil(np.abs(target - before) / step), 0)
        else:
            down = target < before
            start = np.where(down, self.model.reset_value(params), before)
            n_reset = down.astype(np.int64)
        n_set = np.minimum(np.ceil(np.maximum(target - start, 0.0) / step), MAX_TRAIN)
        n_set = np.where((n_set == 0) & (n_reset == 0), 1, n_set).astype(np.int64)
        n_reset = np.minimum(n_reset, MAX_TRAIN).astype(np.int64)
        self._land(idx, target, params, rng)
        self.t_prog.reshape(-1)[idx] = t
        self._count("set", idx, n_set)
        self._count("reset", idx, n_reset)
        self._wear(idx, n_set + n_reset)

    def place(self, idx: np.ndarray, target: np.ndarray, rng: draws.RNG) -> None:
        """Leave devices ``idx`` where a successful write-verify to ``target`` (µS) ends:
        the target plus the model's write noise, within bounds (stuck ones stay).

        Nothing is counted and the programming time is kept: the verify loop that got
        there has counted its writes, pulses and reads (see
        :func:`deephw.devices.tuning.tune_devices`).
        """
        if idx.size:
            self._land(idx, target, self.params_at(idx), rng)

    def _land(
        self, idx: np.ndarray, target: np.ndarray, params: dict[str, np.ndarray], rng: draws.RNG
    ) -> None:
        """``g = target + write_sigma xi`` (the model's write) for the live devices."""
        sigma = self.model.write_sigma(target, params)
        if np.isscalar(sigma) and sigma == 0:
            noise = np.zeros(idx.size)
        else:
            noise = draws.normal_at(rng, self.chips(idx), self.shape[0])
        written = self.model.write(target, params, noise)
        live = ~self.stuck.reshape(-1)[idx]
        self.g.reshape(-1)[idx[live]] = written[live]
        self._redraw_write_noise(idx, rng)

    def _redraw(self, idx: np.ndarray, rng: draws.RNG) -> None:
        """Fresh standard normal draws of the model's :meth:`program_draws` parameters
        for devices ``idx``, which are being programmed."""
        for name in self.model.program_draws():
            values = draws.normal_at(rng, self.chips(idx), self.shape[0])
            self.d2d[name].reshape(-1)[idx] = values

    def add(self, delta: np.ndarray, enabled: np.ndarray) -> None:
        """Exact change of continuous devices: ``g += delta; g *= enabled``.

        Stuck devices keep their conductance; each changed device counts one pulse.
        """
        if not self.model.continuous:
            raise ValueError(f"device model {self.model.name!r} takes pulses, not exact writes")
        held = self.g[self.stuck]
        self.g += delta
        self.g *= enabled
        self.g[self.stuck] = held
        live = self.present & enabled
        self.counts["set"] += live & (delta > 0)
        self.counts["reset"] += live & (delta < 0)
        changed = np.flatnonzero(live & (delta != 0))
        self._wear(changed, 1)

    def absorb(
        self,
        raised: np.ndarray,
        lowered: np.ndarray,
        changed: np.ndarray,
        enabled: np.ndarray,
        reads: int,
    ) -> None:
        """Count what many exact changes (:meth:`add`) and reads did, per device:
        ``raised``/``lowered``/``changed`` updates, ``reads`` reads of the ``enabled``
        devices (the conductances are set by the caller)."""
        self.counts["set"] += raised
        self.counts["reset"] += lowered
        self._count("reads", self.indices(enabled), reads)
        worn = np.flatnonzero(changed)
        self._wear(worn, changed.reshape(-1)[worn])

    def _wear(self, idx: np.ndarray, amount: np.ndarray | int) -> None:
        """Add ``amount`` cycles to devices ``idx``; devices past their budget get stuck."""
        if not np.size(idx):
            return
        pulses, stuck = self.pulses.reshape(-1), self.stuck.reshape(-1)
        _saturating_add(pulses, idx, amount)
        worn = idx[(pulses[idx] >= self.d2d["budget"].reshape(-1)[idx]) & ~stuck[idx]]
        if not worn.size:
            return
        stuck[worn] = True
        policy = self.model.params.endurance_stuck
        if policy != "current":
            bound = "g_min" if policy == "min" else "g_max"
            self.g.reshape(-1)[worn] = self.d2d[bound].reshape(-1)[worn]

    # -- persistence ---------------------------------------------------------------
    def state_dict(self, prefix: str) -> dict[str, np.ndarray]:
        """Every array of the state, keyed ``prefix + name``."""
        state = {
            "g_uS": self.g,
            "t_prog_s": self.t_prog,
            "pulses": self.pulses,
            "stuck": self.stuck,
            "present": self.present,
        }
        if self.write_offset is not None:
            state["write_offset_uS"] = self.write_offset
        state.update({f"count_{k}": v for k, v in self.counts.items()})
        state.update({f"d2d_{k}": v for k, v in self.d2d.items()})
        return {prefix + k: np.array(v, copy=True) for k, v in state.items()}

    def load_state_dict(self, state: dict[str, np.ndarray], prefix: str) -> None:
        """Restore the arrays saved by :meth:`state_dict` (shapes must match)."""

        def get(name: str, like: np.ndarray) -> np.ndarray:
            value = np.asarray(state[prefix + name])
            if value.shape != like.shape:
                raise ValueError(f"{prefix + name}: shape {value.shape}, expected {like.shape}")
            return value.astype(like.dtype, copy=True)

        self.g = get("g_uS", self.g)
        self.t_prog = get("t_prog_s", self.t_prog)
        self.pulses = get("pulses", self.pulses)
        self.stuck = get("stuck", self.stuck)
        self.present = get("present", self.present)
        if self.write_offset is not None:
            self.write_offset = get("write_offset_uS", self.write_offset)
        self.counts = {k: get(f"count_{k}", v) for k, v in self.counts.items()}
        self.d2d = {k: get(f"d2d_{k}", v) for k, v in self.d2d.items()}


def _saturating_add(counter: np.ndarray, idx: np.ndarray, amount: np.ndarray | int) -> None:
    """``counter[idx] += amount`` (unique indices), stopping at :data:`MAX_COUNT`."""
    amount = np.asarray(amount, dtype=np.int64)
    counter[idx] = np.minimum(counter[idx], MAX_COUNT - amount) + amount
