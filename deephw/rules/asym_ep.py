"""Asymmetric equilibrium propagation: the paper's baseline.

Leak 1 (every neuron relaxes toward its input), one nudged phase, and the update
``dW_ij = lr / B sum_b rho(s0_i) (rho(sb_j) - rho(s0_j)) / beta``
(:func:`deephw.model.asym_ep_update`).
"""

from __future__ import annotations

from deephw import model
from deephw.engines.base import Program
from deephw.rules.base import LearningRule, Step, Update, register_rule


@register_rule("asym_ep")
class AsymEP(LearningRule):
    """Asymmetric EP: leak 1, one nudged phase, pre-synaptic free state times the change."""

    def learn(self, step: Step) -> Program[Update]:
        s_beta = yield from step.run(step.nudged)
        return Update(delta=model.asym_ep_update(step.s0, step.latch(s_beta), self.beta, self.lr))
