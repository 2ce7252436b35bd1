r"""IR drop: the row and column wires of a crossbar tile, and a fast solve of their drops.

A card's ``array`` section (:class:`ArraySpec`) gives the wire resistance ``r`` of one
cell segment (``wire_ohm``) and the tile geometry. The ``N x N`` weight matrix is laid out
on tiles of ``tile_rows x tile_cols`` cells (cell ``(i, j)`` on tile row ``i % tile_rows``,
tile column ``j % tile_cols``); each tile has its own row drivers and sense amplifiers,
and the partial column currents of the tiles of one matrix column are added digitally,
so IR drop is per tile.

The circuit of one tile (the reference of :mod:`deephw.irdrop_exact`): row line ``i``
is driven at tile column 0 by the DAC voltage ``v_i`` (the activity ``s_i``; every
voltage is in units of the full drive), column line ``j`` is held at virtual ground by its
sense amplifier at tile row 0, one wire segment ``r`` joins the driver or the amplifier
to the first node and every two adjacent nodes, and cell ``(i, j)`` is a conductance
``G_ij`` (the sum of its devices' conductances: a cell's devices are lumped at one
crosspoint) between row node ``R_ij`` and column node ``C_ij``. The cell's signed
contribution to its column is ``W_ij (R_ij - C_ij)``. Cells outside the matrix or the
structural mask hold no device and draw nothing, so a partial tile acts as a smaller one.

Both lines are trees fed from one end, so the current through a segment is the sum of the
cell currents beyond it. With ``J = G * Delta`` the cell currents and ``Delta = R - C``,

.. math::

    \Delta = v - r\,(P_\text{row} + P_\text{col})(G \circ \Delta),
    \qquad (P x)_k = \sum_{k'} (\min(k, k') + 1)\, x_{k'},

with ``P`` acting along the row (from the driver) or the column (from the amplifier).
Every node voltage is linear in the drives, so the column currents are ``I = s @ W_eff``
with an effective weight matrix computed once per array read (:func:`effective_weights`).

Fast solve: the Jacobi iteration of that equation, i.e. the Neumann series in
``T = r (P_row + P_col) G`` (first order: one step). ``T >= 0`` and its infinity norm is
``eps = max_ij (a_row + a_col)_ij``, the largest first-order drop of a cell with every row
driven (:func:`drop_coefficients`), at most ``r G_max (R (R + 1) + C (C + 1)) / 2`` on an
``R x C`` tile (about ``r G_max n^2`` on a square one). For ``eps < 1`` the iteration
converges to the exact node voltages, and after ``K`` steps from ``Delta_0 = v``

.. math::

    \|\Delta_K - \Delta\|_\infty \le \frac{\varepsilon^{K+1}}{1 - \varepsilon}\,\|v\|_\infty,
    \qquad |I_{K,j} - I_j| \le \frac{\varepsilon^{K+1}}{1-\varepsilon}\,\|v\|_\infty
    \sum_i |W_{ij}|.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from deephw.validation import check

AIHWKIT_WIRE_OHM = 0.35
"""The wire resistance per cell segment behind aihwkit's IR-drop model: its
``IOParameters.ir_drop_g_ratio`` defaults to ``1 / (0.35 ohm * 5 µS)`` (wire conductance
over a device's maximal conductance); its ``ir_drop`` scale defaults to 0 (off)."""

DEFAULT_TILE = 512
"""Rows and columns of a tile unless the card says otherwise."""

FAST_TOLERANCE = 1e-6
"""The fast solve stops when its a-posteriori bound on the cell voltages (in units of the
full drive) is below this."""

CHUNK_ELEMENTS = 1 << 22
"""Basis drives solved together by :func:`effective_weights` (elements of one field)."""

FAST_EPS_LIMIT = 0.5
"""Chips whose ``eps`` reaches this are solved exactly (the series would need more than
about 20 steps); :class:`~deephw.multiply.IRDropMultiply` applies it."""

FAST_MAX_STEPS = 60
"""The fast solve gives up (and the exact solve is used) after this many steps."""


@dataclass(frozen=True)
class ArraySpec:
    """The array's wires and tiles: the card's ``array`` section.

    ``wire_ohm`` is the resistance of one cell segment of a row or column line; 0 (the
    default) means ideal wires, and the multiply is then the plain product. A network
    larger than a tile spans several tiles; IR drop is computed per tile.
    """

    wire_ohm: float = field(
        default=0.0,
        metadata=check(
            ge=0,
            le=1000,
            unit="ohm",
            group="IR drop",
            ideal=0.0,
            doc="resistance per cell segment of row and column lines; 0: no IR drop (as aihwkit's "
            "default ir_drop 0); aihwkit's IOParameters.ir_drop_g_ratio assumes 0.35 "
            "(1 / (0.35 ohm x 5 uS)); up to a few ohm in dense arrays",
        ),
    )
    tile_rows: int = field(
        default=DEFAULT_TILE,
        metadata=check(ge=1, le=65536, unit="cells", doc="cells per column line"),
    )
    tile_cols: int = field(
        default=DEFAULT_TILE, metadata=check(ge=1, le=65536, unit="cells", doc="cells per row line")
    )


def line_sum(x: np.ndarray, axis: int) -> np.ndarray:
    """``(P x)_k = sum_k' (min(k, k') + 1) x_k'`` along ``axis``: the voltage drop along a
    line fed at index 0 by cell currents ``x`` (per unit wire resistance)."""
    before = np.cumsum(x, axis)
    total = before.take([-1], axis)
    beyond = total - before + x  # the current of each segment: the cells beyond it
    return np.cumsum(beyond, axis)


def column_tiles(n: int, cols: int) -> int:
    """Matrix columns padded to whole tiles (padding cells hold no device)."""
    return -(-n // cols) * cols


def row_blocks(n: int, rows: int) -> Iterator[slice]:
    """The matrix rows of each tile row."""
    for start in range(0, n, rows):
        yield slice(start, min(start + rows, n))


def _tiled(x: np.ndarray, cols: int) -> np.ndarray:
    """``(..., r, N)`` -> ``(..., r, Tc, cols)`` with zero padding."""
    n = x.shape[-1]
    width = column_tiles(n, cols)
    if width != n:
        pad = [(0, 0)] * (x.ndim - 1) + [(0, width - n)]
        x = np.pad(x, pad)
    return x.reshape(*x.shape[:-1], width // cols, cols)


def _drop(j: np.ndarray, r_ohm: float, cols: int) -> np.ndarray:
    """``r (P_row + P_col) j`` on fields ``(..., rows, N)`` of one tile row."""
    n = j.shape[-1]
    rows = line_sum(_tiled(j, cols), -1).reshape(*j.shape[:-1], -1)[..., :n]
    return r_ohm * (rows + line_sum(j, -2))


def drop_coefficients(load_siemens: np.ndarray, r_ohm: float, rows: int, cols: int) -> np.ndarray:
    """First-order relative drop ``a_row + a_col`` of every cell with every row driven.

    Parameters
    ----------
    load_siemens
        ``(..., N, N)`` cell conductances in siemens (``>= 0``).
    r_ohm
        Wire resistance per cell segment.
    rows, cols
        Tile geometry.

    Returns
    -------
    numpy.ndarray
        ``(..., N, N)``; its maximum over a chip is ``eps``, the infinity norm of the
        iteration operator (see the module docstring).
    """
    out = np.empty(load_siemens.shape)
    for block in row_blocks(load_siemens.shape[-1], rows):
        out[..., block, :] = _drop(load_siemens[..., block, :], r_ohm, cols)
    return out


def contraction(load_siemens: np.ndarray, r_ohm: float, rows: int, cols: int) -> np.ndarray:
    """``eps`` per chip: the largest first-order drop, ``(...)`` over ``(..., N, N)``."""
    return drop_coefficients(load_siemens, r_ohm, rows, cols).max(axis=(-2, -1))


def bound(eps: float | np.ndarray, steps: int) -> float | np.ndarray:
    """A-priori bound ``eps^(K+1) / (1 - eps)`` on the cell-voltage error of ``K`` fast
    steps (relative to the largest drive); infinite for ``eps >= 1``."""
    eps = np.asarray(eps, dtype=float)
    with np.errstate(divide="ignore"):
        out = np.where(eps < 1, eps ** (steps + 1) / np.maximum(1 - eps, 0), np.inf)
    return out[()] if out.ndim == 0 else out


def fast_voltages(
    drive: np.ndarray,
    load_siemens: np.ndarray,
    r_ohm: float,
    cols: int,
    steps: int | None = None,
    tolerance: float = FAST_TOLERANCE,
) -> tuple[np.ndarray, int, float]:
    """Cell voltages ``Delta = R - C`` of one tile row by the fast iteration.

    Parameters
    ----------
    drive
        ``(..., rows, N)`` drive field: ``v_i`` of each cell's row (broadcast along it).
    load_siemens
        ``(rows, N)`` or broadcastable cell conductances (S).
    r_ohm
        Wire resistance per segment.
    cols
        Tile columns (the rows of ``drive`` are one tile row).
    steps
        Fixed number of steps ``K`` (1: first order); None: iterate until the
        a-posteriori bound ``eps / (1 - eps) * max|Delta_K - Delta_(K-1)|`` is below
        ``tolerance`` (at most :data:`FAST_MAX_STEPS`).

    Returns
    -------
    (Delta, K, bound)
        The voltages, the steps taken and the bound held on ``max |Delta_K - Delta|``
        (infinite when ``eps >= 1``: the series diverges, use the exact solve).
    """
    eps = float(np.max(_drop(np.broadcast_to(load_siemens, drive.shape[-2:]), r_ohm, cols)))
    if steps is None and eps >= 1:  # the series diverges
        return drive, 0, np.inf
    delta = drive
    limit = FAST_MAX_STEPS if steps is None else steps
    held = float(np.max(np.abs(drive), initial=0.0))
    k = 0
    while k < limit:
        new = drive - _drop(load_siemens * delta, r_ohm, cols)
        change = float(np.max(np.abs(new - delta), initial=0.0))
        delta, k = new, k + 1
        held = eps / (1 - eps) * change if eps < 1 else np.inf
        if steps is None and held <= tolerance:
            break
    if steps is not None and eps < 1:
        held = min(held, float(bound(eps, k)) * float(np.max(np.abs(drive), initial=0.0)))
    return delta, k, held


def effective_weights(
    weights: np.ndarray,
    load_siemens: np.ndarray,
    r_ohm: float,
    rows: int,
    cols: int,
    steps: int | None = None,
    tolerance: float = FAST_TOLERANCE,
) -> tuple[np.ndarray, np.ndarray]:
    """``W_eff`` with ``I = s @ W_eff`` under IR drop, by the fast iteration, per chip.

    Row ``k`` of ``W_eff`` is the column currents when only row ``k`` is driven at full
    scale; by linearity any drive is their sum.

    Parameters
    ----------
    weights, load_siemens
        ``(S, N, N)`` signed weights and cell conductances (S).
    r_ohm, rows, cols
        Wire resistance per segment and tile geometry.
    steps, tolerance
        See :func:`fast_voltages`.

    Returns
    -------
    (W_eff, held)
        ``(S, N, N)`` effective weights and ``(S,)`` the bound held on the cell voltages
        (``inf`` where the iteration cannot converge: ``eps >= 1``).
    """
    n_chips, n, _ = weights.shape
    out = np.zeros(weights.shape)
    held = np.zeros(n_chips)
    for s in range(n_chips):
        for block in row_blocks(n, rows):
            size = block.stop - block.start
            chunk = max(1, CHUNK_ELEMENTS // (size * n))
            for first in range(0, size, chunk):
                basis = np.zeros((min(chunk, size - first), size, n))
                basis[np.arange(basis.shape[0]), first + np.arange(basis.shape[0])] = 1.0
                delta, _, h = fast_voltages(
                    basis, load_siemens[s, block], r_ohm, cols, steps, tolerance
                )
                rows_out = slice(block.start + first, block.start + first + basis.shape[0])
                out[s, rows_out] = np.einsum("kij,ij->kj", delta, weights[s, block])
                held[s] = max(held[s], h)
    return out, held
