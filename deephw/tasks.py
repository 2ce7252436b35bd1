"""Supervised tasks: input patterns in [0, 1] and their targets.

Built-in Boolean tasks (AND, OR, XOR, NOT, IDENTITY) and CSV data sets with named input
and target columns; data sets of other kinds, and the built-in ``digits``, are in
:mod:`deephw.data`. :class:`Task` lives in :mod:`deephw.data.task`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deephw.data.csvdata import Columns, read_csv_task
from deephw.data.task import Task
from deephw.errors import ConfigError, UnknownNameError, quote

__all__ = ["BUILTIN", "Task", "builtin", "from_csv"]


_TWO_BITS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
BUILTIN = {
    "AND": (_TWO_BITS, np.array([[0], [0], [0], [1]], dtype=float)),
    "OR": (_TWO_BITS, np.array([[0], [1], [1], [1]], dtype=float)),
    "XOR": (_TWO_BITS, np.array([[0], [1], [1], [0]], dtype=float)),
    "NOT": (np.array([[0], [1]], dtype=float), np.array([[1], [0]], dtype=float)),
    "IDENTITY": (np.array([[0], [1]], dtype=float), np.array([[0], [1]], dtype=float)),
}


def builtin(name: str) -> Task:
    """One of the built-in Boolean tasks, by case-insensitive name."""
    key = name.upper()
    if key not in BUILTIN:
        raise UnknownNameError(f"unknown task {quote(name)} (built-in: {', '.join(BUILTIN)})")
    x, y = BUILTIN[key]
    return Task(key, x.copy(), y.copy())


def from_csv(
    path: str | Path, inputs: tuple[str, ...], targets: tuple[str, ...], source: str = ""
) -> Task:
    """A data set from a CSV file with a header row.

    Parameters
    ----------
    path
        The CSV file.
    inputs, targets
        Column names of the inputs and of the targets; values must be numbers in [0, 1]
        (activities are clipped to [0, 1], so other targets cannot be reached).
    source
        The config file quoted in errors.

    See :func:`deephw.data.csvdata.read_csv_task` for ranges of columns and labels.
    """
    if not inputs:
        raise ConfigError(source or str(path), "task.inputs", [], "name at least one column")
    return read_csv_task(path, Columns(tuple(inputs), tuple(targets)), source)
