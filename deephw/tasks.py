"""Supervised tasks: input patterns in [0, 1] and their targets.

Built-in Boolean tasks (AND, OR, XOR, NOT, IDENTITY) and any CSV data set whose input and
target columns are named in the run config.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deephw.csvfile import read_csv_table
from deephw.errors import ConfigError, UnknownNameError, quote
from deephw.validation import file_problem


@dataclass(frozen=True, eq=False)
class Task:
    """Patterns ``x`` (``(B, n_inputs)``) and targets ``y`` (``(B, n_outputs)``)."""

    name: str
    x: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)

    @property
    def n_inputs(self) -> int:
        """Number of input neurons the task needs."""
        return int(self.x.shape[1])

    @property
    def n_outputs(self) -> int:
        """Number of output neurons the task needs."""
        return int(self.y.shape[1])

    @property
    def n_patterns(self) -> int:
        """Number of samples."""
        return int(self.x.shape[0])


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
    """
    path = Path(path)
    where = source or str(path)
    problem = file_problem(path)
    if problem is not None:
        raise ConfigError(where, "task.csv", str(path), problem)
    header, rows = read_csv_table(path)
    lines = rows.lines
    for key, names in (("task.inputs", inputs), ("task.targets", targets)):
        if not names:
            raise ConfigError(where, key, list(names), "name at least one column")
        for name in names:
            if name not in header:
                raise ConfigError(where, key, name, f"no such column in {path} ({quote(header)})")
    column = {name: header.index(name) for name in (*inputs, *targets)}

    def column_block(names: tuple[str, ...]) -> np.ndarray:
        out = np.empty((len(rows), len(names)))
        for r, row in enumerate(rows):
            for c, name in enumerate(names):
                text = row[column[name]]
                try:
                    out[r, c] = float(text)
                except ValueError:
                    raise ConfigError(
                        str(path), f"line {lines[r]}, column {name}", text, "must be a number"
                    ) from None
        outside = ~((out >= 0) & (out <= 1))
        if outside.any():
            r, c = np.argwhere(outside)[0]
            raise ConfigError(
                str(path),
                f"line {lines[r]}, column {names[c]}",
                float(out[r, c]),
                "must be in [0, 1]",
            )
        return out

    return Task(path.stem, column_block(inputs), column_block(targets))
