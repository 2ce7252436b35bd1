"""A supervised task: input patterns in [0, 1] and their targets."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, eq=False)
class Task:
    """Patterns ``x`` (``(B, n_inputs)``) and targets ``y`` (``(B, n_outputs)``)."""

    name: str
    x: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)

    @property
    def n_inputs(self) -> int:
        """Number of input neurons the task needs."""
        return int(self.x.shape[1])

    @property
    def n_outputs(self) -> int:
        """Number of output neurons the task needs."""
        return int(self.y.shape[1])

    @property
    def n_patterns(self) -> int:
        """Number of samples."""
        return int(self.x.shape[0])
