"""Throughput of a sweep on local Dask workers vs the same configurations in one process.

The sweep: XOR on the paper's graph over beta x learning rate (4 x 4 configurations),
10 seeds each, 300 epochs (M0 = 100, Mb = 20): one configuration is one Dask task that
trains its 10 seeds in one batch. Each repeat times

- *one process*: every configuration's job run one after the other in this process;
- *Dask*: :func:`deephw.sweep.run_sweep` on the embedded LocalCluster of ``--workers``
  single-threaded worker processes that ``deephw sweep`` starts (started once, before
  timing), into a fresh sweep directory, result files and table included;

- *process pool*: the same jobs on a ``multiprocessing`` pool of as many processes, with
  no scheduler and no files: the speed-up the machine itself offers at that moment (on a
  shared virtual machine, two busy cores may not run at twice the speed of one);

and, once, the whole sweep including the cluster's start and shutdown. It prints the
medians in runs (configuration x seed) per second, the ratios to one process (target
for Dask >= 1.6x on 2 workers), and Dask's throughput relative to the pool's measured in
the same repeat, which the machine's load affects least.

Run: ``python benchmarks/bench_sweep.py [--repeats 5] [--workers 2]``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import multiprocessing.pool
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from deephw.sweep import execute, plan
from deephw.sweep.studies import run_job

SWEEP = {
    "kind": "train",
    "base": {
        "task": {"name": "XOR"},
        "dynamics": {"free_steps": 100, "nudged_steps": 20},
        "training": {"epochs": 300},
    },
    "axes": {"dynamics.beta": [0.5, 1.0, 1.5, 2.0], "learning.lr": [3.0, 5.0, 10.0, 20.0]},
    "seeds": 10,
}


def load(folder: Path) -> plan.Sweep:
    """The benchmark's sweep, written to ``folder`` and loaded."""
    path = folder / "bench.yaml"
    path.write_text(yaml.safe_dump(SWEEP))
    return plan.load_sweep(path)


def one_process(sweep: plan.Sweep) -> float:
    """Seconds to run every configuration's job in this process."""
    start = time.perf_counter()
    for point in sweep.points:
        run_job(point.job)
    return time.perf_counter() - start


def on_pool(sweep: plan.Sweep, pool: multiprocessing.pool.Pool) -> float:
    """Seconds to run every configuration's job on a process pool."""
    start = time.perf_counter()
    pool.map(run_job, [point.job for point in sweep.points], chunksize=1)
    return time.perf_counter() - start


def on_dask(sweep: plan.Sweep, client: object, folder: Path) -> float:
    """Seconds for run_sweep on ``client``'s cluster, into a new sweep directory."""
    with tempfile.TemporaryDirectory(dir=folder) as out:
        start = time.perf_counter()
        outcome = execute.run_sweep(
            sweep, Path(out) / "sweep", client=client, progress=False, draw_figures=False
        )
        elapsed = time.perf_counter() - start
    assert outcome.complete and outcome.computed == len(sweep.points)
    return elapsed


def main() -> None:
    """Time both ways and print runs per second and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sweep = load(folder)
        runs = sweep.n_rows
        print(f"{len(sweep.points)} configurations x 10 seeds = {runs} runs per sweep")
        run_job(sweep.points[0].job)  # warm-up (imports, caches)
        serial, parallel, pooled = [], [], []
        with (
            multiprocessing.get_context("spawn").Pool(args.workers) as pool,
            execute.connect(workers=args.workers) as client,
        ):
            on_dask(sweep, client, folder)  # warm-up: workers import deephw
            on_pool(sweep, pool)
            for k in range(args.repeats):
                serial.append(one_process(sweep))
                parallel.append(on_dask(sweep, client, folder))
                pooled.append(on_pool(sweep, pool))
                print(
                    f"  repeat {k + 1}: one process {runs / serial[-1]:.1f} runs/s, "
                    f"{args.workers} Dask workers {runs / parallel[-1]:.1f} runs/s "
                    f"({serial[-1] / parallel[-1]:.2f}x), pool {runs / pooled[-1]:.1f} runs/s "
                    f"({serial[-1] / pooled[-1]:.2f}x)"
                )
        with tempfile.TemporaryDirectory(dir=folder) as out:
            start = time.perf_counter()
            execute.run_sweep(
                sweep,
                Path(out) / "sweep",
                workers=args.workers,
                progress=False,
                draw_figures=False,
            )
            cold = time.perf_counter() - start
    t_serial, t_parallel = statistics.median(serial), statistics.median(parallel)
    t_pool = statistics.median(pooled)
    label = f"{args.workers} Dask workers:"
    print(f"{'one process:':<20} {runs / t_serial:7.1f} runs/s (median of {args.repeats})")
    print(f"{label:<20} {runs / t_parallel:7.1f} runs/s (median of {args.repeats})")
    print(f"{'process pool:':<20} {runs / t_pool:7.1f} runs/s (median of {args.repeats})")
    print(f"{'ratio, Dask:':<20} {t_serial / t_parallel:7.2f}x (target >= 1.6x on 2 workers)")
    print(f"{'ratio, pool:':<20} {t_serial / t_pool:7.2f}x (what the machine offers)")
    share = statistics.median(p / d for p, d in zip(pooled, parallel, strict=True))
    print(
        f"{'Dask / pool:':<20} {share:7.2f}  (median per repeat: Dask's share of the pool's speed)"
    )
    print(
        f"{'with cluster start:':<20} {runs / cold:7.1f} runs/s "
        f"({t_serial / cold:.2f}x; {cold:.1f} s for the whole sweep)"
    )


if __name__ == "__main__":
    main()
