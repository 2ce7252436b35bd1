"""Asymmetric equilibrium propagation: the paper's baseline.

Leak 1 (every neuron relaxes toward its input), one nudged phase, and the update
``dW_ij = lr / B sum_b rho(s0_i) (rho(sb_j) - rho(s0_j)) / beta``
(:func:`deephw.model.asym_ep_update`).

Option ``separate_bias`` (the authors' notebooks): besides the bias neuron's weights, a
bias vector ``b`` drives each free neuron, ``ds_j/dt = sum_i W_ij rho(s_i) + b_j - s_j``.
It starts at 0, changes by ``lr / (beta B) sum_b (sb_j - s0_j)``, and is never
regularised or pruned; on a chip it is a register in the periphery driving a bias
current into each column, not crossbar cells.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from deephw import model
from deephw.engines.base import Program
from deephw.multiply import MultiplyModel
from deephw.rules.base import LearningRule, Step, Update, register_rule
from deephw.validation import check

if TYPE_CHECKING:
    from deephw.topology import Topology


@dataclass(frozen=True)
class AsymEPOptions:
    """``separate_bias``: a bias vector in the periphery, beside the bias neuron's row."""

    separate_bias: bool = field(
        default=False, metadata=check(doc="a separate bias vector, starting at 0")
    )


@dataclass
class BiasRegister:
    """The separate bias of each network, ``(S, N)``, and where it enters."""

    values: np.ndarray
    row: int
    n_clamped: int


@register_rule("asym_ep")
class AsymEP(LearningRule):
    """Asymmetric EP: leak 1, one nudged phase, pre-synaptic free state times the change."""

    Options = AsymEPOptions

    def start(self, n_copies: int, topology: Topology) -> BiasRegister | None:
        if not self.options.separate_bias:
            return None
        values = np.zeros((n_copies, topology.n))
        return BiasRegister(values, topology.bias_index, topology.n_clamped)

    def present(self, multiply: MultiplyModel, register: BiasRegister | None) -> MultiplyModel:
        if register is None:
            return multiply
        return multiply.with_weights(
            model.with_bias(multiply.weights, register.values, register.row)
        )

    def learn(self, step: Step) -> Program[Update]:
        s_beta = step.latch((yield from step.run(step.nudged)))
        register = step.register
        if register is not None:  # a periphery register: exact, never shrunk or pruned
            change = model.separate_bias_update(step.s0, s_beta, self.beta, self.lr)
            register.values[:, register.n_clamped :] += change[:, register.n_clamped :]
        return Update(delta=model.asym_ep_update(step.s0, s_beta, self.beta, self.lr))
