"""Multiply models: how the column currents of the analog core follow from the states.

The crossbar supplies one with every engine request (:class:`deephw.engines.base.Relax`):
neuron ``j`` of copy ``s`` receives ``I_j = sum_i W[s, i, j] s_i`` through the column of
its cells. :class:`DenseMultiply` is that ideal product with the effective weights the
array presents; input-dependent effects are further models, computed where the crossbar
is, not in every engine: :class:`IRDropMultiply` adds the voltage drops along the row and
column wires (:mod:`deephw.irdrop`). An engine declares the models it supports
(:class:`deephw.engines.base.Capabilities`; each model names the capability it needs).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import ClassVar

import numpy as np

from deephw import irdrop

Currents = Callable[[np.ndarray, np.ndarray], None]
"""``currents(state, out)``: writes the ``(S, B, N - P)`` currents of the free columns of
``(S, B, N)`` states into ``out``."""


class MultiplyModel(ABC):
    """How the column currents of ``S`` network copies follow from their states.

    ``weights`` are the ``(S, N, N)`` weights as the array is read cell by cell (what a
    weight read, the rules and the measured leak see).
    """

    capability: ClassVar[str] = "multiply"
    """The :class:`~deephw.engines.base.Capabilities` field an engine needs for it."""
    weights: np.ndarray

    @property
    @abstractmethod
    def shape(self) -> tuple[int, int, int]:
        """``(S, N, N)``: copies and neurons."""

    @abstractmethod
    def free_columns(self, n_clamped: int) -> Currents:
        """The currents into the non-clamped neurons (``j >= n_clamped``), as a function
        that an engine calls once per step."""

    @property
    def column_weights(self) -> np.ndarray:
        """``(S, N, N)`` matrix ``M`` with currents ``I = s @ M``, for a model linear in
        the states (an engine may then multiply densely); the weights themselves here."""
        return self.weights

    def with_weights(self, weights: np.ndarray) -> MultiplyModel:
        """The same model over other ``(S, N, N)`` weights (e.g. with a bias register)."""
        return DenseMultiply(weights)


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


class IRDropMultiply(MultiplyModel):
    """The crossbar with resistive row and column wires (:mod:`deephw.irdrop`).

    Every node voltage is linear in the row drives, so the currents are
    ``I = s @ W_eff`` with effective weights computed once, when the model is made: by the
    fast iteration (``method="fast"``; the exact solve for chips whose ``eps`` reaches
    :data:`deephw.irdrop.FAST_EPS_LIMIT` or whose bound is not below
    :data:`deephw.irdrop.FAST_TOLERANCE`) or by the exact nodal solve (``"exact"``).

    Parameters
    ----------
    weights
        ``(S, N, N)`` signed weights as read cell by cell.
    load_uS
        ``(S, N, N)`` conductance of each cell's devices (µS, ``>= 0``): what loads the wires.
    wire_ohm
        Resistance per cell segment (``> 0``).
    tile_rows, tile_cols
        Tile geometry; IR drop is per tile.
    method
        ``"fast"`` or ``"exact"``.

    Attributes
    ----------
    effective : numpy.ndarray
        ``(S, N, N)`` ``W_eff``.
    eps : numpy.ndarray
        ``(S,)`` largest first-order drop of a cell with every row driven.
    held : numpy.ndarray
        ``(S,)`` bound held on the cell voltages (0 where solved exactly).
    """

    capability = "ir_drop"
    METHODS = ("fast", "exact")

    def __init__(
        self,
        weights: np.ndarray,
        load_uS: np.ndarray,
        wire_ohm: float,
        tile_rows: int = irdrop.DEFAULT_TILE,
        tile_cols: int = irdrop.DEFAULT_TILE,
        method: str = "fast",
    ) -> None:
        self.weights = DenseMultiply(weights).weights
        self.load_uS = np.abs(np.asarray(load_uS, dtype=float))
        if self.load_uS.shape != self.weights.shape:
            raise ValueError(f"load_uS must be {self.weights.shape}, got {self.load_uS.shape}")
        if not wire_ohm > 0:
            raise ValueError(f"wire_ohm must be > 0, got {wire_ohm!r}")
        if method not in self.METHODS:
            raise ValueError(f"method must be one of {self.METHODS}, got {method!r}")
        self.wire_ohm, self.method = float(wire_ohm), method
        self.tile = (int(tile_rows), int(tile_cols))
        load_siemens = self.load_uS * 1e-6
        self.eps = irdrop.contraction(load_siemens, self.wire_ohm, *self.tile)
        self.held = np.zeros(self.shape[0])
        self.effective = np.empty(self.shape)
        slow = np.ones(self.shape[0], dtype=bool)
        if method == "fast":
            quick = self.eps < irdrop.FAST_EPS_LIMIT
            self.effective[quick], self.held[quick] = irdrop.effective_weights(
                self.weights[quick], load_siemens[quick], self.wire_ohm, *self.tile
            )
            slow = ~quick | (self.held > irdrop.FAST_TOLERANCE)
        if slow.any():
            from deephw.irdrop_exact import exact_effective_weights

            self.effective[slow] = exact_effective_weights(
                self.weights[slow], load_siemens[slow], self.wire_ohm, *self.tile
            )
            self.held[slow] = 0.0

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.weights.shape

    @property
    def column_weights(self) -> np.ndarray:
        return self.effective

    def free_columns(self, n_clamped: int) -> Currents:
        return DenseMultiply(self.effective).free_columns(n_clamped)

    def with_weights(self, weights: np.ndarray) -> IRDropMultiply:
        return IRDropMultiply(weights, self.load_uS, self.wire_ohm, *self.tile, method=self.method)

    def leak_imbalance(self, n_clamped: int = 0) -> np.ndarray:
        """``(S,)`` mismatch of DEEP's leak under IR drop, relative.

        The leak of neuron ``j`` is its outgoing sum measured cell by cell,
        ``sum_k W_jk``, without drop; the currents its row actually delivers sum to
        ``sum_k W_eff[j, k]``. Returned per chip: ``mean_j |sum_k (W - W_eff)_jk|`` over
        ``mean_j sum_k |W_jk|`` for the free neurons ``j >= n_clamped`` (0 for no
        weights).
        """
        rows = slice(n_clamped, None)
        gap = np.abs((self.weights - self.effective)[:, rows].sum(axis=2)).mean(axis=1)
        scale = np.abs(self.weights[:, rows]).sum(axis=2).mean(axis=1)
        return np.divide(gap, scale, out=np.zeros_like(gap), where=scale > 0)
