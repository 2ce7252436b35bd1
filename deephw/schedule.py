"""Learning-rate schedules: the rate of each epoch from ``learning.lr`` and the schedule.

``constant`` returns ``lr`` itself (the same float, so runs without a schedule are
unchanged bit for bit); ``step`` multiplies it by ``step_factor`` every ``step_every``
epochs; ``cosine`` falls from ``lr`` at epoch 0 towards ``lr_min`` along half a cosine
period over the run's epochs.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from deephw.config import LearningConfig


def learning_rate(learning: LearningConfig, epoch: int, epochs: int) -> float:
    """The learning rate of epoch ``epoch`` (from 0) of a run of ``epochs`` epochs."""
    if learning.schedule == "step":
        return learning.lr * learning.step_factor ** (epoch // learning.step_every)
    if learning.schedule == "cosine":
        fall = 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))
        return learning.lr_min + (learning.lr - learning.lr_min) * fall
    return learning.lr
