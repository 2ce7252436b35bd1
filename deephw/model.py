"""DEEP and asymmetric EP: leaks, learning rules, L1 shrinkage and Boltzmann pruning.

All functions work on stacks of ``S`` independent networks: weights ``(S, N, N)`` with
``W[s, i, j]`` the weight of ``i -> j``, states ``(S, B, N)``.

Three options give the variant of the authors' notebooks (defaults: deephw's model):
``l1_sign="before"`` in :func:`l1_request`, ``regrow`` and ``normaliser="column"`` in
:func:`boltzmann_prune`, and a separate bias vector for asymmetric EP
(:func:`separate_bias_update`, :func:`with_bias`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def deep_leak(weights: np.ndarray, extra_leak: float = 0.0) -> np.ndarray:
    """DEEP's leak of each neuron: its outgoing weight sum ``sum_k W_jk`` (+ a constant).

    The constant ``extra_leak`` is the optional neuronal leakage (0 in the paper's model).
    """
    leak = weights.sum(axis=2)
    if extra_leak:
        leak = leak + extra_leak
    return leak


def asym_ep_leak(weights: np.ndarray) -> np.ndarray:
    """Asymmetric EP's leak: every neuron relaxes toward its input at rate 1."""
    return np.ones(weights.shape[::2])


def deep_update(trajectory: np.ndarray, lr: float) -> np.ndarray:
    """DEEP's local rule (eq. 2) from a nudged-phase trajectory.

    ``dW_ij = lr / (Mb B) sum_b sum_{m=1..Mb} s_i(m) (s_j(m) - s_j(m-1))``.

    Parameters
    ----------
    trajectory
        ``(Mb + 1, S, B, N)``; index 0 is the free-phase equilibrium ``s0``.
    lr
        Learning rate.

    Returns
    -------
    numpy.ndarray
        ``(S, N, N)`` weight change, not yet masked.
    """
    n_steps, _, batch, _ = trajectory.shape
    return deep_delta(deep_sum(trajectory), lr, n_steps - 1, batch)


def deep_sum(trajectory: np.ndarray) -> np.ndarray:
    """The sum of eq. 2, ``sum_b sum_{m=1..Mb} s_i(m) (s_j(m) - s_j(m-1))``, ``(S, N, N)``,
    of a trajectory ``(Mb + 1, S, B, N)``: one product per copy."""
    n_steps, n_copies, batch, n = trajectory.shape
    n_steps -= 1
    rows = n_steps * batch
    out = np.empty((n_copies, n, n))
    change = np.empty((n_steps, batch, n))
    for copy in range(n_copies):
        # one (Mb B)-long product per copy, as the batched product of the stacked copies
        # computes it (same BLAS call, same round-off); a copy's states are contiguous
        # only when it is alone, otherwise the reshape gathers them
        pre = trajectory[1:, copy].reshape(rows, n)
        np.subtract(trajectory[1:, copy], trajectory[:-1, copy], out=change)
        np.matmul(pre.T, change.reshape(rows, n), out=out[copy])
    return out


def deep_delta(sums: np.ndarray, lr: float, n_steps: int, batch: int) -> np.ndarray:
    """DEEP's weight change from the sums of :func:`deep_sum` over ``n_steps`` nudged
    steps of ``batch`` samples: ``lr / (Mb B)`` times them (in place)."""
    sums *= lr / (n_steps * batch)
    return sums


def asym_ep_update(s0: np.ndarray, s_beta: np.ndarray, beta: float, lr: float) -> np.ndarray:
    """Asymmetric EP's rule: ``dW_ij = lr / B sum_b rho(s0_i) (rho(sb_j) - rho(s0_j)) / beta``.

    States are already clipped to [0, 1], so ``rho`` is the identity on them.
    """
    batch = s0.shape[1]
    return (lr / (beta * batch)) * (s0.transpose(0, 2, 1) @ (s_beta - s0))


L1_SIGNS = ("after", "before")
"""Which weight the L1 shrink takes the sign of: after the update (deephw) or before it."""


def l1_request(
    weights: np.ndarray | None, delta: np.ndarray, l1: float, l1_sign: str = "after"
) -> np.ndarray:
    """The weight change to program: ``delta`` and the L1 shrink.

    ``l1_sign="after"``: ``delta - l1 sign(W + delta)`` (deephw); ``"before"``:
    ``delta - l1 sign(W)``, the sign of the weight before the update (the authors'
    notebooks). ``weights`` is only read when ``l1 > 0``.
    """
    if not l1:
        return delta
    if l1_sign == "before":
        return delta - l1 * np.sign(weights)
    return delta - l1 * np.sign(weights + delta)


def apply_update(
    weights: np.ndarray, delta: np.ndarray, mask: np.ndarray, l1: float, l1_sign: str = "after"
) -> None:
    """Add ``delta`` with L1 shrinkage (:func:`l1_request`), then re-apply the mask, in place."""
    weights += l1_request(weights, delta, l1, l1_sign)
    weights *= mask


def separate_bias_update(s0: np.ndarray, s_beta: np.ndarray, beta: float, lr: float) -> np.ndarray:
    """Asymmetric EP's change of a separate bias vector: ``lr / (beta B) sum_b (sb_j - s0_j)``.

    The rule of :func:`asym_ep_update` for a presynaptic activity held at 1; ``(S, N)``.
    """
    batch = s0.shape[1]
    return (lr / (beta * batch)) * (s_beta - s0).sum(axis=1)


def with_bias(weights: np.ndarray, bias: np.ndarray | None, bias_index: int) -> np.ndarray:
    """Weights whose bias-neuron row also carries a separate bias vector ``(S, N)``.

    The bias neuron is held at 1, so ``sum_i W_ij s_i + b_j`` is the input of ``j`` under
    these weights: any engine relaxes a network with a separate bias this way. Returns
    ``weights`` itself when ``bias`` is None.
    """
    if bias is None:
        return weights
    out = weights.copy()
    out[:, bias_index, :] += bias
    return out


NORMALISERS = ("incoming", "column")
"""What eq. 3's sum runs over: the present incoming connections, or the whole column."""


def boltzmann_prune(
    weights: np.ndarray,
    mask: np.ndarray,
    threshold: float,
    temperature: float,
    rngs: Sequence[np.random.Generator],
    *,
    regrow: bool = False,
    normaliser: str = "incoming",
) -> np.ndarray:
    """Boltzmann pruning (eq. 3): remove weak connections at random.

    A present connection with ``|W_ij| < threshold`` is removed with probability
    ``p_ij = exp(-|W_ij|/T) / sum_k exp(-|W_kj|/T)``. With ``normaliser="incoming"`` the
    sum runs over the present incoming connections of ``j``; with ``"column"`` over the
    whole column ``k = 0..N-1``, every absent entry (self loop, removed or structurally
    missing connection) adding ``exp(0)``, as the authors' notebooks compute it.

    By default a removed connection is gone for good (its mask entry is cleared). With
    ``regrow`` it is only zeroed and stays in the mask, free to grow back at the next
    update; the test is then ``|W_ij| <= threshold``, so that zeroed connections stay
    candidates at any threshold (the authors' notebooks).

    Parameters
    ----------
    weights, mask
        ``(S, N, N)`` weights and boolean structural masks; both are updated in place
        (the mask only without ``regrow``).
    threshold, temperature
        ``lambda`` and ``T`` of eq. 3.
    rngs
        One generator per network copy (each seed draws from its own stream).
    regrow, normaliser
        The authors' variant, see above.

    Returns
    -------
    numpy.ndarray
        ``(S, N, N)`` boolean array of the connections removed (or zeroed) now.
    """
    magnitude = np.abs(weights)
    if normaliser == "column":
        logits = -np.where(mask, magnitude, 0.0) / temperature
    else:
        logits = np.where(mask, -magnitude / temperature, -np.inf)
    top = logits.max(axis=1, keepdims=True)
    top[~np.isfinite(top)] = 0.0
    boltzmann = np.exp(logits - top)
    total = boltzmann.sum(axis=1, keepdims=True)
    prob = np.divide(boltzmann, total, out=np.zeros_like(boltzmann), where=total > 0)
    draws = np.stack([rng.random(weights.shape[1:]) for rng in rngs])
    weak = magnitude <= threshold if regrow else magnitude < threshold
    removed = mask & weak & (draws < prob)
    if regrow:
        weights[removed] = 0.0
    else:
        mask &= ~removed
        weights *= mask
    return removed
