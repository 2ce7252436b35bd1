"""The exact nodal solve of a crossbar tile's wires (the reference of :mod:`deephw.irdrop`).

Kirchhoff's current law at every row node and column node of one tile, with the wire
segments, the cells, the row drivers and the virtual grounds as described in
:mod:`deephw.irdrop`, is a sparse symmetric positive definite system in the ``2 R C`` node
voltages. It is written in units of the wire conductance (every cell is ``rho = r G``),
factorised once per tile with :func:`scipy.sparse.linalg.splu`, and solved for many drives
at once.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse
import scipy.sparse.linalg

from deephw.irdrop import column_tiles, row_blocks

RHS_CHUNK = 64
"""Drives solved together (bounds the memory of the dense solutions)."""


def tile_solver(load_siemens: np.ndarray, r_ohm: float) -> Callable[[np.ndarray], np.ndarray]:
    """A solver of one tile's node voltages.

    Parameters
    ----------
    load_siemens
        ``(R, C)`` cell conductances (S) of the tile (0 where no device).
    r_ohm
        Wire resistance per cell segment (``> 0``).

    Returns
    -------
    callable
        ``solve(drive)``: ``(B, R)`` row drives -> ``(B, R, C)`` cell voltages
        ``R_ij - C_ij``.
    """
    if not r_ohm > 0:
        raise ValueError(f"the nodal solve needs wire_ohm > 0, got {r_ohm!r}")
    n_rows, n_cols = load_siemens.shape
    rho = (r_ohm * np.asarray(load_siemens, dtype=float)).ravel()
    cells = n_rows * n_cols
    node = np.arange(cells).reshape(n_rows, n_cols)
    row_node, col_node = node, node + cells
    # wire segments between adjacent nodes: along rows (row nodes), along columns
    a = np.concatenate([row_node[:, :-1].ravel(), col_node[:-1, :].ravel()])
    b = np.concatenate([row_node[:, 1:].ravel(), col_node[1:, :].ravel()])
    # cells between row node and column node
    a = np.concatenate([a, row_node.ravel()])
    b = np.concatenate([b, col_node.ravel()])
    g = np.concatenate([np.ones(a.size - cells), rho])
    diagonal = np.bincount(a, g, 2 * cells) + np.bincount(b, g, 2 * cells)
    diagonal[row_node[:, 0]] += 1.0  # segment to the row driver
    diagonal[col_node[0, :]] += 1.0  # segment to the sense amplifier (ground)
    everything = np.arange(2 * cells)
    rows = np.concatenate([everything, a, b])
    columns = np.concatenate([everything, b, a])
    values = np.concatenate([diagonal, -g, -g])
    matrix = scipy.sparse.coo_matrix((values, (rows, columns)), shape=(2 * cells,) * 2).tocsc()
    factor = scipy.sparse.linalg.splu(matrix)
    first = row_node[:, 0]

    def solve(drive: np.ndarray) -> np.ndarray:
        drive = np.atleast_2d(np.asarray(drive, dtype=float))
        out = np.empty((drive.shape[0], n_rows, n_cols))
        for start in range(0, drive.shape[0], RHS_CHUNK):
            part = drive[start : start + RHS_CHUNK]
            rhs = np.zeros((2 * cells, part.shape[0]))
            rhs[first] = part.T
            volts = factor.solve(rhs)
            out[start : start + part.shape[0]] = (volts[:cells] - volts[cells:]).T.reshape(
                -1, n_rows, n_cols
            )
        return out

    return solve


def _tiles(n: int, rows: int, cols: int) -> list[tuple[slice, slice]]:
    return [
        (block, slice(c, min(c + cols, n)))
        for block in row_blocks(n, rows)
        for c in range(0, column_tiles(n, cols), cols)
    ]


def exact_currents(
    state: np.ndarray,
    weights: np.ndarray,
    load_siemens: np.ndarray,
    r_ohm: float,
    rows: int,
    cols: int,
) -> np.ndarray:
    """Column currents ``I_j = sum_i W_ij (R_ij - C_ij)`` of drives ``state``.

    Parameters
    ----------
    state
        ``(S, B, N)`` row drives (activities).
    weights, load_siemens
        ``(S, N, N)`` signed weights and cell conductances (S).
    r_ohm, rows, cols
        Wire resistance per segment and tile geometry.

    Returns
    -------
    numpy.ndarray
        ``(S, B, N)`` currents, the partial currents of every tile summed.
    """
    n_chips, batch, n = state.shape
    out = np.zeros((n_chips, batch, n))
    for s in range(n_chips):
        for block, span in _tiles(n, rows, cols):
            delta = tile_solver(load_siemens[s, block, span], r_ohm)(state[s, :, block])
            out[s, :, span] += np.einsum("bij,ij->bj", delta, weights[s, block, span])
    return out


def exact_effective_weights(
    weights: np.ndarray, load_siemens: np.ndarray, r_ohm: float, rows: int, cols: int
) -> np.ndarray:
    """``W_eff`` (``I = s @ W_eff``) from the exact solve with one unit drive per row.

    Same parameters as :func:`deephw.irdrop.effective_weights`; ``(S, N, N)``.
    """
    n_chips, n, _ = weights.shape
    out = np.zeros(weights.shape)
    for s in range(n_chips):
        for block, span in _tiles(n, rows, cols):
            size = block.stop - block.start
            delta = tile_solver(load_siemens[s, block, span], r_ohm)(np.eye(size))
            out[s, block, span] = np.einsum("kij,ij->kj", delta, weights[s, block, span])
    return out
