"""Wall times and sizes of weight programs for a 1024 x 1024-cell network (a benchmark).

A 1024-neuron complete graph (2 inputs, bias, 1020 hidden neurons, 1 output: 1 044 483
cells) with random weights U(-1, 1) is written as a run directory and exported on the
``pcm_ambrogio2018`` card (three devices per cell, 256 x 256 tiles, one group per tile
and role). The program is then verified on one simulated chip (write-verify of every
device, 13 network evaluations over six times); the programming alone is timed too.
Prints the median wall time of each step over the repeats, the program's size on disk
and its number of files.

Run: ``python benchmarks/bench_program.py [--repeats 3] [--csv]`` (``--csv`` also times
an export with CSV copies of the tables, once).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from deephw import topology
from deephw.program import export_program, open_program, verify_program
from deephw.program.chip import program_chip

HIDDEN = 1020
CARD = "pcm_ambrogio2018"


def write_run(path: Path, seed: int = 0) -> int:
    """A run directory with one random 1024-neuron network; returns its cells."""
    topo = topology.complete(2, HIDDEN, 1)
    weights = np.random.default_rng(seed).uniform(-1.0, 1.0, (1, topo.n, topo.n)) * topo.mask
    path.mkdir()
    config = {
        "task": {"name": "XOR"},
        "network": {"hidden": HIDDEN},
        "hardware": {"card": CARD, "scheme": "hybrid"},
    }
    (path / "config.yaml").write_text(yaml.safe_dump(config))
    np.savez(path / "weights.npz", seeds=np.array([seed]), weights=weights, mask=topo.mask[None])
    return topo.n_trainable


def size_of(path: Path) -> tuple[int, int]:
    """Bytes and number of files under ``path``."""
    files = [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


def timed(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--csv", action="store_true", help="also time an export with CSV")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cells = write_run(root / "run")
        exports, verifies, programming = [], [], []
        for k in range(args.repeats):
            program = root / f"program{k}"
            exports.append(timed(lambda p=program: export_program(root / "run", p)))
            opened = open_program(program)
            card = opened.card()
            programming.append(timed(lambda p=opened, c=card, s=k: program_chip(p, c, [s])))
            out = root / f"verify{k}"
            verifies.append(timed(lambda p=program, o=out, s=k: verify_program(p, seed=s, out=o)))
        report = verify_program(root / "program0", seed=0, out=root / "report").report
        size, files = size_of(root / "program0")
        totals = report["totals"]
        print(f"network: 1024 neurons, {cells} cells, {totals['devices']} devices on {CARD}")
        per_device = size / totals["devices"]
        print(f"program: {size / 1e6:.1f} MB in {files} files ({per_device:.2f} B/device)")
        print(f"export:  median {statistics.median(exports):.2f} s over {args.repeats}")
        print(f"verify:  median {statistics.median(verifies):.2f} s over {args.repeats}")
        print(
            f"  of which sampling the chip and write-verify of every device: median "
            f"{statistics.median(programming):.2f} s (the rest: 13 network evaluations)"
        )
        print(
            f"verify result: {totals['within_tolerance']}/{totals['verified']} written devices "
            f"within tolerance, {totals['failed']} failed, {totals['pulses']} pulses"
        )
        if args.csv:
            program = root / "program_csv"
            seconds = timed(lambda: export_program(root / "run", program, csv="always"))
            size_csv, files_csv = size_of(program)
            print(
                f"export with CSV copies: {seconds:.2f} s, {size_csv / 1e6:.1f} MB in "
                f"{files_csv} files (CSV alone {(size_csv - size) / 1e6:.1f} MB)"
            )


if __name__ == "__main__":
    main()
