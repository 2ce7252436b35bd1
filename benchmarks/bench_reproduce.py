"""Wall time of a reduced ``deephw reproduce`` on one worker and on every core.

The reduced reproduction: the paper's twelve runs (AND, OR, XOR x DEEP, asymmetric EP at
two learning rates, DEEP pruned) on 10 seeds, with dense runs of ``--epochs`` epochs (500:
a third of the paper's) and pruned runs 7/3 as long, run directories, ``summary.json``,
``results.md`` and figures written, as ``deephw reproduce`` does. Each repeat times it with
1 worker (every run in this process, one after the other) and with ``--workers`` processes
(default: every core; the pool's start is included, as in the command), in alternating
order, and checks that both give the same per-seed results. It prints the medians and
their ratio (target <= 0.65 on 2 cores). Other processes on the machine slow the parallel
run more than the serial one: read the ratio with the machine's load in mind.

Run: ``python benchmarks/bench_reproduce.py [--epochs 500] [--repeats 3] [--workers N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from deephw import atomic, reproduce, runpool


def once(workers: int, epochs: int, seeds: int, out: Path) -> float:
    """Seconds for a reduced reproduction into the new directory ``out``."""
    start = time.perf_counter()
    with atomic.new_directory(out) as tmp:
        results, card_results = reproduce.train_all(
            epochs, seeds, 0, workers=workers, runs_dir=tmp / "runs"
        )
        reproduce.write_outputs(results, tmp, card_results)
    return time.perf_counter() - start


def per_seed(out: Path) -> dict:
    """The per-seed final MSEs and sparsities of a reproduction's summary.json."""
    report = json.loads((out / "summary.json").read_text())
    return {
        (task, name): (entry["final_mse_per_seed"], entry["sparsity_per_seed"])
        for task, runs in report["tasks"].items()
        for name, entry in runs.items()
    }


def main() -> None:
    """Time both ways, alternating, and print the medians and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=500)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=runpool.default_workers())
    args = parser.parse_args()
    total = reproduce.total_epochs(args.epochs, args.seeds, 0)
    print(
        f"reduced reproduce: 12 runs x {args.seeds} seeds, {total} epochs in all; "
        f"{args.workers} workers vs 1; load average {os.getloadavg()[0]:.1f}"
    )
    times: dict[int, list[float]] = {1: [], args.workers: []}
    with tempfile.TemporaryDirectory() as folder:
        for k in range(args.repeats):
            order = (1, args.workers) if k % 2 == 0 else (args.workers, 1)
            for workers in order:
                out = Path(folder) / f"w{workers}-{k}"
                times[workers].append(once(workers, args.epochs, args.seeds, out))
            same = per_seed(Path(folder) / f"w1-{k}") == per_seed(
                Path(folder) / f"w{args.workers}-{k}"
            )
            print(
                f"  repeat {k + 1}: 1 worker {times[1][-1]:.1f} s, {args.workers} workers "
                f"{times[args.workers][-1]:.1f} s "
                f"({times[args.workers][-1] / times[1][-1]:.2f}x); per-seed results "
                f"{'identical' if same else 'DIFFERENT'}"
            )
            if not same:
                raise SystemExit("the per-seed results differ between 1 and more workers")
    serial, parallel = statistics.median(times[1]), statistics.median(times[args.workers])
    print(f"{'1 worker:':<12} {serial:6.1f} s (median of {args.repeats})")
    label = f"{args.workers} workers:"
    print(f"{label:<12} {parallel:6.1f} s (median of {args.repeats})")
    print(
        f"{'ratio:':<12} {parallel / serial:6.2f}x of one process "
        f"(target <= 0.65x on 2 cores); load average now {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
