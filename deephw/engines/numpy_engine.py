"""The NumPy reference engine: the discrete dynamics as batched array operations."""

from __future__ import annotations

import numpy as np

from deephw.engines.base import Capabilities, Engine, Relax, register_engine
from deephw.multiply import DenseMultiply, IRDropMultiply
from deephw.pulses import add_coincidences

# np.clip's own ufunc: np.clip checks its arguments in Python before calling it, which
# costs about as much as the clipping of a batch of digits states at every step
_clip = (np._core if hasattr(np, "_core") else np.core).umath.clip  # numpy 2 / 1.x


@register_engine("numpy")
class NumpyEngine(Engine):
    """Batched Euler integration of the clipped dynamics with NumPy.

    All ``S x B`` networks advance together in one matrix product per step; only the
    non-clamped columns are computed, so clamped neurons never move.
    """

    capabilities = Capabilities(
        in_situ=True,
        managed_in_situ=True,
        circuit_noise=False,
        multiply=(DenseMultiply, IRDropMultiply),
        reasons=(("circuit_noise", "the reference engine integrates the noiseless circuit"),),
    )

    def answer(self, request: Relax) -> np.ndarray:
        s = np.array(request.state, dtype=float, copy=True)
        p, beta, targets, record = request.n_clamped, request.beta, request.targets, request.record
        in_situ, n_steps, dt = request.in_situ, request.n_steps, request.dt
        currents = request.multiply.free_columns(p)
        leak_free = np.ascontiguousarray(request.leak[:, None, p:])
        nudge = request.nudged
        if nudge:
            n_out = targets.shape[-1]
            out = slice(s.shape[-1] - p - n_out, None)
        # each copy's trajectory is one block (the view has the (steps, S, B, N) shape):
        # DEEP's update multiplies it per copy without gathering it
        traj = np.empty((s.shape[0], n_steps + 1, *s.shape[1:])).swapaxes(0, 1) if record else None
        if record:
            traj[0] = s
        free = s[..., p:]
        velocity = np.empty_like(free)
        if in_situ is not None:
            counts = np.zeros((2, s.shape[0], s.shape[-1], s.shape[-1]), dtype=np.int64)
            gain = in_situ.gains(s.shape[0])
            previous = s.copy()
        for m in range(n_steps):
            currents(s, velocity)
            velocity -= free * leak_free
            if nudge:
                velocity[..., out] += beta * (targets - free[..., out])
            velocity *= dt
            velocity += free
            _clip(velocity, 0.0, 1.0, out=free)
            if record:
                traj[m + 1] = s
            if in_situ is not None:
                add_coincidences(counts, s, previous, gain, in_situ)
                previous[...] = s
        if in_situ is not None:
            return counts
        return traj if record else s
