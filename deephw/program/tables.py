"""Device tables: one row per device, in NPZ (read by deephw) and CSV (for people).

Columns of a group table, in this order:

==================  ========  =========================================================
column              NPZ type  meaning
==================  ========  =========================================================
``tile``            int32     tile number (see :mod:`deephw.program.layout`)
``row``             int32     row within the tile
``column``          int32     column within the tile
``role``            uint8     device role in the unit cell (index into ``role_names``)
``pre``, ``post``   int32     the connection ``pre -> post`` the cell holds
``target_uS``       float64   target conductance (µS)
``start``           uint8     starting state (index into ``start_names``: ``reset``)
``start_uS``        float64   nominal conductance in the starting state (µS)
``polarity``        int8      +1 potentiating (SET) pulses, -1 depressing, 0 none
``pulses``          int64     nominal open-loop pulses from the start to the target
``method``          uint8     ``write_verify`` or ``reset`` (index into ``method_names``)
``max_iterations``  int32     verify reads allowed (write-verify schedule)
``tolerance_uS``    float64   accepted ``|read - target|`` (µS); NaN for ``reset``
==================  ========  =========================================================

In the CSV the categorical columns hold their names and floats are written with 17
significant digits, so that both formats carry the same numbers exactly. The compressed
NPZ is the program's own format, read by verify and import: for a 1024 x 1024-cell
network on an Ambrogio cell (3.1 million devices) the tables take 11 MB in NPZ against
181 MB as CSV, and exporting with CSV copies takes about three times as long. CSV copies
are for people and for controllers that want text; they are written for small programs.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deephw.csvfile import numeric_columns, read_csv_table
from deephw.errors import ConfigError, DeephwError

START_NAMES = ("reset",)
"""Starting states: ``reset`` (the device is RESET before it is programmed)."""
METHOD_NAMES = ("write_verify", "reset")
"""``write_verify``: program and verify iteratively; ``reset``: RESET only, no verify."""

COLUMNS: dict[str, type] = {
    "tile": np.int32,
    "row": np.int32,
    "column": np.int32,
    "role": np.uint8,
    "pre": np.int32,
    "post": np.int32,
    "target_uS": np.float64,
    "start": np.uint8,
    "start_uS": np.float64,
    "polarity": np.int8,
    "pulses": np.int64,  # nominal steps: a fine-grained card needs more than 2**31
    "method": np.uint8,
    "max_iterations": np.int32,
    "tolerance_uS": np.float64,
}
CATEGORIES = {"role": "role_names", "start": "start_names", "method": "method_names"}
MEASURED_COLUMNS = ("tile", "row", "column", "role", "conductance")
"""Columns a CSV of measured conductances must have (``conductance`` in µS; the name
``conductance_uS`` is accepted too)."""


@dataclass
class DeviceTable:
    """Columns of :data:`COLUMNS` as equal-length arrays, with the category names."""

    columns: dict[str, np.ndarray]
    role_names: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.columns["tile"].size)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def subset(self, rows: np.ndarray) -> DeviceTable:
        """The rows ``rows`` (indices or a boolean mask), in that order."""
        return DeviceTable({k: v[rows] for k, v in self.columns.items()}, self.role_names)

    def roles(self) -> np.ndarray:
        """Role names of the rows."""
        return np.asarray(self.role_names)[self.columns["role"]]

    def methods(self) -> np.ndarray:
        """Method names of the rows."""
        return np.asarray(METHOD_NAMES)[self.columns["method"]]


def make_table(values: Mapping[str, np.ndarray], role_names: Sequence[str]) -> DeviceTable:
    """A table from arrays named as :data:`COLUMNS`, cast to their column types."""
    missing = [name for name in COLUMNS if name not in values]
    if missing:
        raise ValueError(f"device table lacks columns {missing}")
    columns = {name: np.asarray(values[name]).astype(kind) for name, kind in COLUMNS.items()}
    sizes = {v.size for v in columns.values()}
    if len(sizes) != 1:
        raise ValueError(f"device table columns differ in length: {sorted(sizes)}")
    return DeviceTable(columns, tuple(role_names))


def npz_bytes(table: DeviceTable) -> bytes:
    """The table as a compressed NPZ file (columns plus ``*_names`` arrays)."""
    buffer = io.BytesIO()
    names = {
        "role_names": np.array(table.role_names),
        "start_names": np.array(START_NAMES),
        "method_names": np.array(METHOD_NAMES),
    }
    np.savez_compressed(buffer, **table.columns, **names)
    return buffer.getvalue()


MAX_CATEGORY_NAMES = 256
"""The most names a ``*_names`` array may hold (category codes are ``uint8``)."""


def _header(archive: zipfile.ZipFile, name: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of the array ``name`` of an NPZ, read from its header only."""
    with archive.open(name) as handle:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
    return shape, dtype


def read_npz(path: Path, data: bytes | None = None, rows: int | None = None) -> DeviceTable:
    """Read a table written by :func:`npz_bytes` (from ``data`` if given, the bytes of
    ``path`` already read); errors name the file.

    Every column must be one-dimensional, of the type :data:`COLUMNS` gives (no silent
    cast: a float column read as integers would change the program) and, if ``rows`` is
    given, of that length. Shapes and types are checked on the arrays' headers before
    any array is decompressed, so a forged table cannot make deephw allocate more than
    its manifest announces.
    """
    data = Path(path).read_bytes() if data is None else data
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            headers = {
                name.removesuffix(".npy"): _header(archive, name)
                for name in archive.namelist()
                if name.endswith(".npy")
            }
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError) as exc:
        raise DeephwError(f"{path}: cannot read the device table ({exc})") from None
    missing = [k for k in (*COLUMNS, *CATEGORIES.values()) if k not in headers]
    if missing:
        raise DeephwError(f"{path}: not a device table (missing {', '.join(missing)})")
    for name, kind in COLUMNS.items():
        shape, dtype = headers[name]
        if len(shape) != 1 or dtype != np.dtype(kind) or rows not in (None, shape[0]):
            length = "" if rows is None else f" of {rows} rows"
            raise DeephwError(
                f"{path}: column {name} is {dtype} of shape {shape}, expected a "
                f"one-dimensional {np.dtype(kind)} column{length}"
            )
    for key in CATEGORIES.values():
        shape, dtype = headers[key]
        if len(shape) != 1 or shape[0] > MAX_CATEGORY_NAMES or dtype.kind != "U":
            raise DeephwError(f"{path}: {key} must be a short list of names, got {dtype} {shape}")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in (*COLUMNS, *CATEGORIES.values())}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DeephwError(f"{path}: cannot read the device table ({exc})") from None
    for column, names in (("start", START_NAMES), ("method", METHOD_NAMES)):
        if tuple(arrays[CATEGORIES[column]]) != names:
            raise DeephwError(f"{path}: unknown {column} names {list(arrays[CATEGORIES[column]])}")
    try:
        return make_table(arrays, [str(r) for r in arrays["role_names"]])
    except ValueError as exc:
        raise DeephwError(f"{path}: {exc}") from None


def csv_bytes(table: DeviceTable) -> bytes:
    """The table as CSV: a header, then one line per device."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(list(COLUMNS))
    text = {
        "role": np.asarray(table.role_names)[table["role"]],
        "start": np.asarray(START_NAMES)[table["start"]],
        "method": np.asarray(METHOD_NAMES)[table["method"]],
    }
    cells = []
    for name, kind in COLUMNS.items():
        if name in text:
            cells.append(text[name].tolist())
        elif np.issubdtype(kind, np.floating):
            cells.append([f"{v:.17g}" for v in table[name].tolist()])
        else:
            cells.append(table[name].tolist())
    writer.writerows(zip(*cells, strict=True))
    return out.getvalue().encode()


@dataclass
class Measured:
    """Conductances read from a measured CSV: addresses, role names and values (µS)."""

    tile: np.ndarray
    row: np.ndarray
    column: np.ndarray
    role: np.ndarray
    conductance_uS: np.ndarray
    line: np.ndarray


def read_measured_csv(path: str | Path) -> Measured:
    """Read a CSV of measured conductances: ``tile, row, column, role, conductance``.

    Other columns are ignored; lines starting with ``#`` are comments. The file goes
    through :func:`deephw.csvfile.read_csv_table` (UTF-8, bounded fields, no ragged
    rows), and every error names the file, the line and the column. Conductances are
    not checked here (``nan`` and ``inf`` are read): the importer refuses those outside
    their device's plausible range, naming the device.
    """
    path = Path(path)
    header, rows = read_csv_table(path, comments=True)
    if "conductance" not in header and "conductance_uS" in header:
        header[header.index("conductance_uS")] = "conductance"
    missing = [name for name in MEASURED_COLUMNS if name not in header]
    if missing:
        need = ", ".join(MEASURED_COLUMNS)
        raise DeephwError(f"{path}: missing columns {missing} (need {need})")
    numbers = numeric_columns(path, header, rows, ("tile", "row", "column"))
    conductance = numeric_columns(path, header, rows, ("conductance",), finite=False)
    lines = np.asarray(rows.lines)
    for name, values in numbers.items():
        bad = (values != np.round(values)) | (np.abs(values) > 2**31)
        if bad.any():
            k = int(np.argmax(bad))
            where = f"line {lines[k]}, column {name}"
            raise ConfigError(
                str(path), where, float(values[k]), "must be a device address (an integer)"
            )
    role = header.index("role")
    return Measured(
        numbers["tile"].astype(np.int64),
        numbers["row"].astype(np.int64),
        numbers["column"].astype(np.int64),
        np.array([r[role].strip() for r in rows]),
        conductance["conductance"],
        lines,
    )


def measured_csv_bytes(
    table: DeviceTable, conductance_uS: np.ndarray, chip_seed: int | None = None
) -> bytes:
    """A measured-conductance CSV (the format :func:`read_measured_csv` reads)."""
    out = io.StringIO()
    if chip_seed is not None:
        out.write(f"# simulated chip seed {chip_seed}: conductances read after programming\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(MEASURED_COLUMNS)
    writer.writerows(
        zip(
            table["tile"].tolist(),
            table["row"].tolist(),
            table["column"].tolist(),
            table.roles().tolist(),
            [f"{v:.17g}" for v in np.asarray(conductance_uS).tolist()],
            strict=True,
        )
    )
    return out.getvalue().encode()
