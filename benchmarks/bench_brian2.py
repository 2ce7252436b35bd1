"""Wall times of the Brian2 engine against the NumPy engine (a benchmark, not a test).

In one process: the one-time cost of compiling the circuit with the cython target (into an
empty temporary cache), then the median over several repeats of the 10-seed, 300-epoch
XOR training (M0 = 100, Mb = 10) on the NumPy engine and on the Brian2 engine (cython,
warm cache; a new engine per training, so building its network is included), and their
ratio. The same again with the hardware of the Ambrogio et al. (2018) card
(``pcm_ambrogio2018``, hybrid scheme: capacitor updates, transfers into the PCM pair), where
the controller's device simulation adds the same work to both engines. ``--more`` also
times the Brian2 numpy target and the one-``Network.run``-per-call loop once each.

Run: ``python benchmarks/bench_brian2.py [--repeats 5] [--more]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable

import numpy as np
from timing import median_time

import deephw
from deephw.config import RunConfig, from_dict
from deephw.engines.brian2_engine import Brian2Engine

M0, MB = 100, 10
CONFIG = {
    "task": {"name": "XOR"},
    "dynamics": {"free_steps": M0, "nudged_steps": MB},
    "training": {"epochs": 300, "seeds": 10},
}
HARDWARE = {
    "ideal card, digital scheme": {"card": "ideal", "scheme": "digital"},
    "pcm_ambrogio2018 card, hybrid scheme": {"card": "pcm_ambrogio2018", "scheme": "hybrid"},
}
"""The chips the training is timed on (``hardware`` sections of the run config)."""


def first_calls(engine: Brian2Engine) -> float:
    """Wall time of a new engine's first free-phase and first recorded relax on XOR's shape.

    These build the network and generate (and, with a cold cache, compile) every code
    object the training uses.
    """
    n_seeds, batch, n, n_clamped = CONFIG["training"]["seeds"], 4, 9, 3
    weights = np.full((n_seeds, n, n), 0.1)
    leak = weights.sum(axis=2)
    state = np.full((n_seeds, batch, n), 0.05)
    targets = np.ones((n_seeds, batch, 1))
    start = time.perf_counter()
    s0 = engine.relax(weights, leak, state, n_clamped, M0, 0.5)
    engine.relax(weights, leak, s0, n_clamped, MB, 0.5, 1.5, targets, record=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--more", action="store_true", help="also numpy target, network loop")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as empty_cache:
        t_cold = first_calls(Brian2Engine(target="cython", cache_dir=empty_cache))
    # Compiled modules stay loaded: the project cache folder serves later engines warm.
    t_warm = first_calls(Brian2Engine(target="cython"))
    print(
        f"Brian2 cython, first relax calls: {t_cold:.2f} s with an empty cache, "
        f"{t_warm:.3f} s warm -> one-time compile cost {t_cold - t_warm:.2f} s"
    )

    what = f"XOR, 10 seeds x 300 epochs (M0 {M0}, Mb {MB}), median of {args.repeats}"
    numpy_times = {}
    for label, hardware in HARDWARE.items():
        config = from_dict({**CONFIG, "hardware": hardware})
        numpy_times[label] = t_numpy = median_time(train_on(config), args.repeats)
        t_cython = median_time(train_on(config, target="cython"), args.repeats)
        reused = Brian2Engine(target="cython")
        t_reused = median_time(train_on(config, engine=reused), args.repeats)
        gap = np.abs(train_on(config)().weights - train_on(config, engine=reused)().weights).max()
        print(f"{what}, {label}:")
        print(f"  numpy engine:                         {t_numpy:.3f} s")
        print(f"  brian2 engine, cython, warm cache:    {t_cython:.3f} s (new engine per training)")
        print(f"  brian2 engine, cython, engine reused: {t_reused:.3f} s")
        print(f"  ratio brian2 / numpy: {t_cython / t_numpy:.2f} (target <= 3)")
        print(f"  largest final weight difference between the engines: {gap:.3g}")
    if args.more:
        label, hardware = next(iter(HARDWARE.items()))
        config = from_dict({**CONFIG, "hardware": hardware})
        print(f"once each, {label}:")
        for what, options in (
            ("brian2, numpy target", {"target": "numpy"}),
            ("brian2, cython, one Network.run per call", {"target": "cython", "loop": "network"}),
        ):
            start = time.perf_counter()
            train_on(config, **options)()
            elapsed = time.perf_counter() - start
            ratio = elapsed / numpy_times[label]
            print(f"  {what}: {elapsed:.3f} s ({ratio:.1f} x numpy)")


def train_on(
    config: RunConfig, engine: Brian2Engine | None = None, **options: object
) -> Callable[[], deephw.TrainResult]:
    """A training of ``config``: on the NumPy engine, on ``engine``, or on a new Brian2
    engine with ``options`` (built inside the timed call)."""
    if options:
        return lambda: deephw.train(config, engine=Brian2Engine(**options))
    return lambda: deephw.train(config, engine=engine)


if __name__ == "__main__":
    main()
