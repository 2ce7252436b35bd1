"""DEEP and asymmetric EP: leaks, learning rules, L1 shrinkage and Boltzmann pruning.

All functions work on stacks of ``S`` independent networks: weights ``(S, N, N)`` with
``W[s, i, j]`` the weight of ``i -> j``, states ``(S, B, N)``.
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
    n_steps, n_copies, batch, n = trajectory.shape
    n_steps -= 1
    pre = trajectory[1:].transpose(1, 0, 2, 3).reshape(n_copies, n_steps * batch, n)
    change = np.diff(trajectory, axis=0).transpose(1, 0, 2, 3).reshape(pre.shape)
    return (lr / (n_steps * batch)) * (pre.transpose(0, 2, 1) @ change)


def asym_ep_update(s0: np.ndarray, s_beta: np.ndarray, beta: float, lr: float) -> np.ndarray:
    """Asymmetric EP's rule: ``dW_ij = lr / B sum_b rho(s0_i) (rho(sb_j) - rho(s0_j)) / beta``.

    States are already clipped to [0, 1], so ``rho`` is the identity on them.
    """
    batch = s0.shape[1]
    return (lr / (beta * batch)) * (s0.transpose(0, 2, 1) @ (s_beta - s0))


def l1_request(weights: np.ndarray, delta: np.ndarray, l1: float) -> np.ndarray:
    """The weight change to program: ``delta`` then the L1 shrink ``-l1 sign(W + delta)``."""
    if not l1:
        return delta
    return delta - l1 * np.sign(weights + delta)


def apply_update(weights: np.ndarray, delta: np.ndarray, mask: np.ndarray, l1: float) -> None:
    """Add ``delta`` with L1 shrinkage (:func:`l1_request`), then re-apply the mask, in place."""
    weights += l1_request(weights, delta, l1)
    weights *= mask


def boltzmann_prune(
    weights: np.ndarray,
    mask: np.ndarray,
    threshold: float,
    temperature: float,
    rngs: Sequence[np.random.Generator],
) -> np.ndarray:
    """Boltzmann pruning (eq. 3): remove weak connections at random, for good.

    A present connection with ``|W_ij| < threshold`` is removed with probability
    ``p_ij = exp(-|W_ij|/T) / sum_k exp(-|W_kj|/T)``, the sum running over the present
    incoming connections of ``j``.

    Parameters
    ----------
    weights, mask
        ``(S, N, N)`` weights and boolean structural masks; both are updated in place.
    threshold, temperature
        ``lambda`` and ``T`` of eq. 3.
    rngs
        One generator per network copy (each seed draws from its own stream).

    Returns
    -------
    numpy.ndarray
        ``(S, N, N)`` boolean array of the connections removed now.
    """
    magnitude = np.abs(weights)
    logits = np.where(mask, -magnitude / temperature, -np.inf)
    top = logits.max(axis=1, keepdims=True)
    top[~np.isfinite(top)] = 0.0
    boltzmann = np.exp(logits - top)
    total = boltzmann.sum(axis=1, keepdims=True)
    prob = np.divide(boltzmann, total, out=np.zeros_like(boltzmann), where=total > 0)
    draws = np.stack([rng.random(weights.shape[1:]) for rng in rngs])
    removed = mask & (magnitude < threshold) & (draws < prob)
    mask &= ~removed
    weights *= mask
    return removed
