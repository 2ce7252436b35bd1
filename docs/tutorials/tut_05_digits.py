"""
Digits on a chip and the ablation
=================================

DEEP on scikit-learn's 8 × 8 handwritten digits (the built-in ``digits`` task: 64 inputs,
10 one-hot outputs, 1347 training and 450 test images), first on ideal devices, then on
the capacitor card, and finally an **ablation**: each non-ideality of the card switched
off in turn. Short runs keep this page to a minute; ``deephw reproduce --study digits
--cards all`` and ``examples/ablation_digits_*.yaml`` are the full studies.
"""

# %%
# The digits example, shortened: 5 epochs, one seed. Training records the test accuracy
# on the held-out images every ``eval_every`` epochs.
import shutil
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt

import deephw
from deephw.config import from_dict

base = {
    "task": {"name": "digits", "test": "split"},
    "network": {"hidden": 32},
    "init": {"weights": "uniform", "low": 0.0, "high": 0.02},
    "dynamics": {"dt": 0.5, "free_steps": 30, "nudged_steps": 20, "beta": 1.0},
    "learning": {"lr": 0.3, "schedule": "cosine"},
    "training": {"epochs": 5, "batch_size": 32, "seeds": 1, "eval_every": 1},
}
ideal = deephw.train(from_dict(base))
print(f"ideal devices: test accuracy {100 * ideal.test_accuracy[0]:.1f} % after 5 epochs")

# %%
# The same network learning in place on the capacitor card (3T1C: near-linear steps,
# up/down asymmetry, leak, output noise), by pulses.
on_chip = dict(base, hardware={"card": "capacitor", "scheme": "digital"})
chip = deephw.train(from_dict(on_chip))
print(f"capacitor card: test accuracy {100 * chip.test_accuracy[0]:.1f} % after 5 epochs")

fig, ax = plt.subplots(figsize=(6, 3.5))
for result, label in ((ideal, "ideal devices"), (chip, "capacitor card")):
    ax.plot(range(1, 6), 100 * result.history["test_accuracy"][:, 0], "o-", label=label)
ax.set_xlabel("epoch")
ax.set_ylabel("test accuracy (%)")
ax.legend()
plt.show()

# %%
# **The ablation.** The card's fields declare the non-ideality each belongs to and the
# value that switches it off; ``deephw sweep`` with ``kind: ablation`` builds every
# condition from them. Here a small one: two groups of the capacitor card switched off
# in turn, 2 epochs, on a Dask client of worker threads inside this process.
from distributed import Client

from deephw import sweep
from deephw.devices import load_card, nonideality

groups = nonideality.groups(load_card("capacitor"))
print("non-idealities of the capacitor card:", ", ".join(groups))
work = Path(tempfile.mkdtemp(prefix="deephw_ablation_"))
(work / "ablation.yaml").write_text(
    """
kind: ablation
base:
  task: {name: digits, test: split}
  network: {hidden: 32}
  init: {weights: uniform, low: 0.0, high: 0.02}
  dynamics: {dt: 0.5, free_steps: 30, nudged_steps: 20, beta: 1.0}
  learning: {lr: 0.3}
  training: {epochs: 2, batch_size: 32, eval_every: 2}
  hardware: {card: capacitor, scheme: digital}
groups: [output noise, c2c]
modes: [without]
seeds: 1
"""
)
study = sweep.load_sweep(work / "ablation.yaml")
print("conditions:", [point.values["condition"] for point in study.points])
with Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) as client:
    outcome = sweep.run_sweep(study, work / "out", client=client, progress=False)
print(f"computed {outcome.computed} conditions; figure: figures/ablation.png")

# %%
# The bar chart ``deephw sweep`` draws: the accuracy each non-ideality costs, against the
# full card (median and quartiles over seeds; one seed here).
image = plt.imread(work / "out" / "figures" / "ablation.png")
fig, ax = plt.subplots(figsize=(8, 8))
ax.imshow(image)
ax.axis("off")
plt.show()
shutil.rmtree(work)
