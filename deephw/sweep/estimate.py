"""What a sweep will need, estimated from its file before any configuration is made.

A sweep's work is the sum over its configurations of one run's work; its memory is the
larger of one run's (on a worker) and the sweep's own bookkeeping (every configuration
held by the submitting process, then the table). Both come from the base's sizes and
the axis values, without generating the grid: a ``grid`` sweep's total is the base's
work times the number of combinations times, for each axis, the mean factor its values
apply to the base's work (exact when axes scale different factors of the work; a
combination of ``free_steps`` and ``nudged_steps`` axes is approximated). One run's
needs are those :mod:`deephw.estimate` gives ``deephw train`` (a ``train`` study), or
those of replaying the free phase at every drift time, with and without compensation,
on each chip (an ``evaluate`` study).

:func:`check` refuses, through :func:`deephw.budget.enforce`, a sweep past the limits,
naming the sweep-file field that contributes most (the grid, the seeds, an axis or the
base) and the estimate.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from deephw.budget import MEMORY_FRACTION, Estimate, enforce, physical_memory_bytes
from deephw.config import from_dict
from deephw.errors import DeephwError
from deephw.estimate import estimate_evaluation, estimate_run, network_size
from deephw.program.drift import DRIFT_TIMES
from deephw.sweep import paths

POINT_BYTES = 8 * 1024
"""Memory the submitting process holds per configuration (its config, key and job;
about 4 kB measured for the XOR example)."""

VALIDATION_OPS = 5e6
"""Work of generating and validating one configuration (about 5 ms here)."""

ROW_BYTES = 2 * 1024
"""Memory of one table row (seed) while the table is built and written."""

DISK_ROW_BYTES = 3 * 1024
"""Disk space of one row: its result file, CSV and Parquet rows."""

DISK_POINT_BYTES = 4 * 1024
"""Disk space per configuration beyond its rows (the config in its result file)."""

FIGURES_BYTES = 8 * 2**20
"""Disk space the figures of a sweep take, at most."""

ARRAY_COPIES = 16
"""``N x N`` arrays a run keeps per seed (weights, masks, device conductances...)."""

TYPICAL_RUN_OPS = 1e6
"""Work of a small run (XOR, a few hundred epochs), against which a base's own size is
weighed when naming what makes a sweep large."""

EVALUATIONS = 1 + 2 * len(DRIFT_TIMES)
"""Free-phase evaluations of an evaluate study per chip: after programming, then at
each drift time without and with compensation."""


@dataclass(frozen=True)
class TaskShape:
    """Sizes of a task: input and output neurons, and patterns."""

    n_inputs: int
    n_outputs: int
    n_patterns: int


def _positive(value: Any) -> float | None:
    """``value`` as a positive finite number, or ``None`` (validation reports the rest)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) and number >= 1 else None


def lookup(data: Mapping[str, Any], overrides: Sequence[tuple[str, Any]], path: str) -> Any:
    """The value at ``path`` of ``data`` with ``overrides`` (``(path, value)``, later
    first) assigned, without copying ``data``; ``None`` if there is none."""
    keys = paths.split(path)
    for where, value in reversed(overrides):
        prefix = paths.split(where)
        if keys[: len(prefix)] == prefix:
            node = value
            for key in keys[len(prefix) :]:
                if not isinstance(node, Mapping) or key not in node:
                    return None
                node = node[key]
            return node
    try:
        return paths.get(data, path)
    except (KeyError, paths.PathError):
        return None


def run_estimate(
    kind: str,
    data: Mapping[str, Any],
    overrides: Sequence[tuple[str, Any]],
    task: TaskShape,
    base_dir: str = ".",
    options_section: str | None = None,
) -> tuple[Estimate, float]:
    """One configuration's needs, and its number of seeds (chips for ``evaluate``).

    The configuration (``data`` with the ``overrides`` that are not the study's
    ``options_section``) is validated and estimated by :func:`deephw.estimate.estimate_run`
    (a ``train`` study, and each condition of an ``ablation``) or
    :func:`deephw.estimate.estimate_evaluation`, times :data:`EVALUATIONS`, with the
    chips' device arrays (an ``evaluate`` study). A
    configuration that does not validate counts as nothing: the validation of every
    configuration reports it before anything runs.
    """
    values = {
        path: value
        for path, value in overrides
        if options_section is None or paths.split(path)[0] != options_section
    }
    try:
        config = from_dict(paths.with_values(data, values), "", base_dir)
    except (DeephwError, paths.PathError):
        return Estimate(0.0, 0.0), 1.0
    if kind == "evaluate":
        chips = _positive(lookup(data, overrides, "program.chips")) or 1.0
        one = estimate_evaluation(config, task, 1)  # type: ignore[arg-type]
        neurons = network_size(config, task)  # type: ignore[arg-type]
        memory = chips * (one.memory_bytes + ARRAY_COPIES * neurons * neurons * 8.0)
        return Estimate(memory, chips * EVALUATIONS * one.operations), chips
    run = estimate_run(config, task)  # type: ignore[arg-type]
    return Estimate(run.memory_bytes, run.operations), float(config.training.seeds)


@dataclass(frozen=True)
class Factor:
    """One cause of a sweep's size: the sweep-file field, its value, and by how much it
    multiplies the work (for naming the largest in a refusal)."""

    field: str
    value: Any
    scale: float


@dataclass(frozen=True)
class SweepEstimate:
    """A sweep's needs: ``estimate`` (peak memory and total work), its configurations and
    rows, and the factors that make it up."""

    estimate: Estimate
    configurations: float
    rows: float
    factors: tuple[Factor, ...]

    def blame(self) -> Factor:
        """The factor that contributes most."""
        return max(self.factors, key=lambda factor: factor.scale)


@dataclass(frozen=True)
class BaseSizes:
    """What :func:`estimate_sweep` needs of one base: its kind, config data with the
    sweep's ``fixed`` values (as overrides), and task sizes."""

    kind: str
    data: Mapping[str, Any]
    fixed: Sequence[tuple[str, Any]]
    task: TaskShape
    base_dir: str = "."
    options_section: str | None = None

    def estimate(self, overrides: Sequence[tuple[str, Any]]) -> tuple[Estimate, float]:
        """:func:`run_estimate` of this base with ``overrides`` after its fixed values."""
        return run_estimate(
            self.kind,
            self.data,
            [*self.fixed, *overrides],
            self.task,
            self.base_dir,
            self.options_section,
        )


def estimate_sweep(
    bases: Iterable[BaseSizes],
    axes: Mapping[str, list[Any]],
    combine: str,
    seeds_field: str,
    base_field: str,
    bases_field: tuple[str, Any] | None = None,
) -> SweepEstimate:
    """Estimate a sweep from its bases and axes, without generating its combinations.

    Parameters
    ----------
    bases
        Sizes of each base.
    axes
        The sweep's axes: path to list of values.
    combine
        ``grid`` or ``zip``.
    seeds_field, base_field
        Sweep-file fields named for the seeds and for a base's own size.
    bases_field
        The sweep-file field (and its value as described) that sets the number of
        bases, e.g. an ablation's ``groups``; ``None``: the bases are not named.
    """
    lengths = [len(values) for values in axes.values()]
    if combine == "zip":
        combos = float(lengths[0]) if lengths else 1.0
    else:
        combos = float(math.prod(lengths)) if lengths else 1.0
    bases = list(bases)
    factors = [Factor("axes", f"{combos:.0f} configurations ({_lengths(axes)})", combos)]
    held = len(bases) * combos * POINT_BYTES
    if held > MEMORY_FRACTION * physical_memory_bytes():  # too many to even look at each
        return SweepEstimate(Estimate(held, 0.0), len(bases) * combos, 0.0, tuple(factors))
    operations = memory = rows = 0.0
    configurations = 0.0
    scales: dict[str, float] = {}
    seeds_scale = base_scale = 1.0
    for base in bases:
        first, seeds = base.estimate([])
        run_memory = first.memory_bytes
        if combine == "zip" and axes:
            total = mean_seeds = 0.0
            for row in zip(*axes.values(), strict=True):
                estimate, n_seeds = base.estimate(list(zip(axes, row, strict=True)))
                total += estimate.operations
                mean_seeds += n_seeds / combos
                run_memory = max(run_memory, estimate.memory_bytes)
            base_ops = total
        else:
            base_ops = first.operations * combos
            mean_seeds = seeds
            for path, values in axes.items():
                ratios, counts = [], []
                for value in values:
                    estimate, n_seeds = base.estimate([(path, value)])
                    ratios.append(estimate.operations / max(first.operations, 1.0))
                    counts.append(n_seeds / seeds)
                    run_memory = max(run_memory, estimate.memory_bytes)
                factor = sum(ratios) / len(ratios)
                base_ops *= factor
                mean_seeds *= sum(counts) / len(counts)
                scales[f"axes.{path}"] = max(scales.get(f"axes.{path}", 0.0), factor)
        operations += base_ops + combos * VALIDATION_OPS
        memory = max(memory, run_memory)
        rows += combos * mean_seeds
        configurations += combos
        seeds_scale = max(seeds_scale, seeds)
        base_scale = max(base_scale, first.operations / seeds)
    bookkeeping = configurations * POINT_BYTES + rows * ROW_BYTES
    factors += [
        Factor(seeds_field, _integer(seeds_scale), seeds_scale),
        Factor(base_field, "its run size", base_scale / TYPICAL_RUN_OPS),
        *(Factor(path, axes[path.removeprefix("axes.")], scale) for path, scale in scales.items()),
    ]
    if bases_field is not None:
        factors.append(Factor(bases_field[0], bases_field[1], float(len(bases))))
    return SweepEstimate(
        Estimate(max(memory, bookkeeping), operations), configurations, rows, tuple(factors)
    )


def _integer(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _lengths(axes: Mapping[str, list[Any]]) -> str:
    if not axes:
        return "no axes"
    return " x ".join(f"{len(values)} {path}" for path, values in axes.items())


def check(sweep_estimate: SweepEstimate, source: str, force: bool = False) -> None:
    """Refuse a sweep past the memory or work limits of :mod:`deephw.budget`.

    Raises
    ------
    deephw.budget.BudgetError
        Naming the sweep file, the largest factor (field and value) and the estimate.
    """
    factor = sweep_estimate.blame()
    enforce(
        sweep_estimate.estimate,
        source=source,
        field=factor.field,
        value=factor.value,
        force=force,
    )


def disk_bytes(configurations: int, rows: int) -> int:
    """Disk space a sweep's outputs need: result files, table and figures."""
    return configurations * DISK_POINT_BYTES + rows * DISK_ROW_BYTES + FIGURES_BYTES
