"""Multiply models: how the column currents of the analog core follow from the states.

The crossbar supplies one with every engine request (:class:`deephw.engines.base.Relax`):
neuron ``j`` of copy ``s`` receives ``I_j = sum_i W[s, i, j] s_i`` through the column of
its cells. :class:`DenseMultiply` is that ideal product with the effective weights the
array presents; input-dependent effects (IR drop along the wires) are further models,
computed where the crossbar is, not in every engine. An engine declares the models it
supports (:class:`deephw.engines.base.Capabilities`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import numpy as np

Currents = Callable[[np.ndarray, np.ndarray], None]
"""``currents(state, out)``: writes the ``(S, B, N - P)`` currents of the free columns of
``(S, B, N)`` states into ``out``."""


class MultiplyModel(ABC):
    """How the column currents of ``S`` network copies follow from their states."""

    @property
    @abstractmethod
    def shape(self) -> tuple[int, int, int]:
        """``(S, N, N)``: copies and neurons."""

    @abstractmethod
    def free_columns(self, n_clamped: int) -> Currents:
        """The currents into the non-clamped neurons (``j >= n_clamped``), as a function
        that an engine calls once per step."""


class DenseMultiply(MultiplyModel):
    """Ideal crossbar: ``I = s @ W`` with the ``(S, N, N)`` effective weights ``W``."""

    def __init__(self, weights: np.ndarray) -> None:
        self.weights = np.asarray(weights, dtype=float)
        if self.weights.ndim != 3 or self.weights.shape[1] != self.weights.shape[2]:
            raise ValueError(f"weights must be (S, N, N), got shape {self.weights.shape}")

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.weights.shape

    def free_columns(self, n_clamped: int) -> Currents:
        w_free = np.ascontiguousarray(self.weights[:, :, n_clamped:])

        def currents(state: np.ndarray, out: np.ndarray) -> None:
            np.matmul(state, w_free, out=out)

        return currents
