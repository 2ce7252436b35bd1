"""What a training records after each epoch, per seed: its history, events and clock.

One set of functions books an epoch, or a run of epochs at once (rows ``first:last``
with arrays that have a leading epoch axis), so that the step-by-step training and
whole epochs run in one engine call (:mod:`deephw.fused`) record the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from deephw.analysis import gershgorin_stable

Rows = int | slice
"""One epoch's row, or the rows of a run of epochs."""


@dataclass
class EpochLog:
    """The ``(epochs, S)`` records of a training of ``S`` seeds.

    Attributes
    ----------
    history
        By name (``training.HISTORY_FIELDS`` and, with test data, ``TEST_FIELDS``).
    events
        Cumulative ``GROUP.EVENT`` counts and energies (:meth:`deephw.controller.
        Controller.totals`) at the end of each epoch.
    chip_time_s
        ``(epochs,)`` chip clock at the end of each epoch.
    """

    history: dict[str, np.ndarray]
    events: dict[str, np.ndarray] = field(default_factory=dict)
    chip_time_s: np.ndarray = field(default_factory=lambda: np.empty(0))

    @property
    def shape(self) -> tuple[int, int]:
        """``(epochs, S)``."""
        return self.history["mse"].shape

    def scores(self, rows: Rows, mse: np.ndarray, accuracy: np.ndarray, rails: np.ndarray) -> None:
        """The free-phase scores over the epoch's batches (each weighted by its share)."""
        self.history["mse"][rows] = mse
        self.history["accuracy"][rows] = accuracy
        self.history["rail_fraction"][rows] = rails

    def weights(
        self, rows: Rows, weights: np.ndarray, mask: np.ndarray, regrow: bool, n_clamped: int
    ) -> None:
        """What the weights ``(..., S, N, N)`` after the epoch's update show: connections
        (with ``regrow`` the mask keeps zeroed ones: the nonzero ones are counted), the
        smallest outgoing sum of a free neuron, Proposition 2's condition."""
        present = mask & (weights != 0) if regrow else mask
        self.history["connections"][rows] = present.sum(axis=(-2, -1))
        self.history["min_out_sum"][rows] = weights[..., n_clamped:, :].sum(axis=-1).min(axis=-1)
        self.history["prop2"][rows] = gershgorin_stable(weights, n_clamped)

    def totals(
        self, rows: Rows, totals: Mapping[str, np.ndarray], time_s: float | np.ndarray
    ) -> None:
        """The chip's cumulative events (``(S,)`` each, or ``(epochs, S)`` for a run) and
        its clock at the end of the epoch."""
        for name, values in totals.items():
            self.events.setdefault(name, np.empty(self.shape))[rows] = values
        self.chip_time_s[rows] = time_s
