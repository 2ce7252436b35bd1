"""The NumPy reference engine: the discrete dynamics as batched array operations."""

from __future__ import annotations

import numpy as np

from deephw.engines.base import Engine, register_engine
from deephw.engines.in_situ import InSituRequest, coincidences


@register_engine("numpy")
class NumpyEngine(Engine):
    """Batched Euler integration of the clipped dynamics with NumPy.

    All ``S x B`` networks advance together in one matrix product per step; only the
    non-clamped columns of the weights are used, so clamped neurons never move.
    """

    def relax(
        self,
        weights: np.ndarray,
        leak: np.ndarray,
        state: np.ndarray,
        n_clamped: int,
        n_steps: int,
        dt: float,
        beta: float = 0.0,
        targets: np.ndarray | None = None,
        record: bool = False,
        in_situ: InSituRequest | None = None,
    ) -> np.ndarray:
        if in_situ is not None and record:
            raise ValueError("in_situ returns coincidence counts, not a trajectory: no record")
        s = np.array(state, dtype=float, copy=True)
        p = n_clamped
        w_free = np.ascontiguousarray(weights[:, :, p:])
        leak_free = np.ascontiguousarray(leak[:, None, p:])
        nudge = beta > 0
        if nudge:
            if targets is None:
                raise ValueError("beta > 0 needs targets")
            n_out = targets.shape[-1]
            out = slice(s.shape[-1] - p - n_out, None)
        traj = np.empty((n_steps + 1, *s.shape)) if record else None
        if record:
            traj[0] = s
        free = s[..., p:]
        velocity = np.empty_like(free)
        if in_situ is not None:
            counts = np.zeros((2, s.shape[0], s.shape[-1], s.shape[-1]), dtype=np.int64)
            gain = in_situ.gains(s.shape[0])
            previous = s.copy()
        for m in range(n_steps):
            np.matmul(s, w_free, out=velocity)
            velocity -= free * leak_free
            if nudge:
                velocity[..., out] += beta * (targets - free[..., out])
            velocity *= dt
            velocity += free
            np.clip(velocity, 0.0, 1.0, out=free)
            if record:
                traj[m + 1] = s
            if in_situ is not None:
                up, down = coincidences(
                    s,
                    s - previous,
                    gain,
                    in_situ.bit_length,
                    in_situ.update_management,
                    in_situ.rngs,
                )
                counts[0] += up
                counts[1] += down
                previous[...] = s
        if in_situ is not None:
            return counts
        return traj if record else s
