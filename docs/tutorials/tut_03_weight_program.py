"""
Exporting, verifying and importing a weight program
===================================================

A trained network leaves the simulator as a weight program — per device: address,
target conductance, starting state, pulses, write-verify tolerance — for the device
groups of a chip's programming controller; it comes back as measured conductances. This
tutorial trains XOR on the Ambrogio cell, exports its best network per tile and device
role, programs it onto ten freshly sampled simulated chips by write-verify, follows its
accuracy over a year of drift, and imports one chip's conductances back as a run.
"""

# %%
# Train, and write the run directory that ``export`` reads.
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import deephw
from deephw import rundir, training
from deephw.config import from_dict
from deephw.program import export_program, import_program, verify_program

work = Path(tempfile.mkdtemp(prefix="deephw_program_"))
config = from_dict(
    {
        "task": {"name": "XOR"},
        "hardware": {"card": "pcm_ambrogio2018", "scheme": "hybrid"},
        "training": {"seeds": 5},
    }
)
result = deephw.train(config)
rundir.write_run(result, work / "run")
print(f"trained: {result.correct.sum()}/5 seeds classify every pattern")

# %%
# Export
# ------
# Device groups come from a YAML file; here the 9 x 9 weight matrix is laid on 6 x 6
# tiles (a 2 x 2 grid of them) with one group per tile and device role. The program
# directory is sealed: ``program.sha256`` lists every file with its SHA-256.
groups = work / "groups.yaml"
groups.write_text(
    'tile: {rows: 6, cols: 6}\ngroups:\n  - name: "tile{tile}_{role}"\n    split_by: [tile, role]\n'
)
program = export_program(work / "run", work / "program", groups=groups)
for path in sorted((work / "program").iterdir()):
    print(f"{path.name:<28} {path.stat().st_size:>8} bytes")
print((work / "program" / "program.yaml").read_text()[:900])

# %%
# Verify on ten chips
# -------------------
# Each chip is sampled afresh (device-to-device variation, programming noise, stuck
# devices); every device is written by iterative write-verify through the ADC, then the
# network is scored now and after 1 s, 1 h, 1 day, 1 month and 1 year of drift, with and
# without global drift compensation (GDC).
report = verify_program(program, seed=100, chips=10, out=work / "verify").report
totals = report["totals"]
print(
    f"{totals['within_tolerance']}/{totals['verified']} written devices within tolerance, "
    f"{totals['failed']} failed ({totals['failed_stuck']} stuck)"
)
times = list(dict.fromkeys(row["time"] for row in report["drift"]))
plain = [np.mean([r["accuracy"] for r in report["drift"] if r["time"] == t]) for t in times]
gdc = [np.mean([r["accuracy_gdc"] for r in report["drift"] if r["time"] == t]) for t in times]
for t, a, b in zip(times, plain, gdc, strict=True):
    print(f"{t:<8} mean accuracy {100 * a:5.1f} %   with GDC {100 * b:5.1f} %")

fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(times, 100 * np.array(plain), "o-", label="as read")
ax.plot(times, 100 * np.array(gdc), "s--", label="global drift compensation")
ax.set_ylabel("mean accuracy over 10 chips (%)")
ax.set_xlabel("time after programming")
ax.legend()
plt.show()

# %%
# How much a programming error of a fraction of a µS matters depends on the margin of the
# network: trained DEEP networks sit on the rails, and a few devices can flip a pattern.
# Global drift compensation rescales every weight of a tile alike, which leaves DEEP's
# equilibrium unchanged, so it cannot undo what hurts: the spread of drift exponents and
# read noise. The evaluate study (:doc:`/concepts/studies`) measures this over many chips.
#
# Import
# ------
# ``measured.csv`` holds the conductances of one verified chip; importing it gives a run
# directory that ``deephw eval`` (or :func:`deephw.evaluate`) scores.
imported = import_program(work / "verify" / "measured.csv", work / "measured", program=program)
config, arrays = rundir.load_run(imported)
task = training.load_task(config)
topo = training.build_topology(config, task)
mse, accuracy, _ = training.evaluate(config, topo, task, arrays["weights"], arrays["seeds"])
print(f"chip 0, imported: MSE {mse[0]:.3g}, accuracy {100 * accuracy[0]:.0f} %")

# %%
# Everything above was written under a temporary folder; remove it.
import shutil

shutil.rmtree(work)
