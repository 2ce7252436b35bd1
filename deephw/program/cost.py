"""What the program commands need: output bytes, memory and work, estimated up front.

A program, or a ``--chips`` count, may be far larger than the machine can take: verify
builds every chip's devices as dense ``(chips, N, N)`` arrays per role and evaluates
the network on each chip at every drift time. The commands estimate their needs from
the manifest's sizes and refuse, through :func:`deephw.budget.enforce`, before any work.
The memory constants are measured on this code (peak resident memory of ``program
verify``: 210 to 240 bytes per chip, cell and role on the shipped PCM, ReRAM and ideal
cards, 100 MB base) and rounded up; the work constants are rough.
"""

from __future__ import annotations

from deephw.budget import Estimate
from deephw.program.manifest import Manifest

NPZ_BYTES_PER_DEVICE = 56
"""A device row of a group table, uncompressed (the NPZ is compressed: an upper bound)."""
CSV_BYTES_PER_DEVICE = 160
"""A device row of a CSV copy of a group table, or of ``measured.csv``."""
SMALL_FILES_BYTES = 64_000
"""The manifest, the card, the groups file and the like."""
FIGURE_BYTES = 400_000
"""``drift.png``."""
BYTES_PER_CHIP_CELL_ROLE = 400
"""Verify's peak memory per chip, matrix cell and device role: the device state arrays
(conductance, bounds, drift, counters, stuck flags...) of every cell of the ``N x N``
matrix, and the temporaries of reading and evaluating the weights."""
BASE_MEMORY_BYTES = 300e6
"""The interpreter, NumPy, Matplotlib and the engine, before any array."""
OPS_PER_DEVICE_ITERATION = 200
"""Work of one write-verify iteration of one device (pulse, read through the ADC)."""
OPS_PER_LOOP = 1e5
"""Fixed cost of one write-verify iteration of a group (vectorised over its devices and
the chips), in the units of the work limit: about 100 µs here. A group whose devices
never all reach tolerance (a stuck one) runs its full ``max_iterations``."""


def export_bytes(devices: int, csv: bool, extra: int) -> int:
    """Bytes a program of ``devices`` devices takes, with CSV copies if ``csv``, plus
    the ``extra`` bytes of the run's files it carries."""
    per_device = NPZ_BYTES_PER_DEVICE + (CSV_BYTES_PER_DEVICE if csv else 0)
    return int(devices * per_device + extra + SMALL_FILES_BYTES)


def import_bytes(manifest: Manifest, extra: int) -> int:
    """Bytes of the run directory ``import`` writes: ``weights.npz`` (weights and two
    masks) and the ``extra`` bytes of the config and its data files."""
    n = manifest.network.neurons
    return int(n * n * (8 + 1 + 1) + extra + SMALL_FILES_BYTES)


def import_estimate(manifest: Manifest) -> Estimate:
    """Memory and work of ``import``: one ``N x N`` conductance grid per role, the
    weights and the masks."""
    n, roles = manifest.network.neurons, len(manifest.mapping.roles)
    cells = float(n) * n
    return Estimate(BASE_MEMORY_BYTES + cells * 8 * (roles + 4), cells * roles * 20)


def verify_bytes(manifest: Manifest, chips: int, measured: bool) -> int:
    """Bytes of a verify report: per-chip drift rows, per-group rows, the figure and
    (if ``measured``) one chip's ``measured.csv``."""
    rows = chips * 16 + len(manifest.groups) * 4
    devices = manifest.network.devices if measured else 0
    return int(rows * 256 + devices * CSV_BYTES_PER_DEVICE + FIGURE_BYTES + SMALL_FILES_BYTES)


def verify_estimate(
    manifest: Manifest, chips: int, patterns: int, free_steps: int, evaluations: int
) -> Estimate:
    """Memory and work of verifying ``manifest``'s program on ``chips`` chips.

    Parameters
    ----------
    patterns, free_steps
        The task's patterns and the free phase's steps of one evaluation.
    evaluations
        How many times the network is evaluated on every chip (drift times, with and
        without compensation).
    """
    n, roles = manifest.network.neurons, len(manifest.mapping.roles)
    cells = float(chips) * n * n
    memory = BASE_MEMORY_BYTES + cells * roles * BYTES_PER_CHIP_CELL_ROLE
    iterations = sum(float(group.devices) * group.max_iterations for group in manifest.groups)
    loops = sum(float(group.max_iterations) for group in manifest.groups)
    tuning = chips * iterations * OPS_PER_DEVICE_ITERATION + loops * OPS_PER_LOOP
    evaluating = evaluations * cells * patterns * free_steps * 2.0
    return Estimate(memory, tuning + evaluating)
