"""IDX files, the MNIST format: a magic number, the dimensions, then the values.

The header is two zero bytes, a type code (``0x08`` unsigned byte, ``0x09`` signed
byte, ``0x0B`` 16-bit, ``0x0C`` 32-bit integers, ``0x0D`` 32-bit, ``0x0E`` 64-bit
floats), the number of dimensions, and each dimension as a big-endian 32-bit integer;
the values follow, big-endian. Files may be gzipped (told by their first two bytes).

A file may come from anywhere: its declared size is checked against the memory this
machine can give before anything is allocated (a gzipped file is never decompressed
past it), and a file holding fewer or more bytes than it declares is refused.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from deephw.data.arrays import need_memory
from deephw.errors import ConfigError
from deephw.validation import file_problem

TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
"""IDX type codes and the NumPy types of their values."""

GZIP_MAGIC = b"\x1f\x8b"

FLOAT_BYTES = 16
"""Bytes per value of the float64 copies a loader makes of the raw values (two at once)."""


def read_idx(
    path: str | Path, field: str = "task.idx", dims: tuple[int, ...] = (1, 2, 3)
) -> np.ndarray:
    """The array an IDX file holds (gzipped or not), in its own type.

    Parameters
    ----------
    path
        The file.
    field
        The config field that named it, for the budget message.
    dims
        The numbers of dimensions allowed (images: 2 or 3, labels: 1).

    Raises
    ------
    ConfigError
        Naming the file: missing, not IDX (magic number), a dimension count not in
        ``dims``, a size past the memory limit, truncated or with trailing bytes, or a
        damaged gzip stream.
    """
    path = Path(path)
    problem = file_problem(path)
    if problem is not None:
        raise ConfigError(str(path), "", None, problem)
    try:
        with path.open("rb") as raw:
            zipped = raw.read(2) == GZIP_MAGIC
        with gzip.open(path, "rb") if zipped else path.open("rb") as stream:
            return _read(stream, path, field, dims)
    except ConfigError:
        raise
    except (OSError, EOFError, zlib.error) as exc:
        what = "gzip" if zipped else "IDX"
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise ConfigError(str(path), "", None, f"not a readable {what} file ({reason})") from None


def _exactly(stream: BinaryIO, size: int, path: Path, what: str) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        reason = f"truncated: {what} needs {size} bytes, the file holds {len(data)}"
        raise ConfigError(str(path), "", None, reason)
    return data


def _read(stream: BinaryIO, path: Path, field: str, dims: tuple[int, ...]) -> np.ndarray:
    head = stream.read(4)
    if len(head) < 4 or head[:2] != b"\0\0" or head[2] not in TYPES:
        raise ConfigError(
            str(path),
            "magic number",
            head.hex(),
            "not an IDX file (expected 0000 then a type code 08, 09, 0b, 0c, 0d or 0e)",
        )
    dtype = np.dtype(TYPES[head[2]])
    ndim = head[3]
    if ndim not in dims:
        expected = " or ".join(str(d) for d in dims)
        raise ConfigError(str(path), "dimensions", ndim, f"expected {expected} dimension(s)")
    shape = tuple(
        int(v) for v in np.frombuffer(_exactly(stream, 4 * ndim, path, "the header"), ">u4")
    )
    need_memory(path, f"{field} (declared shape)", shape, dtype.itemsize + FLOAT_BYTES)
    size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    data = _exactly(stream, size, path, f"shape {shape}")
    if stream.read(1):
        reason = f"holds more bytes than its shape {shape} declares (damaged, or not this file?)"
        raise ConfigError(str(path), "", None, reason)
    values = np.frombuffer(data, dtype).reshape(shape)
    return values.astype(dtype.newbyteorder("="), copy=False)


def idx_bytes(values: np.ndarray) -> bytes:
    """The IDX encoding of ``values`` (type from its dtype); the inverse of :func:`read_idx`."""
    codes = {np.dtype(v).newbyteorder("="): k for k, v in TYPES.items()}
    dtype = np.dtype(values.dtype).newbyteorder("=")
    code = codes[dtype]
    header = bytes([0, 0, code, values.ndim]) + np.asarray(values.shape, ">u4").tobytes()
    return header + np.ascontiguousarray(values, TYPES[code]).tobytes()
