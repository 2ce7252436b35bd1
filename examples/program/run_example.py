"""Train XOR on pcm_ambrogio2018, export it per tile and role, verify it, import it back.

Run from anywhere: ``python examples/program/run_example.py [OUT_DIR]`` (default
``runs/program_example``; it must not exist). About 15 s. Writes::

    OUT_DIR/run/                       the trained run (10 seeds)
    OUT_DIR/program/                   the weight program of the best seed
    OUT_DIR/verify/drift.png           accuracy and MSE vs time on 10 simulated chips
    OUT_DIR/measured/                  the first chip's measured conductances, imported

The same with the command line::

    deephw train examples/program/xor_pcm.yaml --out OUT/run
    deephw program export OUT/run --groups examples/program/groups_tile_role.yaml --out OUT/program
    deephw program verify OUT/program --chips 10 --out OUT/verify
    deephw program import OUT/verify/measured.csv --program OUT/program --out OUT/measured
    deephw eval OUT/measured
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import deephw
from deephw import rundir, training
from deephw.program import export_program, import_program, verify_program

HERE = Path(__file__).resolve().parent


def main(out: Path) -> None:
    config = deephw.load(HERE / "xor_pcm.yaml")
    result = deephw.train(config)
    rundir.write_run(result, out / "run")
    print(f"trained: {result.correct.sum()}/{len(result.seeds)} seeds classify every pattern")

    program = export_program(out / "run", out / "program", groups=HERE / "groups_tile_role.yaml")
    report = verify_program(program, seed=100, chips=10, out=out / "verify").report
    totals = report["totals"]
    print(
        f"verify on 10 chips: {totals['within_tolerance']}/{totals['verified']} written devices "
        f"within tolerance, {totals['failed']} failed ({totals['failed_stuck']} stuck)"
    )
    print(f"{'time':<8} {'accuracy':>9} {'with GDC':>9}")
    for label in dict.fromkeys(row["time"] for row in report["drift"]):
        rows = [r for r in report["drift"] if r["time"] == label]
        plain = 100 * np.mean([r["accuracy"] for r in rows])
        compensated = 100 * np.mean([r["accuracy_gdc"] for r in rows])
        print(f"{label:<8} {plain:>8.1f}% {compensated:>8.1f}%")
    print(f"figure: {out / 'verify' / 'drift.png'}")

    imported = import_program(out / "verify" / "measured.csv", out / "measured", program=program)
    config, arrays = rundir.load_run(imported)
    task = training.load_task(config)
    topo = training.build_topology(config, task)
    mse, accuracy, _ = training.evaluate(config, topo, task, arrays["weights"], arrays["seeds"])
    print(f"measured chip imported: MSE {mse[0]:.3g}, accuracy {100 * accuracy[0]:.0f} %")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("runs") / "program_example")
