"""IR drop of a full tile: the far cell's loss and the cost of the fast and exact solves.

For square tiles of ``n x n`` cells of 10 µS (uniform) with a fraction ``a = 0.3`` of the
rows driven (Bernoulli draws; the far cell's row always driven), prints the relative loss
of the far cell (farthest from its row driver and from its column's sense amplifier) at
each wire resistance, from the fast iteration (with its steps and bound) and from the
exact nodal solve (with its factorisation and solve times), and the single-line estimate
``1 - 1/cosh(n sqrt(r g a))`` for comparison. The fast iteration diverges where
``eps >= 1`` (then only the exact value is printed). The exact solve of a 512 x 512 tile
takes tens of seconds and about 2 GB.

Run: ``python benchmarks/bench_irdrop.py [--sizes 64 256 512] [--ohms 0.15 1]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from deephw.irdrop import contraction, fast_voltages
from deephw.irdrop_exact import tile_solver

G_SIEMENS = 10e-6
ACTIVITY = 0.3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256, 512])
    parser.add_argument("--ohms", type=float, nargs="+", default=[0.15, 1.0])
    parser.add_argument("--samples", type=int, default=4)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print("n, ohm, eps, line estimate, fast loss (steps, bound, s), exact loss (factor s, solve s)")
    for n in args.sizes:
        load = np.full((n, n), G_SIEMENS)
        drive = (rng.random((args.samples, n)) < ACTIVITY).astype(float)
        drive[:, -1] = 1.0
        for ohm in args.ohms:
            eps = float(contraction(load, ohm, n, n))
            line = 1 - 1 / np.cosh(n * np.sqrt(ohm * G_SIEMENS * ACTIVITY))
            start = time.perf_counter()
            delta, steps, held = fast_voltages(np.repeat(drive[:, :, None], n, 2), load, ohm, n)
            fast_s = time.perf_counter() - start
            fast = (
                "diverges"
                if not np.isfinite(held)
                else (f"{np.mean(1 - delta[:, -1, -1]):.4f} ({steps}, {held:.1e}, {fast_s:.2f})")
            )
            start = time.perf_counter()
            solve = tile_solver(load, ohm)
            factor_s = time.perf_counter() - start
            start = time.perf_counter()
            exact = solve(drive)
            solve_s = time.perf_counter() - start
            print(
                f"{n}, {ohm}, {eps:.3f}, {line:.4f}, {fast}, "
                f"{np.mean(1 - exact[:, -1, -1]):.4f} ({factor_s:.1f}, {solve_s:.2f})"
            )


if __name__ == "__main__":
    main()
