"""Wall times of the NumPy reference engine (a benchmark, not a test).

Prints the median of several repeats of: the 10-seed, 300-epoch XOR training
(M0 = 100, Mb = 10) and one training epoch of N = 128 and N = 512 complete graphs with
a batch of 64 (with the final evaluation that ``train`` does). For the large graphs it
also prints the ratio of that time to the bare matrix products it needs, measured in the
same process.

Run: ``python benchmarks/bench_core.py [--repeats 5]``.
"""

from __future__ import annotations

import argparse

import numpy as np
from timing import median_time

import deephw
from deephw.config import from_dict
from deephw.tasks import Task

M0, MB = 100, 10


def xor_training() -> None:
    """The 10-seed, 300-epoch XOR training of the issue."""
    config = from_dict(
        {
            "task": {"name": "XOR"},
            "dynamics": {"free_steps": M0, "nudged_steps": MB},
            "training": {"epochs": 300, "seeds": 10},
        }
    )
    deephw.train(config)


def large_epoch(n: int, batch: int = 64):
    """One epoch of a complete graph with ``n`` neurons on random patterns."""
    n_in, n_out = n // 8, n // 32
    rng = np.random.default_rng(0)
    task = Task("random", rng.random((batch, n_in)), rng.random((batch, n_out)))
    hidden = n - n_in - 1 - n_out
    config = from_dict(
        {
            "task": {"name": "XOR"},
            "network": {"hidden": hidden},
            "init": {"high": 0.5 / n},
            "dynamics": {"free_steps": M0, "nudged_steps": MB},
            "training": {"epochs": 1, "seeds": 1},
        }
    )
    return lambda: deephw.train(config, task=task)


def bare_products(n: int, batch: int = 64):
    """The state-by-weight products of one epoch and the final evaluation, nothing else.

    ``train`` runs the free phase (M0), the nudged phase (Mb), then evaluates the final
    weights with another free phase (M0): 2 M0 + Mb products.
    """
    rng = np.random.default_rng(0)
    state, weights = rng.random((1, batch, n)), rng.random((1, n, n))

    def run() -> None:
        for _ in range(2 * M0 + MB):
            state @ weights

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    t_xor = median_time(xor_training, args.repeats)
    print(f"XOR, 10 seeds x 300 epochs (M0 {M0}, Mb {MB}): median {t_xor:.3f} s (target < 1 s)")
    for n in (128, 512):
        t_epoch = median_time(large_epoch(n), args.repeats)
        t_bare = median_time(bare_products(n), args.repeats)
        print(
            f"N = {n}, batch 64, one epoch: median {1000 * t_epoch:.1f} ms; "
            f"{t_epoch / t_bare:.2f} x the bare matrix products ({1000 * t_bare:.1f} ms)"
        )


if __name__ == "__main__":
    main()
