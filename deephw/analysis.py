"""Stability and conservation analysis of the DEEP dynamics (Propositions 1 and 2).

Proposition 1: with no clamped neurons and ``beta = 0``, ``sum_j ds_j/dt = 0``.
Proposition 2 (Gershgorin): the free-phase equilibrium is locally asymptotically stable if,
for every non-clamped ``j``, ``sum_k W_jk > 0`` and
``sum_{i non-clamped} |W_ij| < |sum_k W_jk|``. The exact check linearises the clipped
dynamics at ``s0``: neurons held on a rail by an outward drive are fixed, the others
must have a Jacobian whose eigenvalues all have negative real part.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def velocity(weights: np.ndarray, leak: np.ndarray, state: np.ndarray) -> np.ndarray:
    """Unclipped ``V_j = sum_i W_ij s_i - leak_j s_j`` for one network.

    ``weights`` is ``(N, N)``, ``leak`` ``(N,)``, ``state`` ``(..., N)``.
    """
    return state @ weights - state * leak


def total_flow(weights: np.ndarray, state: np.ndarray) -> float:
    """``sum_j V_j`` of DEEP with no clamped neurons; zero by Proposition 1."""
    return float(velocity(weights, weights.sum(axis=1), state).sum())


def gershgorin_stable(weights: np.ndarray, n_clamped: int) -> np.ndarray:
    """Proposition 2's sufficient condition, per network.

    Parameters
    ----------
    weights
        ``(S, N, N)`` or ``(N, N)`` weights.
    n_clamped
        Number of clamped neurons ``P``.

    Returns
    -------
    numpy.ndarray
        Boolean per network (a scalar array for a single network).
    """
    w = np.asarray(weights)
    out_sum = w.sum(axis=-1)[..., n_clamped:]
    inflow = np.abs(w[..., n_clamped:, n_clamped:]).sum(axis=-2)
    ok = (out_sum > 0) & (inflow < np.abs(out_sum))
    return ok.all(axis=-1)


@dataclass(frozen=True)
class JacobianCheck:
    """Result of the exact linear stability check at an equilibrium."""

    eigenvalues: np.ndarray
    active: np.ndarray
    stable: bool
    residual: float


def jacobian_check(
    weights: np.ndarray, leak: np.ndarray, s0: np.ndarray, n_clamped: int, tol: float = 1e-9
) -> JacobianCheck:
    """Eigenvalues of the clipped dynamics' Jacobian at ``s0`` for one network and sample.

    A free neuron at 0 with ``V < -tol`` or at 1 with ``V > tol`` is held by the rail and
    drops out; ``J[j, i] = W_ij - delta_ij leak_j`` over the remaining (active) free
    neurons. ``residual`` is the largest ``|V|`` among the active neurons: near 0 when
    ``s0`` really is an equilibrium.
    """
    v = velocity(weights, leak, s0)
    free = np.arange(len(s0)) >= n_clamped
    pinned = ((s0 <= 0) & (v < -tol)) | ((s0 >= 1) & (v > tol))
    active = free & ~pinned
    idx = np.flatnonzero(active)
    jac = weights[np.ix_(idx, idx)].T - np.diag(leak[idx])
    eig = np.linalg.eigvals(jac) if len(idx) else np.empty(0, dtype=complex)
    residual = float(np.abs(v[idx]).max()) if len(idx) else 0.0
    return JacobianCheck(eig, active, bool(np.all(eig.real < 0)), residual)


def rail_fraction(s0: np.ndarray, n_clamped: int) -> np.ndarray:
    """Fraction of free neurons sitting on a rail (0 or 1), per network, over its batch."""
    free = s0[..., n_clamped:]
    on_rail = (free <= 0.0) | (free >= 1.0)
    return on_rail.mean(axis=(-1, -2))


def score(
    outputs: np.ndarray, targets: np.ndarray, accuracy_kind: str
) -> tuple[np.ndarray, np.ndarray]:
    """Per copy: mean over samples of ``1/2 sum_out (s_out - y)^2``, and the accuracy.

    ``threshold`` accuracy: a sample is right when every output is on the target's side
    of 0.5; ``argmax``: when the largest output is the target's largest.
    """
    mse = 0.5 * ((outputs - targets) ** 2).sum(axis=-1).mean(axis=-1)
    if accuracy_kind == "argmax":
        right = outputs.argmax(axis=-1) == targets.argmax(axis=-1)
    else:
        right = ((outputs > 0.5) == (targets > 0.5)).all(axis=-1)
    return mse, right.mean(axis=-1)
