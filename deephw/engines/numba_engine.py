"""The numba engine: the NumPy engine's discrete dynamics as JIT-compiled loops.

It answers the same :class:`~deephw.engines.base.Relax` requests as the NumPy engine with
the same operations per step (:mod:`deephw.engines.numba_kernels`): small networks run
every step in compiled loops, without a Python call per step (their currents are summed
in another order than BLAS's, so the engines differ by round-off); large ones take the
currents from the NumPy engine's product, one BLAS call per step, and do the rest of the
step compiled in one pass (then the engines agree bit for bit). It also answers DEEP's
sum over a nudged phase (``Relax.deep_sum``) and, for small networks, runs of whole
epochs (:class:`~deephw.engines.base.Epochs`, :mod:`deephw.fused`) in one compiled call.
Compiled code is cached on disk (:mod:`deephw.engines.numba_cache`), so only the first
run in a folder pays the compilation. numba is imported when an engine is created, never
when this module is.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from deephw import model
from deephw.engines.base import (
    Capabilities,
    Engine,
    Epochs,
    EpochsAnswer,
    Relax,
    register_engine,
    request_shape,
)
from deephw.engines.numba_cache import default_cache_dir, kernels
from deephw.multiply import DenseMultiply, IRDropMultiply, MultiplyModel
from deephw.pulses import add_coincidences

BLAS_FROM = 512
"""Products ``N (N - P)`` per sample from which the currents come from NumPy's BLAS (the
NumPy engine's product, one call per step) instead of compiled loops.

Measured on a 2-core x86-64 machine (100 steps, shared with other work): loops win on
the paper's graph (54 weights per copy: 0.13 against 0.25 ms for 10 copies of 4
samples), tie at N = 16 (208 weights), and BLAS wins from N = 32 (864 weights: 0.75
against 1.0 ms for 4 copies of 16 samples; 1.6 against 3.1 ms at N = 64, batch 64)."""


FUSE_MAX_NEURONS = 128
"""Neurons of the largest network whose epochs run whole: the longest row whose sum the
kernel adds up in NumPy's order (:func:`~deephw.engines.numba_kernels.row_sum`)."""


@register_engine("numba")
class NumbaEngine(Engine):
    """Batched Euler integration of the clipped dynamics in compiled loops (numba).

    Parameters
    ----------
    cache_dir
        Folder of the compiled kernels; by default ``$DEEPHW_NUMBA_CACHE`` or
        ``.numba_cache`` in the working directory.
    blas_from
        Weights per copy (``N (N - P)``) from which the currents use BLAS
        (default :data:`BLAS_FROM`); 0 always, a huge number never.
    fuse
        Run whole epochs in one compiled call (:meth:`epochs`) for the networks below
        ``blas_from`` of at most :data:`FUSE_MAX_NEURONS` neurons; ``False`` leaves
        every epoch to the step-by-step path.

    Attributes
    ----------
    capabilities : Capabilities
        In-situ accumulation (with update management: the coincidences are drawn from the
        request's generators exactly as the NumPy engine draws them), DEEP's sum, whole
        epochs, dense and IR-dropped multiply.
    """

    capabilities = Capabilities(
        in_situ=True,
        managed_in_situ=True,
        circuit_noise=False,
        deep_sum=True,
        epochs=True,
        multiply=(DenseMultiply, IRDropMultiply),
        reasons=(("circuit_noise", "the numba engine integrates the noiseless circuit"),),
    )

    def __init__(
        self,
        cache_dir: str | os.PathLike | None = None,
        blas_from: int = BLAS_FROM,
        fuse: bool = True,
    ) -> None:
        self.cache_dir = Path(cache_dir).resolve() if cache_dir else default_cache_dir()
        self.blas_from = int(blas_from)
        self.fuse = bool(fuse)
        self.kernels = kernels(self.cache_dir)

    def __getstate__(self) -> dict:
        # compiled functions are not sent to other processes: they load them from the cache
        return {"cache_dir": self.cache_dir, "blas_from": self.blas_from, "fuse": self.fuse}

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)

    def answer(self, request: Relax) -> np.ndarray:
        """Run ``request.n_steps`` Euler steps in compiled code; see :class:`Relax`.

        With ``in_situ`` the trajectory is computed first, then the coincidences of each
        step are drawn (:func:`deephw.pulses.coincidences`) in the NumPy engine's order.

        Raises
        ------
        ValueError
            When the arrays of the request do not fit together, or its multiply model is
            neither the dense one nor IR drop's.
        """
        product = _product_weights(request.multiply)
        if product is None:
            raise ValueError(
                f"the {self.name} engine computes currents with DenseMultiply or "
                f"IRDropMultiply only, not {type(request.multiply).__name__}"
            )
        n_copies, batch, n, n_out = request_shape(request)
        p = request.n_clamped
        loops = n * (n - p) < self.blas_from
        record = request.record or request.in_situ is not None or (request.deep_sum and not loops)
        state = np.array(request.state, dtype=float, copy=True, order="C")
        leak = np.ascontiguousarray(np.asarray(request.leak, dtype=float)[:, p:])
        if n_out:
            targets = np.ascontiguousarray(np.asarray(request.targets, dtype=float))
        else:
            targets = np.empty((n_copies, batch, 0))
        rows = request.n_steps + 1 if record else 0
        trajectory = np.empty((rows, n_copies, batch, n))
        beta, dt = (float(request.beta) if n_out else 0.0), float(request.dt)
        arguments = (leak, state, p, int(request.n_steps), dt, beta, targets, trajectory)
        if loops:
            w_free = np.ascontiguousarray(product[:, :, p:])
            sums = np.zeros((n_copies, n, n) if request.deep_sum else (0, 0, 0))
            self.kernels.relax_loops(w_free, *arguments, sums)
            if request.deep_sum:
                return sums
        else:
            self._relax_blas(request.multiply.free_columns(p), *arguments)
        if request.in_situ is not None:
            return in_situ_counts(trajectory, request)
        if request.deep_sum:  # the NumPy engine's product (BLAS), so both agree bit for bit
            return model.deep_sum(trajectory)
        return trajectory if record else state

    def fuses(self, n: int, n_clamped: int) -> bool:
        """Whole epochs are compiled for the networks whose currents are summed in loops."""
        return self.fuse and n * (n - n_clamped) < self.blas_from and n <= FUSE_MAX_NEURONS

    def epochs(self, request: Epochs) -> EpochsAnswer:
        """Run the epochs of ``request`` in one compiled call
        (:func:`~deephw.engines.numba_kernels.train_epochs`): every operation as the
        step-by-step path on this engine does it, so the results are the same bit for bit.

        Raises
        ------
        ValueError
            When the network is not one :meth:`fuses` accepts, or the arrays of the
            request do not fit together.
        """
        if np.ndim(request.starts) != 4:
            raise ValueError(f"starts must be (E, S, B, N), got shape {np.shape(request.starts)}")
        n_epochs, n_copies, batch, n = np.shape(request.starts)
        p = request.n_clamped
        if not (0 <= p < n and self.fuses(n, p)):
            why = "fuse is off" if not self.fuse else (
                f"whole epochs need N (N - P) < blas_from = {self.blas_from} and N <= "
                f"{FUSE_MAX_NEURONS}"
            )  # fmt: skip
            raise ValueError(
                f"the {self.name} engine fuses no epochs of {n} neurons, {p} clamped: {why}"
            )
        n_out = np.shape(request.targets)[-1]
        if not 1 <= n_out <= n - p:
            raise ValueError(f"targets must have 1 to {n - p} outputs, got {n_out}")
        expected = {
            "conductance": (np.shape(request.conductance), (n_copies, n, n)),
            "enabled": (np.shape(request.enabled), (n_copies, n, n)),
            "targets": (np.shape(request.targets), (n_copies, batch, n_out)),
            "lrs": (np.shape(request.lrs), (n_epochs,)),
        }
        for name, (shape, wanted) in expected.items():
            if shape != wanted:
                raise ValueError(f"{name} must be {wanted}, got {shape}")
        conductance = np.array(request.conductance, dtype=float, order="C")
        s0 = np.empty((n_epochs, n_copies, batch, n))
        weights = np.empty((n_epochs, n_copies, n, n))
        sets, resets = np.zeros((2, n_epochs, n_copies), dtype=np.int64)
        cells = np.zeros((3, n_copies, n, n), dtype=np.int64)
        done = self.kernels.train_epochs(
            conductance,
            np.ascontiguousarray(request.enabled, dtype=np.bool_),
            np.ascontiguousarray(request.starts, dtype=float),
            np.ascontiguousarray(request.targets, dtype=float),
            np.ascontiguousarray(request.lrs, dtype=float),
            p,
            int(request.free_steps),
            int(request.nudged_steps),
            float(request.dt),
            float(request.beta),
            float(request.extra_leak),
            s0,
            weights,
            sets,
            resets,
            cells[0],
            cells[1],
            cells[2],
        )
        return EpochsAnswer(
            done, s0[:done], weights[:done], conductance, sets[:done], resets[:done], *cells
        )

    def _relax_blas(self, currents, leak, state, p, n_steps, dt, beta, targets, trajectory):
        """The steps of a large network: its currents from NumPy (BLAS), the rest of each
        step compiled (:func:`~deephw.engines.numba_kernels.advance`)."""
        into = np.empty((*state.shape[:2], state.shape[2] - p))
        if trajectory.shape[0]:
            trajectory[0] = state
        for m in range(n_steps):
            currents(state, into)
            self.kernels.advance(state, into, leak, dt, beta, targets, p)
            if trajectory.shape[0]:
                trajectory[m + 1] = state


def in_situ_counts(trajectory: np.ndarray, request: Relax) -> np.ndarray:
    """``(2, S, N, N)`` up and down coincidence counts of a recorded nudged phase, drawn
    step after step from the request's generators as the NumPy engine draws them."""
    in_situ = request.in_situ
    n_copies, n = trajectory.shape[1], trajectory.shape[-1]
    counts = np.zeros((2, n_copies, n, n), dtype=np.int64)
    gain = in_situ.gains(n_copies)
    for m in range(1, trajectory.shape[0]):
        add_coincidences(counts, trajectory[m], trajectory[m - 1], gain, in_situ)
    return counts


def _product_weights(multiply: MultiplyModel) -> np.ndarray | None:
    """The ``(S, N, N)`` matrix whose product with the states gives the currents, for
    the models whose currents are such a product: the dense array's weights, and an
    IR-dropped array's effective weights (its circuit is linear in the row drives)."""
    if type(multiply) is DenseMultiply:
        return multiply.weights
    if type(multiply) is IRDropMultiply:
        return multiply.effective
    return None
