"""
A noise-robustness sweep and how to read it
===========================================

How much read noise can XOR learning on the Ambrogio cell take, and does the number of
capacitor levels matter? A **sweep** trains the same base run under every combination
of some settings, times seeds, on a Dask cluster, and gathers one tidy table. This is a
small version of ``examples/sweeps/xor_pcm_read_noise_levels.yaml`` (3 read-noise values
× 2 numbers of levels, 4 seeds, 800 epochs). ``deephw sweep`` starts an embedded cluster
of one worker process per core (or joins one given by ``--scheduler``); this page runs
the same sweep on a Dask client of worker threads inside its own process, so that the
script runs unchanged anywhere (worker processes would re-run it). The full study takes
about 40 s on two cores.
"""

# %%
# A sweep file names a base run, fixed settings and axes, each a dotted path into the run
# config — device-card fields included, through ``hardware.card_overrides``.
import shutil
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt

from deephw import sweep

work = Path(tempfile.mkdtemp(prefix="deephw_sweep_"))
(work / "base.yaml").write_text("task: {name: XOR}\n")
(work / "sweep.yaml").write_text(
    """
kind: train
description: XOR on the Ambrogio cell, PCM read noise x capacitor levels (small)
base: base.yaml
fixed:
  hardware.card: pcm_ambrogio2018
  hardware.scheme: hybrid
  training.epochs: 800
axes:
  hardware.card_overrides.device.read_noise_uS: [0.0, 0.3, 1.0]
  hardware.card_overrides.fast_device.levels: [9, 33]
combine: grid
seeds: 4
"""
)
print((work / "sweep.yaml").read_text().strip().splitlines()[1])

# %%
# Every configuration is generated and validated before anything runs; the memory and
# work of the whole grid are estimated first.
study = sweep.load_sweep(work / "sweep.yaml")
print(f"{len(study.points)} configurations x 4 seeds")

# %%
# Run it: one Dask task per configuration with its seeds batched; each result is stored
# atomically as it completes, so an interrupted sweep resumes where it stopped.
from distributed import Client

with Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) as client:
    outcome = sweep.run_sweep(study, work / "out", client=client, progress=False)
print(f"computed {outcome.computed}, reused {outcome.reused}, failed {len(outcome.failed)}")

# %%
# The table
# ---------
# One row per configuration and seed: the swept values, final MSE, accuracy,
# convergence, sparsity, pulses, energy, chip time and events per device group.
frame, description = sweep.read_table(work / "out")
short = {
    "hardware.card_overrides.device.read_noise_uS": "read_noise_uS",
    "hardware.card_overrides.fast_device.levels": "levels",
}
summary = (
    frame.rename(columns=short)
    .groupby(list(short.values()))
    .agg(
        correct=("correct", "sum"),
        converged=("converged", "sum"),
        median_mse=("final_mse", "median"),
        energy_nJ=("energy_pJ", lambda e: e.median() / 1e3),
        pulses=("pulses", "median"),
    )
)
print(summary.to_string())

# %%
# The sweep also drew every metric against each axis (median and quartiles over seeds)
# and heatmaps for the two axes; here one of them.
figures = sorted((work / "out" / "figures").glob("*.png"))
print("figures:", ", ".join(f.name for f in figures))
image = plt.imread(next(f for f in figures if "heatmap" in f.name))
fig, ax = plt.subplots(figsize=(7, 5))
ax.imshow(image)
ax.axis("off")
plt.show()

# %%
# Reading it
# ----------
# Read noise enters twice: in the weights the neurons see, and in the write-verify of
# every transfer, which then needs more corrections (more PCM SET pulses and refreshes,
# hence more energy). The number of capacitor levels sets the number of pulses, roughly
# in proportion. With 4 seeds, differences of one or two seeds between cells are within
# seed-to-seed scatter: the full study (10 seeds, 1500 epochs, four values per axis) is
# what the README's reading rests on.
shutil.rmtree(work)
