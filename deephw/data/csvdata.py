"""Data sets in CSV files: input columns by name, by range or "all but the label", and
targets as columns in [0, 1] or as one integer label column (one-hot encoded).

Files are read by :func:`deephw.csvfile.read_csv_table` (the one safe CSV reader);
every problem is one line naming the file, the line and the column.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deephw.csvfile import read_csv_table
from deephw.data.arrays import count_classes, need_memory, one_hot
from deephw.data.task import Task
from deephw.errors import ConfigError, quote
from deephw.validation import file_problem

BYTES_PER_FILE_BYTE = 40
"""Peak memory per byte of a CSV file while it is read: each field becomes a Python
string in a list (about 60 bytes for a field of 2 characters and its comma)."""


@dataclass(frozen=True)
class Columns:
    """Which columns of a CSV file are inputs and targets.

    ``inputs``: column names, a range ``"FIRST:LAST"`` (the columns from ``FIRST`` to
    ``LAST`` in the header's order), or ``()``: every column but the targets.
    ``targets``: columns of targets in [0, 1]; or ``label``: one column of integer class
    labels ``0 .. classes - 1``, one-hot encoded (``classes`` defaults to the largest
    label + 1). ``scale`` divides the inputs before they are checked in [0, 1].
    """

    inputs: tuple[str, ...] | str = ()
    targets: tuple[str, ...] = ()
    label: str | None = None
    classes: int | None = None
    scale: float | None = None


def _input_names(header: list[str], columns: Columns, where: str, path: Path) -> tuple[str, ...]:
    outputs = (columns.label,) if columns.label is not None else columns.targets
    spec = columns.inputs
    if isinstance(spec, str):
        first, colon, last = spec.partition(":")
        if not colon:
            reason = "a range is FIRST:LAST (two column names); a list names single columns"
            raise ConfigError(where, "task.inputs", spec, reason)
        for name in (first, last):
            if name not in header:
                raise ConfigError(where, "task.inputs", name, _no_column(path, header))
        start, stop = header.index(first), header.index(last)
        if stop < start:
            reason = f"{quote(last)} comes before {quote(first)} in {path}"
            raise ConfigError(where, "task.inputs", spec, reason)
        names = tuple(header[start : stop + 1])
    elif spec:
        names = spec
    else:
        names = tuple(name for name in header if name not in outputs)
    for name in names:
        if name not in header:
            raise ConfigError(where, "task.inputs", name, _no_column(path, header))
        if name in outputs:
            reason = "is both an input and a target column"
            raise ConfigError(where, "task.inputs", name, reason)
    if not names:
        raise ConfigError(where, "task.inputs", list(names), "name at least one column")
    return names


def _no_column(path: Path, header: list[str]) -> str:
    return f"no such column in {path} ({quote(header)})"


def read_csv_task(path: str | Path, columns: Columns, source: str = "") -> Task:
    """The data set of the CSV file ``path`` (a header row, then one sample per row).

    Parameters
    ----------
    path
        The CSV file.
    columns
        Which columns are inputs and targets (see :class:`Columns`).
    source
        The config file quoted in errors about the columns it names.

    Raises
    ------
    ConfigError
        The file cannot be read or is too large, a named column is missing, a value is
        not a number, an input is outside [0, 1] (after ``scale``), a target outside
        [0, 1], or a label is not an integer in ``0 .. classes - 1``.
    """
    path = Path(path)
    where = source or str(path)
    problem = file_problem(path)
    if problem is not None:
        raise ConfigError(where, "task.csv", str(path), problem)
    need_memory(path, "file size", (path.stat().st_size,), BYTES_PER_FILE_BYTE)
    header, rows = read_csv_table(path)
    if columns.label is None and not columns.targets:
        reason = "name the target columns (task.targets) or a label column (task.label)"
        raise ConfigError(where, "task.targets", [], reason)
    outputs = (columns.label,) if columns.label is not None else columns.targets
    key = "task.label" if columns.label is not None else "task.targets"
    for name in outputs:
        if name not in header:
            raise ConfigError(where, key, name, _no_column(path, header))
    inputs = _input_names(header, columns, where, path)
    scale = 1.0 if columns.scale is None else columns.scale
    x = _block(path, header, rows, inputs, scale)
    if columns.label is None:
        return Task(path.stem, x, _block(path, header, rows, columns.targets, 1.0))
    labels = _numbers(path, header, rows, (columns.label,))[:, 0]
    lines = rows.lines
    for k, value in enumerate(labels):
        if value != round(value) or value < 0:
            where_cell = f"line {lines[k]}, column {columns.label}"
            reason = "must be a class number (an integer >= 0)"
            raise ConfigError(str(path), where_cell, rows[k][header.index(columns.label)], reason)
    classes = count_classes(labels.astype(np.int64), columns.classes)
    outside = labels >= classes
    if outside.any():
        k = int(np.argmax(outside))
        where_cell = f"line {lines[k]}, column {columns.label}"
        reason = f"outside the classes 0..{classes - 1} (task.classes)"
        raise ConfigError(str(path), where_cell, int(labels[k]), reason)
    return Task(path.stem, x, one_hot(labels.astype(np.int64), classes, path, columns.label))


def _numbers(path: Path, header: list[str], rows: list[list[str]], names: tuple[str, ...]):
    """``(rows, len(names))`` floats; the first cell that is not a finite number is named."""
    index = [header.index(name) for name in names]
    cells = [[row[c] for c in index] for row in rows]
    try:
        out = np.array(cells, dtype=float)
    except ValueError:
        out = None
    if out is None or not np.isfinite(out).all():
        lines = rows.lines
        for r, row in enumerate(cells):
            for c, text in enumerate(row):
                try:
                    value = float(text)
                except ValueError:
                    where = f"line {lines[r]}, column {names[c]}"
                    raise ConfigError(str(path), where, text, "must be a number") from None
                if not np.isfinite(value):
                    where = f"line {lines[r]}, column {names[c]}"
                    raise ConfigError(str(path), where, text, "must be finite")
    return out


def _block(
    path: Path, header: list[str], rows: list[list[str]], names: tuple[str, ...], scale: float
) -> np.ndarray:
    """The columns ``names`` divided by ``scale``, checked in [0, 1] (activities are
    clipped to [0, 1], so other values cannot be reached)."""
    out = _numbers(path, header, rows, names)
    if scale != 1.0:
        out = out / scale
    outside = ~((out >= 0) & (out <= 1))
    if outside.any():
        r, c = np.argwhere(outside)[0]
        value = float(out[r, c] * scale)
        reason = "must be in [0, 1]" if scale == 1.0 else f"must be in [0, {scale:g}] (task.scale)"
        raise ConfigError(str(path), f"line {rows.lines[r]}, column {names[c]}", value, reason)
    return out
