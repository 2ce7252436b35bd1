"""The Ambrogio et al. (2018) cell: a PCM pair plus a fast 3T1C capacitor."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deephw.devices import draws
from deephw.devices.base import DeviceModel, get_device_model
from deephw.devices.cards import Card
from deephw.devices.cells import PairCell, register_cell, tune_pair
from deephw.devices.periphery import Periphery
from deephw.devices.tuning import digital_read
from deephw.streams import D2D_STREAM, SHARED_STREAM


@register_cell("ambrogio")
class AmbrogioCell(PairCell):
    """``W = [F (G+ - G-) + p (g - g_shared)] / G_ref``, updates on ``g``, periodic transfer.

    - ``G+``, ``G-``: the slow pair (``device``, e.g. PCM); ``F`` is ``cell.gain``.
    - ``g``: the fast device (``fast_device``, e.g. the 3T1C capacitor); a weight change
      ``dW`` becomes ``p dW G_ref / step`` pulses on ``g``.
    - ``g_shared``: one reference per column (per chip), drawn at the fast device's
      nominal reset conductance with its reset spread; it does not leak.
    - ``p = +-1``: the polarity of ``g``'s contribution, the same for every cell of a
      chip, flipped at every transfer.

    Transfer (closed-loop tuning): read the fast contribution ``c = p (g - g_shared)``
    and the pair difference ``D`` through the ADC, reset ``g``, flip ``p``, read the new
    offset ``c' = p' (g - g_shared)``, and tune the pair to ``D + (c - c') / F``. Fixed
    offsets ``g_reset - g_shared`` alternate in sign from transfer to transfer and cancel
    on average (polarity inversion). A side of the pair that would pass the refresh
    level is refreshed during tuning.
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

    def _shared(self, idx: np.ndarray) -> np.ndarray:
        n = self.devices["g"].shape[-1]
        chip, column = idx // (n * n), idx % n
        return self.g_shared[chip, 0, column]

    def fast_contribution(self, g: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """``p (g - g_shared)`` of cells ``idx`` for fast-device conductances ``g``."""
        return self._sign(idx) * (g - self._shared(idx))

    def contribution(self, reads: dict[str, np.ndarray], idx: np.ndarray) -> np.ndarray:
        pair = self.gain * (reads["G+"] - reads["G-"])
        return pair + self.fast_contribution(reads["g"], idx)

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
        before = self.fast_contribution(digital_read(fast, idx, t, rng, periphery), idx)
        plus = digital_read(self.devices["G+"], idx, t, rng, periphery)
        minus = digital_read(self.devices["G-"], idx, t, rng, periphery)
        fast.reset(idx, t)
        self.polarity = -self.polarity
        after = self.fast_contribution(digital_read(fast, idx, t, rng, periphery), idx)
        target = plus - minus + (before - after) / self.gain
        refreshed = tune_pair(self, idx, target, t, rng, periphery)
        return np.bincount(fast.chips(idx), minlength=self.n_chips), refreshed

    def after_pulse(
        self, idx: np.ndarray, t: float, rng: draws.RNG, periphery: Periphery
    ) -> np.ndarray:
        return np.zeros(self.n_chips, dtype=np.int64)

    def extra_state(self) -> dict[str, np.ndarray]:
        return {"polarity": self.polarity.copy(), "g_shared_uS": self.g_shared.copy()}

    def load_extra_state(self, state: dict[str, np.ndarray]) -> None:
        self.polarity = np.asarray(state["polarity"], dtype=float).copy()
        self.g_shared = np.asarray(state["g_shared_uS"], dtype=float).copy()
