"""Read a CSV table safely: UTF-8 only, bounded fields, no ragged rows, errors by line.

Every CSV file a user hands deephw (task data sets, measured pulse data) goes through
:func:`read_csv_table`; numbers come out of it through :func:`numeric_columns`. Each
problem is one :class:`~deephw.errors.ConfigError` naming the file, the line and, where
there is one, the column and the value.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from deephw.errors import ConfigError

FIELD_LIMIT = 131072
"""The longest field (in characters) a CSV file may hold: Python's ``csv`` default."""


class CsvRows(list):
    """The data rows of a CSV table (lists of strings) with the file line of each row.

    A plain ``list`` for every caller; :attr:`lines` lets error messages name the line
    where a row starts (blank lines are skipped and quoted fields may span lines, so the
    row index alone does not give it).
    """

    def __init__(self, rows: list[list[str]], lines: list[int]) -> None:
        super().__init__(rows)
        self.lines = lines


def _label(path: Path, source: str | None) -> str:
    return f"{source}: {path}" if source else str(path)


def _decode(data: bytes, label: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        byte = data[error.start : error.start + 1]
        reason = f"line {line}: byte {byte!r} is not UTF-8 text (save the file as UTF-8)"
        raise ConfigError(label, "", None, reason) from None


def read_csv_table(
    path: str | Path, source: str | None = None, *, comments: bool = False
) -> tuple[list[str], list[list[str]]]:
    """The header and the data rows of the CSV file ``path``.

    Parameters
    ----------
    path
        The CSV file: UTF-8 (a byte-order mark is allowed), a header row, then at least
        one data row. Blank lines are skipped.
    source
        The file that named ``path`` (a config), quoted before it in errors.
    comments
        Skip rows whose first field starts with ``#`` (files deephw writes with a
        comment line, such as measured conductances).

    Returns
    -------
    header : list of str
        Column names (surrounding spaces removed), unique and non-empty.
    rows : CsvRows
        Each data row as a list of strings, as many as the header has; ``rows.lines``
        holds the line where each row starts.

    Raises
    ------
    ConfigError
        The file is missing or not a file, not UTF-8, holds a field longer than
        :data:`FIELD_LIMIT` characters or a NUL byte, has no header or no data row, a
        blank or repeated column name, or a row with more or fewer fields than the
        header.
    """
    path = Path(path)
    label = _label(path, source)
    if not path.is_file():
        reason = "is a directory, not a CSV file" if path.is_dir() else "file does not exist"
        raise ConfigError(label, "", str(path), reason)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError(label, "", str(path), f"cannot read: {error.strerror}") from None
    text = _decode(data, label)
    if "\0" in text:
        line = text[: text.index("\0")].count("\n") + 1
        raise ConfigError(label, "", None, f"line {line}: a NUL character (not a text file)")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    start = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            line = reader.line_num or start
            if "field larger than field limit" in str(error):
                reason = f"a field is longer than {FIELD_LIMIT} characters"
            else:
                reason = f"not a valid CSV line ({error})"
            raise ConfigError(label, "", None, f"line {line}: {reason}") from None
        here, start = start, reader.line_num + 1
        if not row or (comments and row[0].lstrip().startswith("#")):
            continue
        if header is None:
            header = _header(row, label, here)
            continue
        if len(row) != len(header):
            reason = f"line {here}: {len(row)} fields, but the header has {len(header)}"
            raise ConfigError(label, "", None, reason)
        rows.append(row)
        lines.append(here)
    if header is None:
        raise ConfigError(label, "", str(path), "empty CSV file (no header row)")
    if not rows:
        raise ConfigError(label, "", str(path), "CSV has no data rows")
    return header, CsvRows(rows, lines)


def _header(row: list[str], label: str, line: int) -> list[str]:
    names = [name.strip() for name in row]
    for name in names:
        if not name:
            raise ConfigError(label, f"line {line}", row, "blank column name in the header")
        if names.count(name) > 1:
            raise ConfigError(label, f"line {line}", name, "column named twice in the header")
    return names


def numeric_columns(
    path: str | Path,
    header: list[str],
    rows: list[list[str]],
    names: list[str] | tuple[str, ...],
    *,
    source: str | None = None,
    finite: bool = True,
) -> dict[str, np.ndarray]:
    """The columns ``names`` of a table read by :func:`read_csv_table`, as float arrays.

    Parameters
    ----------
    path, source
        The CSV file and the file that named it, quoted in errors.
    header, rows
        As returned by :func:`read_csv_table`.
    names
        Columns to convert.
    finite
        Refuse NaN and infinities (the default); False lets them through.

    Raises
    ------
    ConfigError
        A column is missing (the message lists the header), or a value is not a number
        (or not finite), naming its line and column.
    """
    label = _label(Path(path), source)
    lines = getattr(rows, "lines", None) or [k + 2 for k in range(len(rows))]
    out: dict[str, np.ndarray] = {}
    for name in names:
        if name not in header:
            raise ConfigError(label, "column", name, f"no such column (the header has {header})")
        col = header.index(name)
        values = np.empty(len(rows))
        for k, row in enumerate(rows):
            text = row[col]
            try:
                value = float(text)
            except ValueError:
                where = f"line {lines[k]}, column {name}"
                raise ConfigError(label, where, text, "must be a number") from None
            if finite and not np.isfinite(value):
                where = f"line {lines[k]}, column {name}"
                raise ConfigError(label, where, text, "must be finite")
            values[k] = value
        out[name] = values
    return out
