"""
XOR on the Ambrogio cell: events and energy
===========================================

The network trains on XOR on a simulated chip whose unit cell is the 2-PCM + 3T1C cell of
Ambrogio et al. (Nature 558, 2018): updates pulse the capacitor ``g``, and every 100
updates its contribution is transferred into the PCM pair by closed-loop tuning, with
polarity inversion. The controller counts every read, SET and RESET per device role,
every transfer and refresh, and prices them with the card's energy per event.
"""

# %%
# The ``hardware`` section names the card and the update scheme: ``hybrid`` sends the
# digital updates to the capacitor and transfers them. Five seeds here (the README's
# table uses ten).
import matplotlib.pyplot as plt
import numpy as np

import deephw
from deephw import plotting, rundir
from deephw.config import from_dict

config = from_dict(
    {
        "task": {"name": "XOR"},
        "hardware": {"card": "pcm_ambrogio2018", "scheme": "hybrid"},
        "training": {"seeds": 5},
    }
)
result = deephw.train(config)
print(f"converged {result.converged.sum()}/5, every pattern right {result.correct.sum()}/5")

# %%
# Events per chip
# ---------------
# ``result.events`` holds cumulative counts per epoch and seed, named ``ROLE.EVENT``
# (``G+.set``, ``g.reset``, ``cell.transfers``, ...); ``energy_pJ`` prices them.
totals = rundir.hardware_totals(result)
for name, values in sorted(totals["events_per_seed"].items()):
    print(
        f"{name:<16} median {np.median(values):>10.4g}  min {min(values):>10.4g}  "
        f"max {max(values):>10.4g}"
    )
print(f"chip time {1e3 * totals['chip_time_s']:.2f} ms (1500 epochs x 120 steps x 0.5 x 100 ns)")
print(f"energy per chip: median {np.median(totals['energy_pJ_per_seed']) / 1e3:.1f} nJ")

# %%
# Pulses and energy per epoch, and the chip clock — the figure ``deephw train`` writes as
# ``hardware.png``. Transfers show as spikes of PCM SET pulses every 100 updates.
fig = plotting.hardware_figure(result.events, result.chip_time_s, plotting.run_title(result))
plt.show()

# %%
# Where the energy goes
# ---------------------
# Of a chip's energy most is PCM reads: two array reads per epoch (the weights the
# neurons see and the row sums of DEEP's leak) plus the verify reads of each transfer.
# Only device events are priced: the analog core, converters and controller logic are
# not (see :doc:`/concepts/chip`).
card = result.controller.crossbar.card
seed = 0
parts = {}
for device, costs in (("PCM", card.device.costs), ("capacitor", card.fast_device.costs)):
    roles = ("G+", "G-") if device == "PCM" else ("g",)
    for event, price in (
        ("reads", costs.read_pJ),
        ("set", costs.set_pJ),
        ("reset", costs.reset_pJ),
    ):
        count = sum(result.events[f"{role}.{event}"][-1][seed] for role in roles)
        parts[f"{device} {event}"] = count * price / 1e3
fig, ax = plt.subplots(figsize=(6, 2.8))
ax.barh(list(parts), list(parts.values()))
ax.set_xlabel(f"energy of seed {seed} (nJ)")
plt.show()
print({k: round(v, 2) for k, v in parts.items()})
print(
    f"sum {sum(parts.values()):.2f} nJ; the run's own total: "
    f"{result.events['energy_pJ'][-1][seed] / 1e3:.2f} nJ"
)
