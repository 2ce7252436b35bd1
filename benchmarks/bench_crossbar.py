"""Cost of the crossbar against the dynamics it serves (a benchmark, not a test).

Prints, for one 512 x 512 chip of each card given (default: pcm_pair and
pcm_ambrogio2018), the median wall time of one programming step (a random weight
change of typical size turned into pulses, with refreshes), of one effective-weight
read and of one digital row-sum read (the leak), each also as a ratio to one Euler step
of the NumPy engine on the same N (batch 1 and batch 32), measured in the same process.

Run: ``python benchmarks/bench_crossbar.py [--repeats 7] [--cards pcm_pair ...]``.
"""

from __future__ import annotations

import argparse

import numpy as np
from timing import median_time

from deephw.crossbar import Crossbar
from deephw.engines import get_engine
from deephw.topology import complete

N = 512


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--cards", nargs="+", default=["pcm_pair", "pcm_ambrogio2018"])
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    topo = complete(16, N - 16 - 1 - 4, 4)
    mask = topo.mask[None]
    weights = rng.uniform(0, 0.5 / N, mask.shape) * mask
    engine = get_engine("numpy")
    steps = {}
    for batch in (1, 32):
        state = rng.random((1, batch, N))
        leak = weights.sum(axis=2)
        steps[batch] = median_time(
            lambda s=state, lk=leak: engine.relax(weights, lk, s, topo.n_clamped, 1, 0.5),
            args.repeats,
        )
        print(f"NumPy engine, one Euler step, N = {N}, batch {batch}: {1e3 * steps[batch]:.3f} ms")
    for card in args.cards:
        chip = Crossbar(card, mask, [0])
        chip.write_weights(weights, rng)
        request = rng.normal(0.0, 2 * chip.dw_min, mask.shape) * mask
        timings = {
            "programming step": lambda c=chip, r=request: c.program(r, rng, "stochastic"),
            "effective-weight read": lambda c=chip: c.read_weights(rng),
            "row-sum read (ADC)": lambda c=chip: c.read_leak(rng),
        }
        print(f"{card}, {N} x {N} ({int(mask.sum())} cells):")
        for name, run in timings.items():
            t = median_time(run, args.repeats)
            print(
                f"  {name:<22} {1e3 * t:8.2f} ms = {t / steps[1]:8.1f} x step (batch 1), "
                f"{t / steps[32]:6.2f} x step (batch 32)"
            )


if __name__ == "__main__":
    main()
