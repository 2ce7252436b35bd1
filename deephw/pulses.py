"""Stochastic pulse maths: the coincidences of the in-situ update during a nudged phase.

At nudged step ``m`` of chip ``s``, over ``bit_length`` time slots, row ``i`` of sample
``b`` fires with probability ``min(1, c_x s_i(m))`` and column ``j`` with
``min(1, c_d |d_j|)``, ``d_j = s_j(m) - s_j(m-1)``; a coincidence is one pulse of sign
``sign(d_j)`` on cell ``(i, j)`` (Gokmen & Vlasov 2016). With ``c_x c_d = gain =
lr / (Mb B bit_length dw_min)`` the expected pulses times ``dw_min`` are DEEP's rule
(eq. 2) while no probability saturates. With update management ``c_x / c_d = max|d| /
max s`` per chip and step.

:class:`InSituRequest` asks an engine to accumulate these coincidences itself during a
relax call (the nudged phase) and to return the ``(2, S, N, N)`` up/down counts summed
over the steps and the batch instead of the trajectory. The update schemes use
:func:`coincidences` for the same draws outside the engine; engines import this module,
never the device draws themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deephw.devices import draws


@dataclass(frozen=True, eq=False)
class InSituRequest:
    """Accumulate the in-situ coincidences inside the engine during one relax call.

    Attributes
    ----------
    bit_length
        Time slots per step.
    gain
        ``(S,)`` product ``c_x c_d`` per chip (``lr / (Mb B bit_length dw_min)``), or one
        number for every chip.
    update_management
        Balance ``c_x / c_d = max|d| / max s`` per chip and step (NumPy engine only;
        the Brian2 engine refuses it).
    rngs
        One generator per chip (or one for all): the NumPy engine's draws.
    seed
        Seed of the Brian2 engine's draws (Brian2's ``rand()``).
    """

    bit_length: int
    gain: np.ndarray | float
    update_management: bool = True
    rngs: draws.RNG | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.bit_length, int | np.integer) or self.bit_length < 1:
            raise ValueError(f"bit_length must be an integer >= 1, got {self.bit_length!r}")

    def gains(self, n_chips: int) -> np.ndarray:
        """``(S,)`` gain per chip."""
        gain = np.broadcast_to(np.asarray(self.gain, dtype=float), (n_chips,))
        if not np.all(gain >= 0):
            raise ValueError("in-situ gains must be >= 0")
        return gain


def factors(
    x: np.ndarray, d: np.ndarray, gain: np.ndarray | float, update_management: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Per-chip row and column factors ``c_x, c_d`` with ``c_x c_d = gain``.

    ``x`` and ``d`` are ``(S, B, N)``; ``gain`` is one number or ``(S,)``.
    """
    n_chips = x.shape[0]
    if not update_management:
        root = np.broadcast_to(np.sqrt(gain), (n_chips,)).astype(float)
        return root, root
    x_max = x.reshape(n_chips, -1).max(axis=1)
    d_max = np.abs(d).reshape(n_chips, -1).max(axis=1)
    ok = (x_max > 0) & (d_max > 0)
    ratio = np.divide(d_max, x_max, out=np.ones(n_chips), where=ok)
    c_x = np.sqrt(gain * ratio)
    return c_x, gain / c_x


def coincidences(
    x: np.ndarray,
    d: np.ndarray,
    gain: np.ndarray | float,
    bit_length: int,
    update_management: bool,
    rng: draws.RNG,
) -> tuple[np.ndarray, np.ndarray]:
    """Up and down coincidence counts ``(S, N, N)`` of one step, summed over the batch.

    ``x = s(m)`` and ``d = s(m) - s(m-1)`` are ``(S, B, N)``; the rows' draws come first,
    then the columns', each ``(S, B, bit_length, N)`` per chip from ``rng``.
    """
    n_chips, batch, n = x.shape
    slots = bit_length
    c_x, c_d = factors(x, d, gain, update_management)
    p_row = np.clip(c_x[:, None, None] * x, 0.0, 1.0)
    p_col = np.clip(c_d[:, None, None] * np.abs(d), 0.0, 1.0)
    rows = draws.uniform(rng, (n_chips, batch, slots, n)) < p_row[:, :, None, :]
    cols = draws.uniform(rng, (n_chips, batch, slots, n)) < p_col[:, :, None, :]
    rows = rows.reshape(n_chips, batch * slots, n).transpose(0, 2, 1).astype(np.int64)
    sign = np.broadcast_to(np.sign(d)[:, :, None, :], cols.shape)
    up = rows @ (cols & (sign > 0)).reshape(n_chips, batch * slots, n).astype(np.int64)
    down = rows @ (cols & (sign < 0)).reshape(n_chips, batch * slots, n).astype(np.int64)
    return up, down


def add_coincidences(
    counts: np.ndarray,
    state: np.ndarray,
    previous: np.ndarray,
    gain: np.ndarray | float,
    request: InSituRequest,
) -> None:
    """Add one nudged step's up and down coincidences (:func:`coincidences` of
    ``x = state``, ``d = state - previous``, drawn from the request's generators) into
    ``counts`` ``(2, S, N, N)``: the one accumulation every engine's in-situ path uses."""
    up, down = coincidences(
        state,
        state - previous,
        gain,
        request.bit_length,
        request.update_management,
        request.rngs,
    )
    counts[0] += up
    counts[1] += down
