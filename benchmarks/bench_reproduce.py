"""Wall time of a reduced ``deephw reproduce`` on one worker and on every core.

The reduced reproduction: the paper's twelve runs (AND, OR, XOR x DEEP, asymmetric EP at
two learning rates, DEEP pruned) on 10 seeds, with dense runs of ``--epochs`` epochs (500:
a third of the paper's) and pruned runs 7/3 as long, run directories, ``summary.json``,
``results.md`` and figures written, as ``deephw reproduce`` does. Each repeat times it with
1 worker (every run in this process, one after the other) and with ``--workers`` processes
(default: every core; the pool's start is included, as in the command), in alternating
order, and checks that both give the same per-seed results. It prints the medians and
their ratio (target <= 0.65 on 2 cores), and for each run the cores it had on average
(CPU time over wall time): other processes on the machine slow the parallel run more than
the serial one, and a parallel run that had about one core says that the machine, not
the pool, set its time.

Run: ``python benchmarks/bench_reproduce.py [--epochs 500] [--repeats 3] [--workers N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

from deephw import atomic, reproduce, runpool


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the pool's workers)."""
    own, children = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def once(workers: int, epochs: int, seeds: int, out: Path) -> tuple[float, float]:
    """Wall seconds of a reduced reproduction into the new directory ``out``, and the
    cores it had on average (CPU time / wall time: below the workers' count when other
    processes take the machine)."""
    start, cpu = time.perf_counter(), cpu_seconds()
    with atomic.new_directory(out) as tmp:
        results, card_results = reproduce.train_all(
            epochs, seeds, 0, workers=workers, runs_dir=tmp / "runs"
        )
        reproduce.write_outputs(results, tmp, card_results)
    wall = time.perf_counter() - start
    return wall, (cpu_seconds() - cpu) / wall


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
    cores: dict[int, list[float]] = {1: [], args.workers: []}
    with tempfile.TemporaryDirectory() as folder:
        for k in range(args.repeats):
            order = (1, args.workers) if k % 2 == 0 else (args.workers, 1)
            for workers in order:
                out = Path(folder) / f"w{workers}-{k}"
                wall, used = once(workers, args.epochs, args.seeds, out)
                times[workers].append(wall)
                cores[workers].append(used)
            same = per_seed(Path(folder) / f"w1-{k}") == per_seed(
                Path(folder) / f"w{args.workers}-{k}"
            )
            print(
                f"  repeat {k + 1}: 1 worker {times[1][-1]:.1f} s ({cores[1][-1]:.2f} cores "
                f"used), {args.workers} workers {times[args.workers][-1]:.1f} s "
                f"({cores[args.workers][-1]:.2f} cores used): "
                f"{times[args.workers][-1] / times[1][-1]:.2f}x; per-seed results "
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
