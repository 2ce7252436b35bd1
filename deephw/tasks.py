"""Supervised tasks: input patterns in [0, 1] and their targets.

Built-in Boolean tasks (AND, OR, XOR, NOT, IDENTITY) and any CSV data set whose input and
target columns are named in the run config.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

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
    header, rows, lines = read_table(path)
    if not rows:
        raise ConfigError(str(path), "", str(path), "CSV has no data rows")
    for key, names in (("task.inputs", inputs), ("task.targets", targets)):
        if not names:
            raise ConfigError(where, key, list(names), "name at least one column")
        for name in names:
            if name not in header:
                raise ConfigError(where, key, name, f"no such column in {path} ({quote(header)})")
            if header.count(name) > 1:
                raise ConfigError(where, key, name, f"{path} has two columns of this name")
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


def read_table(path: Path) -> tuple[list[str], list[list[str]], list[int]]:
    """The header, the data rows and their line numbers of a CSV file.

    The file is UTF-8 (an optional BOM is dropped); blank lines are skipped, which is why
    each row's line number is returned beside it. Every problem is one
    :class:`ConfigError` naming the file and the line: text that is not UTF-8, a field
    longer than :func:`csv.field_size_limit`, a row whose field count differs from the
    header's.
    """
    source = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(source, "", source, f"cannot read the file ({exc.strerror})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        bad = data[exc.start : exc.end]
        raise ConfigError(source, "", bad, f"line {line}: not UTF-8 text (byte {bad!r})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        header = next(reader, None)
        if header is None:
            raise ConfigError(source, "", source, "CSV is empty: no header row")
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                reason = (
                    f"line {reader.line_num}: {len(row)} fields, but the header has {len(header)}"
                )
                raise ConfigError(source, "", source, reason)
            rows.append(row)
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise ConfigError(source, "", source, f"line {reader.line_num}: {exc}") from None
    return header, rows, lines
