"""Wall times of the NumPy reference engine (a benchmark, not a test).

Prints the median of several repeats of: the 10-seed, 300-epoch XOR training
(M0 = 100, Mb = 10), and one training epoch of N = 128 and N = 512 complete graphs with
a batch of 64 with its ratio to the bare matrix products it needs, measured in the same
process (:mod:`large_epochs`).

Run: ``python benchmarks/bench_core.py [--repeats 5]``.
"""

from __future__ import annotations

import argparse

from large_epochs import M0, MB, epoch_time
from timing import median_time

import deephw
from deephw.config import from_dict


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    t_xor = median_time(xor_training, args.repeats)
    print(f"XOR, 10 seeds x 300 epochs (M0 {M0}, Mb {MB}): median {t_xor:.3f} s (target < 1 s)")
    for n in (128, 512):
        t_epoch, t_bare = epoch_time("numpy", n, 64, args.repeats)
        print(
            f"N = {n}, batch 64, one epoch: median {1000 * t_epoch:.1f} ms; "
            f"{t_epoch / t_bare:.2f} x the bare matrix products ({1000 * t_bare:.1f} ms)"
        )


if __name__ == "__main__":
    main()
