"""Symmetric equilibrium propagation (Scellier & Bengio 2017), on the same engines.

Tied weights ``W_ij = W_ji`` between free neurons, leak 1: the engines' dynamics are
then ``ds_j/dt = sum_i W_ij rho(s_i) + b_j - s_j`` (+ the nudge), ``rho`` the hard
sigmoid (states live on the rails [0, 1], so ``rho(s) = s``) and ``b_j`` the bias
neuron's weight. The update is

    dW_ij = lr / B sum_b (rho(sb_i) rho(sb_j) - rho(s0_i) rho(s0_j)) / beta,

symmetric in ``i, j``, so both cells of a tied pair are programmed with the same
change; with ``options: {nudging: centred}`` a second phase nudged with ``-beta``
replaces ``s0`` and the difference is divided by ``2 beta`` (Laborieux et al. 2021).
Clamped neurons receive no edges, so an input's (or the bias's) weight onto a free
neuron stays one-directional: only free <-> free pairs are tied. The initial draws are
symmetrised by mirroring the upper triangle of the free block. Pruning removes cells
one by one and would untie pairs, so this rule refuses it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from deephw.engines.base import Program
from deephw.errors import ConfigError
from deephw.rules.base import LearningRule, Step, Update, register_rule
from deephw.validation import check

if TYPE_CHECKING:
    from deephw.config import RunConfig
    from deephw.topology import Topology


@dataclass(frozen=True)
class SymEPOptions:
    """``nudging``: ``one_sided`` (free and +beta phases) or ``centred`` (+beta, -beta)."""

    nudging: str = field(
        default="one_sided",
        metadata=check(choices=("one_sided", "centred"), doc="+beta phase, or +beta and -beta"),
    )


@register_rule("sym_ep")
class SymEP(LearningRule):
    """Symmetric EP: leak 1, tied free-free weights, the contrastive Hebbian update."""

    Options = SymEPOptions

    def check(self, config: RunConfig, topology: Topology) -> None:
        if config.pruning.enabled:
            reason = "learning.rule sym_ep ties weight pairs; pruning would untie them"
            raise ConfigError("", "pruning.enabled", True, reason)
        free = topology.mask[topology.n_clamped :, topology.n_clamped :]
        if not np.array_equal(free, free.T):
            reason = "learning.rule sym_ep needs every free-free edge in both directions"
            raise ConfigError("", "network.topology", config.network.topology, reason)

    def initial_weights(self, weights: np.ndarray, topology: Topology) -> np.ndarray:
        weights = weights.copy()
        p = topology.n_clamped
        block = weights[:, p:, p:]
        upper = np.triu(block, 1)
        weights[:, p:, p:] = upper + upper.transpose(0, 2, 1) + block * np.eye(block.shape[1])
        return weights

    def learn(self, step: Step) -> Program[Update]:
        plus = step.latch((yield from step.run(step.nudged)))
        if self.options.nudging == "centred":
            minus = dataclasses.replace(step.nudged, beta=-step.nudged.beta)
            reference, span = step.latch((yield from step.run(minus))), 2 * self.beta
        else:
            reference, span = step.s0, self.beta
        batch = plus.shape[1]
        change = _correlation(plus) - _correlation(reference)
        return Update(delta=(self.lr / (span * batch)) * change)


def _correlation(states: np.ndarray) -> np.ndarray:
    """``(S, N, N)`` sum over the batch of ``s_i s_j``."""
    return states.transpose(0, 2, 1) @ states
