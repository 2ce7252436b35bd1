"""NPZ archives read safely: NumPy arrays only (never pickles), sizes checked first.

Every NPZ file deephw reads (a run's ``weights.npz``, a data set) goes through
:func:`read_npz`: each member's ``.npy`` header must declare a number or boolean type
and a size that fits in memory (:mod:`deephw.budget`) before any array is loaded.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import IO

import numpy as np

from deephw.budget import Estimate, enforce
from deephw.errors import DeephwError, quote


def read_npz(path: str | Path, names: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """The arrays of the NPZ file ``path`` (only ``names``, if given), checked first.

    Raises
    ------
    DeephwError
        Naming the file: empty, not a ZIP of ``.npy`` arrays (damaged), an array of a
        type other than numbers or booleans (e.g. pickled objects), or one too large for
        memory.
    """
    path = Path(path)
    if path.stat().st_size == 0:
        raise DeephwError(f"{path}: file is empty (0 bytes), not an NPZ archive")
    try:
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                with archive.open(name) as member:
                    check_npy_header(path, name.removesuffix(".npy"), member)
        with np.load(path, allow_pickle=False) as npz:
            wanted = npz.files if names is None else [k for k in names if k in npz.files]
            return {key: npz[key] for key in wanted}
    except DeephwError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error):
        raise DeephwError(f"{path}: not a readable NPZ file (damaged?)") from None


def check_npy_header(path: Path, name: str, member: IO[bytes]) -> None:
    """Refuse an array whose ``.npy`` header declares no number type or too many bytes."""
    try:
        version = np.lib.format.read_magic(member)
        read_header = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        shape, _, dtype = read_header(member)
    except (ValueError, OSError, EOFError, SyntaxError):
        raise DeephwError(f"{path}: array {quote(name)} is not a NumPy array (damaged?)") from None
    if dtype.kind not in "biuf":
        raise DeephwError(
            f"{path}: array {quote(name)} holds {dtype} values, not numbers or booleans"
        )
    size = float(np.prod([float(v) for v in shape])) * dtype.itemsize
    enforce(Estimate(memory_bytes=size), source=str(path), field=f"array {name}", value=shape)
