"""Wall times of the numba engine against the NumPy engine and a bare compiled loop.

In one process (medians of several repeats, after a warm-up):

1. the 10-seed, 300-epoch XOR training of ``bench_core.py`` (M0 100, Mb 10, dt 0.5,
   beta 1.5, lr 10, full batch, final evaluation) on the NumPy engine, on the numba
   engine (warm; the compile time with an empty cache and the load time from a warm
   cache are printed first) with its whole epochs in one call (``fuse``, the default)
   and step by step, and as a bare compiled loop of the same model written here (one
   numba function: relaxations, DEEP's update, the final evaluation; nothing else), and
   with an engine that answers every request at once without relaxing (the
   controller's own work per epoch in Python: reads, scoring, update, bookkeeping);
2. the authors' settings, one network (dt 0.05, 1000 + 1000 steps per epoch, beta 10,
   lr 100, W ~ N(0, 0.05), batch 4), per epoch, on the same;
3. an epoch of an N = 512 complete graph with a batch of 64 on both engines, against
   the bare matrix products it needs (:mod:`large_epochs`).

Run: ``python benchmarks/bench_numba.py [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time

import numba
import numpy as np
from large_epochs import M0, MB, epoch_time
from timing import median_time

import deephw
from deephw.config import from_dict
from deephw.engines import Engine, Relax, get_engine
from deephw.tasks import Task
from deephw.topology import complete

SEEDS, EPOCHS = 10, 300
XOR = {
    "task": {"name": "XOR"},
    "dynamics": {"free_steps": M0, "nudged_steps": MB},
    "training": {"epochs": EPOCHS, "seeds": SEEDS},
}
AUTHORS_EPOCHS = 20
AUTHORS = {
    "task": {"name": "XOR"},
    "init": {"weights": "normal", "std": 0.05},
    "dynamics": {"dt": 0.05, "free_steps": 1000, "nudged_steps": 1000, "beta": 10.0},
    "learning": {"lr": 100.0},
    "training": {"epochs": AUTHORS_EPOCHS, "seeds": 1},
}


@numba.njit
def _relax(w, leak, s, n_clamped, n_steps, dt, beta, y, dw):
    """``n_steps`` clipped Euler steps of one network's batch ``s`` (in place); with
    ``beta > 0`` the outputs are nudged toward ``y`` and DEEP's sum
    ``s_i(m) (s_j(m) - s_j(m-1))`` is added to ``dw``."""
    batch, n = s.shape
    n_out = y.shape[1]
    current = np.empty(n)
    new = np.empty(n)
    for b in range(batch):
        for _ in range(n_steps):
            for j in range(n_clamped, n):
                current[j] = 0.0
            for i in range(n):
                for j in range(n_clamped, n):
                    current[j] += s[b, i] * w[i, j]
            for j in range(n_clamped, n):
                v = current[j] - s[b, j] * leak[j]
                if beta > 0.0 and j >= n - n_out:
                    v += beta * (y[b, j - n + n_out] - s[b, j])
                new[j] = min(max(s[b, j] + dt * v, 0.0), 1.0)
            if beta > 0.0:
                for i in range(n):
                    s_i = new[i] if i >= n_clamped else s[b, i]
                    for j in range(n_clamped, n):
                        dw[i, j] += s_i * (new[j] - s[b, j])
            for j in range(n_clamped, n):
                s[b, j] = new[j]


@numba.njit
def bare_training(x, y, mask, n_clamped, n_seeds, epochs, m0, mb, dt, beta, lr, init, starts):
    """The whole training of ``n_seeds`` networks and their final free-phase MSE.

    ``init`` ``(S, N, N)`` are the initial weights (masked here), ``starts``
    ``(S, epochs + 1, B, N - P)`` the free neurons' initial states of each epoch and of
    the final evaluation."""
    batch, n_in = x.shape
    n = mask.shape[0]
    mse = np.empty(n_seeds)
    for c in range(n_seeds):
        w = init[c] * mask
        dw = np.zeros((n, n))
        s = np.empty((batch, n))
        for epoch in range(epochs + 1):
            leak = w.sum(axis=1)
            s[:, :n_in] = x
            s[:, n_in] = 1.0
            s[:, n_clamped:] = starts[c, epoch]
            _relax(w, leak, s, n_clamped, m0, dt, 0.0, y, dw)
            if epoch == epochs:  # the final evaluation
                mse[c] = 0.5 * ((s[:, n - y.shape[1] :] - y) ** 2).sum() / batch
                break
            dw[:] = 0.0
            _relax(w, leak, s, n_clamped, mb, dt, beta, y, dw)
            w += (lr / (mb * batch)) * dw
            w *= mask
    return mse


def bare_xor(config: dict, n_seeds: int):
    """The bare loop of ``config`` (XOR, paper graph) as a timed callable."""
    cfg = from_dict(config)
    topo = complete(2, cfg.network.hidden, 1)
    x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([[0.0], [1.0], [1.0], [0.0]])
    rng = np.random.default_rng(0)
    shape = (n_seeds, topo.n, topo.n)
    if cfg.init.weights == "normal":
        init = rng.normal(0.0, cfg.init.std, shape)
    else:
        init = rng.uniform(cfg.init.low, cfg.init.high, shape)
    mask = topo.mask.astype(float)
    starts = rng.uniform(0.0, cfg.init.state_high, (n_seeds, cfg.training.epochs + 1, 4, 6))
    dyn, lr, epochs = cfg.dynamics, cfg.learning.lr, cfg.training.epochs
    arguments = (x, y, mask, topo.n_clamped, n_seeds, epochs, dyn.free_steps,
                 dyn.nudged_steps, dyn.dt, dyn.beta, lr, init, starts)  # fmt: skip
    return lambda: bare_training(*arguments)


class Instant(Engine):
    """Answers every request with its initial state (a trajectory of copies): no
    relaxation at all, so a training on it times the controller alone."""

    name = "instant"

    def answer(self, request: Relax) -> np.ndarray:
        state = np.array(request.state, dtype=float)
        if request.record:
            return np.broadcast_to(state, (request.n_steps + 1, *state.shape)).copy()
        return state


def training(config: dict, engine: str | Engine, task: Task | None = None):
    """A ``deephw.train`` of ``config`` on an engine (or a named one), as a timed callable."""
    run = from_dict(config)
    chosen = get_engine(engine) if isinstance(engine, str) else engine
    return lambda: deephw.train(run, engine=chosen, task=task)


LOAD = """
import time
start = time.perf_counter()
import numpy as np
from deephw.engines import get_engine
from deephw.engines.base import Epochs
engine = get_engine("numba", cache_dir={folder!r})
w = np.full((1, 9, 9), 0.1)
for blas_from in (0, 10**9):
    engine.blas_from = blas_from
    engine.relax(w, w.sum(axis=2), np.full((1, 4, 9), 0.05), 3, 5, 0.5, 1.5, np.ones((1, 4, 1)))
engine.epochs(Epochs(w, w > 0, np.full((2, 1, 4, 9), 0.5), np.ones((1, 4, 1)), np.ones(2), 3, 5, 2,
                     0.5, 1.5))
print(time.perf_counter() - start)
"""


def compile_and_load_times() -> tuple[float, float]:
    """Seconds for a new process to import deephw and run its three kernels once (the
    loops, the BLAS steps, whole epochs), with an empty cache folder (compiles and
    writes it), then again (loads it)."""
    with tempfile.TemporaryDirectory() as folder:
        runs = [
            subprocess.run(
                [sys.executable, "-c", LOAD.format(folder=folder)],
                capture_output=True,
                text=True,
                check=True,
            )
            for _ in range(2)
        ]
    cold, warm = (float(run.stdout.split()[-1]) for run in runs)
    return cold, warm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    repeats = args.repeats
    cold, warm = compile_and_load_times()
    print(
        f"numba engine, a new process's import and first calls of its three kernels: "
        f"{cold:.2f} s with an empty cache (compiles), {warm:.2f} s from the cache"
    )
    start = time.perf_counter()
    training(XOR, "numba")()
    print(f"numba engine, first XOR training in this process: {time.perf_counter() - start:.2f} s")
    start = time.perf_counter()
    bare = bare_xor(XOR, SEEDS)
    bare()
    print(f"bare loop, compile and first run: {time.perf_counter() - start:.2f} s")

    print(f"XOR, {SEEDS} seeds x {EPOCHS} epochs (M0 {M0}, Mb {MB}), median of {repeats}:")
    t_numpy = median_time(training(XOR, "numpy"), repeats)
    t_numba = median_time(training(XOR, "numba"), repeats)
    t_steps = median_time(training(XOR, get_engine("numba", fuse=False)), repeats)
    t_bare = median_time(bare, repeats)
    t_controller = median_time(training(XOR, Instant()), repeats)
    print(
        f"  numpy engine {t_numpy:.3f} s, numba engine {t_numba:.3f} s (whole epochs) and "
        f"{t_steps:.3f} s (step by step), bare loop {t_bare:.3f} s"
    )
    print(
        f"  the controller alone, step by step (no relaxation): {t_controller:.3f} s = "
        f"{t_controller / t_bare:.2f} x the bare loop"
    )
    print(
        f"  numba / bare {t_numba / t_bare:.2f} (target <= 2; step by step "
        f"{t_steps / t_bare:.2f}), numpy / bare {t_numpy / t_bare:.2f}, numpy / numba "
        f"{t_numpy / t_numba:.2f}"
    )

    print(f"authors' settings, one network, per epoch (median of {repeats} x {AUTHORS_EPOCHS}):")
    per = 1000 / AUTHORS_EPOCHS
    a_numpy = per * median_time(training(AUTHORS, "numpy"), repeats)
    a_numba = per * median_time(training(AUTHORS, "numba"), repeats)
    a_steps = per * median_time(training(AUTHORS, get_engine("numba", fuse=False)), repeats)
    authors_bare = bare_xor(AUTHORS, 1)
    authors_bare()
    a_bare = per * median_time(authors_bare, repeats)
    print(
        f"  numpy engine {a_numpy:.1f} ms, numba engine {a_numba:.2f} ms (whole epochs) and "
        f"{a_steps:.2f} ms (step by step), bare loop {a_bare:.2f} ms"
    )
    print(
        f"  numba / bare {a_numba / a_bare:.2f} (step by step {a_steps / a_bare:.2f}), "
        f"numpy / bare {a_numpy / a_bare:.1f}"
    )

    n, batch = 512, 64
    print(f"N = {n}, batch {batch}, one epoch (median of {repeats}):")
    for engine in ("numpy", "numba"):
        t_epoch, t_products = epoch_time(engine, n, batch, repeats)
        print(
            f"  {engine} engine {1000 * t_epoch:.1f} ms: {t_epoch / t_products:.2f} x the bare "
            f"matrix products ({1000 * t_products:.1f} ms; target <= 1.3 for numba)"
        )


if __name__ == "__main__":
    main()
