"""Compiled kernels of the numba engine: the clipped Euler relaxation, DEEP's sum, and
whole epochs of DEEP on exact weights (:func:`train_epochs`).

Every step of one network copy ``c`` and sample ``b`` is, for each free neuron ``j``
(free index ``k = j - P``),

    v = I_j - s_j leak_j  [+ beta (y_j - s_j) for the last O neurons]
    s_j <- clip(s_j + dt v, 0, 1)

with the operations in the NumPy engine's order. Small networks sum the currents
``I_j = sum_i s_i W_ij`` in compiled loops (:func:`relax_loops`; the sums' order, hence
the round-off, differs from BLAS's); large ones take them from the request's multiply
model, i.e. NumPy's BLAS as in the NumPy engine, and :func:`advance` does the rest of
each step in one pass. (numba's own ``np.dot`` would call a second BLAS library,
SciPy's, whose thread pool competes with NumPy's: on a shared two-core machine an
N = 512 epoch's relaxations took 11 s that way against about 1 s with NumPy's.)

The functions in :data:`ENTRY_POINTS` are plain Python here; :mod:`deephw.engines.numba_cache`
compiles them, with their machine code cached in a chosen folder. This module imports
numba (for the helpers the entry points call), so only the numba engine imports it.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(inline="always")
def _update(state, current, leak, dt, beta, targets, c, b, n_clamped, out_start, nudged):
    """Advance the free neurons of copy ``c``, sample ``b`` from their currents."""
    n_free = current.shape[0]
    for k in range(n_free):
        s = state[c, b, n_clamped + k]
        v = current[k] - s * leak[c, k]
        if nudged and k >= out_start:
            v = v + beta * (targets[c, b, k - out_start] - s)
        v = v * dt
        v = v + s
        if v < 0.0:
            v = 0.0
        elif v > 1.0:
            v = 1.0
        state[c, b, n_clamped + k] = v


@numba.njit
def _relax_copy(w_free, leak, state, n_clamped, n_steps, dt, beta, targets, trajectory, sums, c):
    """Relax copy ``c`` of ``state`` in place (see :func:`relax_loops`); with
    ``sums.shape[0] > 0``, add DEEP's sum of every step to ``sums`` ``(N, N)``."""
    _, batch, n = state.shape
    n_free = n - n_clamped
    n_out = targets.shape[2]
    nudged = n_out > 0
    out_start = n_free - n_out
    record = trajectory.shape[0] > 0
    accumulate = sums.shape[0] > 0
    currents = np.empty((batch, n_free))
    before = np.empty(n_free)
    for m in range(n_steps):
        currents[:] = 0.0
        for i in range(n):
            for b in range(batch):
                s_i = state[c, b, i]
                for k in range(n_free):
                    currents[b, k] += s_i * w_free[c, i, k]
        for b in range(batch):
            if accumulate:
                before[:] = state[c, b, n_clamped:]
            _update(state, currents[b], leak, dt, beta, targets, c, b, n_clamped, out_start, nudged)
            if record:
                trajectory[m + 1, c, b] = state[c, b]
            if accumulate:
                for i in range(n):
                    s_i = state[c, b, i]
                    for k in range(n_free):
                        sums[i, n_clamped + k] += s_i * (state[c, b, n_clamped + k] - before[k])


def relax_loops(w_free, leak, state, n_clamped, n_steps, dt, beta, targets, trajectory, sums):
    """Relax ``state`` ``(S, B, N)`` in place, summing the currents in loops.

    ``w_free`` ``(S, N, N - P)`` are the weights into the free neurons, ``leak``
    ``(S, N - P)`` their leaks, ``targets`` ``(S, B, O)`` (``O = 0``: no nudge).
    ``trajectory`` ``(n_steps + 1, S, B, N)`` receives every state when it has rows (a
    ``(0, S, B, N)`` array records nothing); ``sums`` ``(S, N, N)``, zeros, receives
    DEEP's sum of the steps when it has rows.
    """
    n_copies = state.shape[0]
    if trajectory.shape[0] > 0:
        trajectory[0] = state
    no_sums = np.empty((0, 0))
    for c in range(n_copies):
        sums_c = sums[c] if sums.shape[0] > 0 else no_sums
        _relax_copy(
            w_free, leak, state, n_clamped, n_steps, dt, beta, targets, trajectory, sums_c, c
        )


def advance(state, currents, leak, dt, beta, targets, n_clamped):
    """One step of every copy and sample from their currents ``(S, B, N - P)`` (computed
    outside, e.g. by BLAS); ``state`` is updated in place."""
    n_copies, batch, n = state.shape
    n_out = targets.shape[2]
    out_start = n - n_clamped - n_out
    for c in range(n_copies):
        for b in range(batch):
            _update(
                state,
                currents[c, b],
                leak,
                dt,
                beta,
                targets,
                c,
                b,
                n_clamped,
                out_start,
                n_out > 0,
            )


@numba.njit
def row_sum(row):
    """``row.sum()`` as NumPy adds up a contiguous float64 row of at most 128 values
    (its pairwise summation: eight running sums, then the rest in order)."""
    n = row.shape[0]
    if n < 8:
        total = 0.0
        for i in range(n):
            total += row[i]
        return total
    r = row[:8].copy()
    i = 8
    while i < n - n % 8:
        for k in range(8):
            r[k] += row[i + k]
        i += 8
    total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    while i < n:
        total += row[i]
        i += 1
    return total


def train_epochs(
    conductance, enabled, starts, targets, lrs, n_clamped, free_steps, nudged_steps, dt, beta,
    extra_leak, s0, weights, sets, resets, set_cells, reset_cells, changed_cells,
):  # fmt: skip
    """Whole epochs of DEEP on exact weights (:class:`deephw.engines.base.Epochs`), with
    the operations of the step-by-step path in its order; returns the epochs done.

    ``conductance`` ``(S, N, N)`` is updated in place; the outputs ``s0`` ``(E, S, B,
    N)``, ``weights`` ``(E, S, N, N)``, ``sets``/``resets`` ``(E, S)`` are filled for
    the epochs done and ``set_cells``/``reset_cells``/``changed_cells`` ``(S, N, N)``
    (zeros) counted. An epoch with a state, a sum or an enabled weight that is not
    finite is not committed: the kernel returns its index.
    """
    n_epochs, n_copies, batch, n = starts.shape
    n_free = n - n_clamped
    w = np.empty((n_copies, n, n))
    w_free = np.empty((n_copies, n, n_free))
    leak = np.empty((n_copies, n_free))
    state = np.empty((n_copies, batch, n))
    sums = np.empty((n_copies, n, n))
    new = np.empty((n_copies, n, n))
    delta = np.empty((n_copies, n, n))
    no_trajectory = np.empty((0, n_copies, batch, n))
    no_targets = np.empty((n_copies, batch, 0))
    no_sums = np.empty((0, 0))
    for e in range(n_epochs):
        for c in range(n_copies):
            for i in range(n):
                for j in range(n):
                    w[c, i, j] = conductance[c, i, j] if enabled[c, i, j] else 0.0
                    if j >= n_clamped:
                        w_free[c, i, j - n_clamped] = w[c, i, j]
            for k in range(n_free):
                leak[c, k] = row_sum(w[c, n_clamped + k]) + extra_leak
        state[:] = starts[e]
        for c in range(n_copies):
            _relax_copy(
                w_free, leak, state, n_clamped, free_steps, dt, 0.0, no_targets,
                no_trajectory, no_sums, c,
            )  # fmt: skip
        if not np.isfinite(state).all():
            return e
        s0[e] = state
        sums[:] = 0.0
        for c in range(n_copies):
            _relax_copy(
                w_free, leak, state, n_clamped, nudged_steps, dt, beta, targets,
                no_trajectory, sums[c], c,
            )  # fmt: skip
        if not np.isfinite(sums).all():
            return e
        scale = lrs[e] / (nudged_steps * batch)
        finite = True
        for c in range(n_copies):
            for i in range(n):
                for j in range(n):
                    d = sums[c, i, j] * scale
                    delta[c, i, j] = d
                    on = 1.0 if enabled[c, i, j] else 0.0
                    new[c, i, j] = (conductance[c, i, j] + d) * on
                    if enabled[c, i, j] and not (np.isfinite(d) and np.isfinite(new[c, i, j])):
                        finite = False
        if not finite:
            return e
        conductance[:] = new
        for c in range(n_copies):
            up = 0
            down = 0
            for i in range(n):
                for j in range(n):
                    weights[e, c, i, j] = new[c, i, j] if enabled[c, i, j] else 0.0
                    if not enabled[c, i, j]:
                        continue
                    d = delta[c, i, j]
                    if d > 0.0:
                        up += 1
                        set_cells[c, i, j] += 1
                    elif d < 0.0:
                        down += 1
                        reset_cells[c, i, j] += 1
                    if d != 0.0:
                        changed_cells[c, i, j] += 1
            sets[e, c] = up
            resets[e, c] = down
    return n_epochs


ENTRY_POINTS = (relax_loops, advance, train_epochs)
"""The functions :mod:`deephw.engines.numba_cache` compiles and caches."""
