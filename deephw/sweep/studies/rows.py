"""Rows of a study's table: the per-seed scores and the scalars a result exposes."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from deephw.errors import DeephwError, quote
from deephw.training import pulse_total


def seed_metrics(result: Any, n_seeds: int) -> dict[str, list[float | None]]:
    """Extra scalar metrics per seed that a result exposes, for the table.

    Three sources, in this order (later names win):

    - ``result.events``: a mapping of event counters (e.g. ``G+.set``, ``cell.transfers``,
      ``energy_pJ``), each per seed (``(S,)``) or cumulative per epoch and seed
      (``(epochs, S)``, whose last row is taken); the ``*.set`` and ``*.reset`` counts
      of the devices (every group but ``cell``) add up to ``pulses``;
    - ``result.chip_time_s``: the chip clock (a scalar, per epoch, or per epoch and
      seed), whose final value becomes ``chip_time_ns``;
    - ``result.seed_metrics``: a mapping of name to ``(S,)`` values, or a method
      returning one: the hook for any other per-seed scalar.

    The names of :data:`HARDWARE_METRICS` fill the table's standard hardware columns;
    other names add columns. Values of other shapes are left out.

    Parameters
    ----------
    result
        A training or evaluation result.
    n_seeds
        The number of seeds ``S``.
    """
    values: dict[str, np.ndarray] = {}
    events = getattr(result, "events", None)
    if isinstance(events, Mapping):
        for name, array in events.items():
            final = _final(array, n_seeds)
            if final is not None:
                values[str(name)] = final
        pulses = pulse_total(values)
        if pulses is not None:
            values["pulses"] = pulses
    clock = getattr(result, "chip_time_s", None)
    if clock is not None:
        clock = np.asarray(clock, dtype=float)
        if clock.ndim <= 1 and clock.size:  # one clock for all seeds, per epoch
            values["chip_time_ns"] = np.full(n_seeds, clock.reshape(-1)[-1] * 1e9)
        elif clock.ndim == 2 and clock.shape[1] == n_seeds and len(clock):
            values["chip_time_ns"] = clock[-1] * 1e9
    hook = getattr(result, "seed_metrics", None)
    if hook is not None:
        for name, array in dict(hook() if callable(hook) else hook).items():
            final = _final(array, n_seeds)
            if final is None:
                raise DeephwError(f"per-seed metric {quote(name)} does not have {n_seeds} values")
            values[str(name)] = final
    return {
        name: [float(v) if math.isfinite(v) else None for v in array]
        for name, array in values.items()
    }


def _final(values: Any, n_seeds: int) -> np.ndarray | None:
    """Final per-seed values of a scalar, ``(S,)`` or ``(epochs, S)`` array, else ``None``."""
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        return None
    if array.ndim == 0:
        return np.full(n_seeds, float(array))
    if array.ndim == 1 and array.shape[0] == n_seeds:
        return array
    if array.ndim == 2 and array.shape[1] == n_seeds and len(array):
        return array[-1]
    return None


def number(value: Any) -> float | None:
    """``value`` as a float, or ``None`` (an empty table cell) if it is not finite."""
    value = float(value)
    return value if math.isfinite(value) else None


def rows_of(
    seeds: np.ndarray, columns: Mapping[str, Any], extra: Mapping[str, list]
) -> list[dict[str, Any]]:
    """One row per seed: its ``seed``, then the ``k``-th value of every column of
    ``columns`` and of ``extra`` (per-seed lists)."""
    rows = []
    for k, seed in enumerate(seeds):
        row: dict[str, Any] = {"seed": int(seed)}
        row.update({name: values[k] for name, values in columns.items()})
        row.update({name: values[k] for name, values in extra.items()})
        rows.append(row)
    return rows


SCORE_METRICS = {
    "final_mse": "float64",
    "accuracy": "float64",
    "converged": "bool",
    "correct": "bool",
    "sparsity": "float64",
}
"""Columns every study reports per seed (with their pandas dtypes), first in the table."""
