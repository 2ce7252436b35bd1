"""DEEP (DirEcted Equilibrium Propagation): the paper's rule.

Leak: each neuron's outgoing weight sum (measured through the periphery on a chip) plus
``dynamics.extra_leak``. One nudged phase; the update is eq. 2 over its trajectory,
``dW_ij = lr / (Mb B) sum_b sum_m s_i(m) (s_j(m) - s_j(m-1))`` (:func:`deephw.model.
deep_update`), which in-situ schemes can turn into pulse coincidences step by step.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from deephw import model
from deephw.engines.base import Program
from deephw.rules.base import LearningRule, Step, Update, register_rule


@register_rule("deep")
class Deep(LearningRule):
    """DEEP: measured outgoing-sum leak, one nudged phase, eq. 2 on its trajectory."""

    supports_in_situ = True
    records_trajectory = True
    fuses_epochs = True

    def leak(
        self, weights: np.ndarray, measured: Callable[[], np.ndarray] | None = None
    ) -> np.ndarray:
        if measured is None:
            return model.deep_leak(weights, self.extra_leak)
        return measured() + self.extra_leak

    def learn(self, step: Step) -> Program[Update]:
        if step.in_engine is not None:
            request = dataclasses.replace(step.nudged, in_situ=step.in_engine)
            return Update(counts=(yield from step.run(request)))
        if step.engine_sums:
            sums = yield from step.run(dataclasses.replace(step.nudged, deep_sum=True))
            n_steps, batch = step.nudged.n_steps, step.s0.shape[1]
            return Update(delta=model.deep_delta(sums, self.lr, n_steps, batch))
        trajectory = yield from step.run(dataclasses.replace(step.nudged, record=True))
        trajectory = step.latch(trajectory)
        if step.trajectory_pulses:
            return Update(trajectory=trajectory)
        return Update(delta=model.deep_update(trajectory, self.lr))
