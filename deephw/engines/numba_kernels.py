"""Compiled kernels of the numba engine: the clipped Euler relaxation.

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


def relax_loops(w_free, leak, state, n_clamped, n_steps, dt, beta, targets, trajectory):
    """Relax ``state`` ``(S, B, N)`` in place, summing the currents in loops.

    ``w_free`` ``(S, N, N - P)`` are the weights into the free neurons, ``leak``
    ``(S, N - P)`` their leaks, ``targets`` ``(S, B, O)`` (``O = 0``: no nudge).
    ``trajectory`` ``(n_steps + 1, S, B, N)`` receives every state when it has rows (a
    ``(0, S, B, N)`` array records nothing).
    """
    n_copies, batch, n = state.shape
    n_free = n - n_clamped
    n_out = targets.shape[2]
    nudged = n_out > 0
    out_start = n_free - n_out
    record = trajectory.shape[0] > 0
    currents = np.empty((batch, n_free))
    if record:
        trajectory[0] = state
    for c in range(n_copies):
        for m in range(n_steps):
            currents[:] = 0.0
            for i in range(n):
                for b in range(batch):
                    s_i = state[c, b, i]
                    for k in range(n_free):
                        currents[b, k] += s_i * w_free[c, i, k]
            for b in range(batch):
                _update(
                    state, currents[b], leak, dt, beta, targets, c, b, n_clamped, out_start, nudged
                )
                if record:
                    trajectory[m + 1, c, b] = state[c, b]


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


ENTRY_POINTS = (relax_loops, advance)
"""The functions :mod:`deephw.engines.numba_cache` compiles and caches."""
