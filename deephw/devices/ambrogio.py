"""The Ambrogio et al. (2018) cell: a PCM pair plus a fast 3T1C capacitor."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deephw.devices import draws
from deephw.devices.base import DeviceModel, get_device_model
from deephw.devices.cards import Card
from deephw.devices.cells import PairCell, register_cell, tune_pair
from deephw.devices.periphery import Periphery
from deephw.devices.tuning import digital_read, tune_devices
from deephw.streams import D2D_STREAM, SHARED_STREAM


@register_cell("ambrogio")
class AmbrogioCell(PairCell):
    """``W = [F (G+ - G-) + p (g - g_shared)] / G_ref``, updates on ``g``, periodic transfer.

    - ``G+``, ``G-``: the slow pair (``device``, e.g. PCM); ``F`` is ``cell.gain``.
    - ``g``: the fast device (``fast_device``, e.g. the 3T1C capacitor); a weight change
      ``dW`` becomes ``p dW G_ref / step`` pulses on ``g``.
    - ``g_shared``: one reference device of the fast model per column (per chip), reset
      to the fast device's nominal reset conductance with its reset spread; it evolves
      like ``g`` (a capacitor leaks toward its rest value with its own time constant),
      so that a cell left alone tends to weight 0, and it is reset with ``g`` at every
      transfer.
    - ``p = +-1``: the polarity of ``g``'s contribution, the same for every cell of a
      chip, flipped at every transfer.

    Transfer (Ambrogio et al. 2018, Extended Data Fig. 9): read the weight ``W = F D +
    c`` (``D``: the pair difference, ``c = p (g - g_shared)``, through the ADC), reset
    ``g`` and ``g_shared``, flip ``p``, read the new offset ``c' = p' (g - g_shared)``,
    and tune the pair (closed loop) to ``W_transfer / F`` with::

        W_transfer = W - offset - c'           (offset: cell.transfer_offset_uS)

    The after-reset term lets the PCM absorb the fixed offset ``g_reset - g_shared``
    (which alternates in sign with the polarity and so cancels on average); the offset
    leaves the pair slightly below ``W``, an error that the updates on ``g`` then
    correct (the paper's g devices correct negative errors better). When ``W_transfer``
    is positive but below the offset, both PCM devices are reset instead and ``g`` is
    tuned (closed loop) to hold the residual ``W - F D`` under the new polarity. The
    legend states the rule for one polarity; it is applied as written under both. A side
    of the pair that would pass the refresh level is refreshed during tuning.
    """

    roles = ("G+", "G-", "g")

    def __init__(self, card: Card, present: np.ndarray, seeds: Sequence[int]) -> None:
        super().__init__(card, present, seeds)
        fast = card.fast_device
        n = present.shape[-1]
        shared = [
            np.random.default_rng([int(s), D2D_STREAM, SHARED_STREAM]).standard_normal(n)
            for s in seeds
        ]
        self.g_shared = fast.g_reset_uS + fast.g_reset_dtod_uS * np.stack(shared)[:, None, :]
        model = self.models["g"]
        own = [  # the shared devices' own variation (e.g. leak time), from a stream of its own
            model.sample(np.random.default_rng([int(s), D2D_STREAM, SHARED_STREAM, 1]), (1, n))
            for s in seeds
        ]
        self.shared_d2d = {key: np.stack([chip[key] for chip in own]) for key in own[0]}
        self.shared_t = np.zeros(self.g_shared.shape)
        self.polarity = np.ones(len(seeds))

    @classmethod
    def models_for(cls, card: Card) -> dict[str, DeviceModel]:
        models = dict.fromkeys(("G+", "G-"), get_device_model(card.device.model)(card.device))
        models["g"] = get_device_model(card.fast_device.model)(card.fast_device)
        return models

    @classmethod
    def full_scale_uS(cls, card: Card) -> float:
        return card.cell.gain * card.device.range_uS + card.fast_device.range_uS

    @property
    def gain(self) -> float:
        return self.spec.gain

    @classmethod
    def nominal_gain(cls, card: Card) -> float:
        return card.cell.gain

    @classmethod
    def nominal_targets(cls, card: Card, weights: np.ndarray) -> dict[str, np.ndarray]:
        """The pair's targets for ``D = W G_ref / F``; ``g`` at its nominal reset value."""
        targets = super().nominal_targets(card, weights)
        targets["g"] = np.full(np.shape(weights), cls.models_for(card)["g"].nominal_reset_uS())
        return targets

    @classmethod
    def nominal_weights(cls, card: Card, conductances: dict[str, np.ndarray]) -> np.ndarray:
        """``W = [F (G+ - G-) + (g - g_reset)] / G_ref``: polarity +1, and the nominal
        reset conductance standing in for each column's ``g_shared``."""
        pair = super().nominal_weights(card, conductances)
        fast = np.asarray(conductances["g"]) - cls.models_for(card)["g"].nominal_reset_uS()
        return pair + fast / card.cell.g_ref_uS

    def _sign(self, idx: np.ndarray) -> np.ndarray:
        return self.polarity[self.devices["g"].chips(idx)]

    def _columns(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = self.devices["g"].shape[-1]
        return idx // (n * n), idx % n

    def shared_value(self, idx: np.ndarray, t: float) -> np.ndarray:
        """``g_shared`` (µS) of the columns of cells ``idx`` at chip time ``t``."""
        chip, column = self._columns(idx)
        start = self.g_shared[chip, 0, column]
        model = self.models["g"]
        if not model.time_dependent:
            return start
        elapsed = t - self.shared_t[chip, 0, column]
        d2d = {key: value[chip, 0, column] for key, value in self.shared_d2d.items()}
        return model.evolve(start, elapsed, d2d)

    def reset_shared(self, idx: np.ndarray, t: float) -> None:
        """Reset the shared devices of the columns of cells ``idx`` at chip time ``t``."""
        chip, column = self._columns(idx)
        self.shared_t[chip, 0, column] = t

    def fast_contribution(self, g: np.ndarray, idx: np.ndarray, t: float) -> np.ndarray:
        """``p (g - g_shared)`` of cells ``idx`` at ``t`` for fast-device conductances ``g``."""
        return self._sign(idx) * (g - self.shared_value(idx, t))

    def contribution(self, reads: dict[str, np.ndarray], idx: np.ndarray, t: float) -> np.ndarray:
        pair = self.gain * (reads["G+"] - reads["G-"])
        return pair + self.fast_contribution(reads["g"], idx, t)

    def pulse(self, idx: np.ndarray, n: np.ndarray, t: float, rng: draws.RNG) -> None:
        up = n * self._sign(idx) > 0
        self.devices["g"].pulse(idx, np.abs(n), up, t, rng)

    def write(self, idx: np.ndarray, weights: np.ndarray, t: float, rng: draws.RNG) -> None:
        self.devices["g"].reset(idx, t)
        super().write(idx, weights, t, rng)

    def transfer(
        self, idx: np.ndarray, t: float, rng: draws.RNG, periphery: Periphery
    ) -> tuple[np.ndarray, np.ndarray]:
        fast = self.devices["g"]
        before = self.fast_contribution(digital_read(fast, idx, t, rng, periphery), idx, t)
        plus = digital_read(self.devices["G+"], idx, t, rng, periphery)
        minus = digital_read(self.devices["G-"], idx, t, rng, periphery)
        fast.reset(idx, t)
        self.reset_shared(idx, t)
        self.polarity = -self.polarity
        after = self.fast_contribution(digital_read(fast, idx, t, rng, periphery), idx, t)
        offset = self.spec.transfer_offset_uS
        target = plus - minus + (before - offset - after) / self.gain  # W_transfer / F
        w_transfer = self.gain * target
        small = (w_transfer > 0) & (w_transfer < offset)
        refreshed = tune_pair(self, idx[~small], target[~small], t, rng, periphery).refreshed
        if small.any():
            weight = self.gain * (plus - minus) + before
            self._keep_in_fast(idx[small], weight[small], t, rng, periphery)
        return np.bincount(fast.chips(idx), minlength=self.n_chips), refreshed

    def _keep_in_fast(
        self, idx: np.ndarray, weight_uS: np.ndarray, t: float, rng: draws.RNG, periphery: Periphery
    ) -> None:
        """RESET both PCM devices of cells ``idx`` and tune ``g`` (closed loop) so that
        the cells hold ``weight_uS``: ``p (g - g_shared) = W - F D`` after the reset."""
        plus, minus, fast = self.devices["G+"], self.devices["G-"], self.devices["g"]
        plus.reset(idx, t)
        minus.reset(idx, t)
        pair = digital_read(plus, idx, t, rng, periphery) - digital_read(
            minus, idx, t, rng, periphery
        )
        residual = weight_uS - self.gain * pair
        target = self.shared_value(idx, t) + self._sign(idx) * residual
        spec = self.spec
        tune_devices(
            fast, idx, target, spec.tune_tolerance_uS, spec.tune_max_iterations, t, rng, periphery
        )

    def after_pulse(
        self, idx: np.ndarray, t: float, rng: draws.RNG, periphery: Periphery
    ) -> np.ndarray:
        return np.zeros(self.n_chips, dtype=np.int64)

    def extra_state(self) -> dict[str, np.ndarray]:
        state = {"polarity": self.polarity.copy(), "g_shared_uS": self.g_shared.copy()}
        state["g_shared_t_s"] = self.shared_t.copy()
        state.update({f"g_shared_d2d_{k}": v.copy() for k, v in self.shared_d2d.items()})
        return state

    def load_extra_state(self, state: dict[str, np.ndarray]) -> None:
        self.polarity = np.asarray(state["polarity"], dtype=float).copy()
        self.g_shared = np.asarray(state["g_shared_uS"], dtype=float).copy()
        # states saved before the shared devices evolved: reset at 0, variation as drawn
        self.shared_t = np.asarray(state.get("g_shared_t_s", self.shared_t), dtype=float).copy()
        for key in self.shared_d2d:
            saved = state.get(f"g_shared_d2d_{key}", self.shared_d2d[key])
            self.shared_d2d[key] = np.asarray(saved).copy()
