"""Fit a lookup-table device card to measured pulse data (a CSV file).

Two layouts are read, by their header:

- sweeps: columns ``g_uS`` and ``direction`` (``up``/``down``, or ``+1``/``-1``), and
  optionally ``cycle``. Each row is the conductance after one pulse; rows are in pulse
  order; the first row of each cycle is the starting conductance (its direction is not
  used). The step of a pulse is the change from the previous row of the same cycle.
- steps: columns ``g_uS`` (before the pulse), ``dg_uS`` and ``direction``.

Steps are binned by the conductance before the pulse; each bin gives a table point:
the mean step (the device's response) and the standard deviation (its
cycle-to-cycle noise), per direction.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from deephw import atomic
from deephw.csvfile import numeric_columns, read_csv_table
from deephw.devices.cards import card_from_dict
from deephw.errors import ConfigError, DeephwError
from deephw.hashing import sha256_file

UP_WORDS = {"up", "+1", "1", "+", "set", "potentiate"}
DOWN_WORDS = {"down", "-1", "-", "reset", "depress"}


def read_steps(csv_path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Conductance before each pulse, its change, and whether it was an up pulse.

    The file is read by :func:`deephw.csvfile.read_csv_table` (UTF-8, no ragged rows);
    every error names the file and, for a bad value, its line and column.
    """
    path = Path(csv_path)
    source = str(path)
    header, rows = read_csv_table(path)
    lines = rows.lines
    if len(rows) < 2:
        raise ConfigError(source, "", source, "one data row: fitting needs two or more pulses")
    if "direction" not in header:
        raise ConfigError(source, "column", "direction", f"missing column (header: {header})")
    names = ["g_uS", "dg_uS"] if "dg_uS" in header else ["g_uS"]
    values = numeric_columns(path, header, rows, names)
    col = header.index("direction")
    up = np.array(
        [_direction(row[col], source, line) for row, line in zip(rows, lines, strict=True)]
    )
    g = values["g_uS"]
    if "dg_uS" in values:
        return g, values["dg_uS"], up
    cycle = np.array([row[header.index("cycle")] for row in rows] if "cycle" in header else [""])
    cycle = np.broadcast_to(cycle, g.shape)
    same = cycle[1:] == cycle[:-1]
    if not same.any():
        reason = "one row per cycle: no pulse steps to fit (each cycle needs a start and pulses)"
        raise ConfigError(source, "column", "cycle", reason)
    return g[:-1][same], np.diff(g)[same], up[1:][same]


def _direction(text: str, source: str, line: int) -> bool:
    word = (text or "").strip().lower()
    if word in UP_WORDS:
        return True
    if word in DOWN_WORDS:
        return False
    raise ConfigError(source, f"line {line}, column direction", text, "must be up or down")


def fit_table(
    g: np.ndarray, dg: np.ndarray, up: np.ndarray, n_bins: int = 16, source: str = ""
) -> dict[str, list[float]]:
    """Bin steps by conductance; mean and standard deviation per bin and direction.

    Bins with fewer than two steps of a direction take values interpolated from their
    neighbours. Returns the lookup model's table fields and the bounds.
    """
    low, high = float(min(g.min(), (g + dg).min())), float(max(g.max(), (g + dg).max()))
    if not high > low:
        raise ConfigError(source, "g_uS", low, "the conductance never changes: nothing to fit")
    edges = np.linspace(low, high, n_bins + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    where = np.clip(np.digitize(g, edges) - 1, 0, n_bins - 1)
    table: dict[str, list[float]] = {"grid_uS": _tidy(centres)}
    for name, sel in (("up", up), ("down", ~up)):
        count = np.bincount(where[sel], minlength=n_bins)
        if (count >= 2).sum() < 1:
            reason = f"too few {name} pulses to fit (need two or more in some conductance bin)"
            raise ConfigError(source, "direction", name, reason)
        total = np.bincount(where[sel], dg[sel], minlength=n_bins)
        squares = np.bincount(where[sel], dg[sel] ** 2, minlength=n_bins)
        ok = count >= 2
        mean = total[ok] / count[ok]
        var = (squares[ok] - count[ok] * mean**2) / (count[ok] - 1)
        table[f"{name}_mean_uS"] = _tidy(np.interp(centres, centres[ok], mean))
        table[f"{name}_c2c_uS"] = _tidy(
            np.interp(centres, centres[ok], np.sqrt(np.maximum(var, 0)))
        )
    # noisy readings of a device near 0 can dip below it; a conductance cannot
    table["g_min_uS"], table["g_max_uS"] = _tidy([max(low, 0.0), high])
    return table


def _tidy(values: np.ndarray | list[float]) -> list[float]:
    return [float(f"{v:.6g}") for v in values]


def check_card_output(out_path: str | Path, force: bool = False) -> None:
    """Refuse, before any work, a card output that is a directory, an existing file
    (unless ``force``), or a location that cannot be written."""
    out_path = Path(out_path)
    if out_path.is_dir():
        raise DeephwError(f"{out_path}: is a directory; --out names the card file to write")
    if out_path.exists() and not force:
        raise DeephwError(f"{out_path}: exists; choose another file or pass --force to replace")
    atomic.check_output_location(out_path.parent, must_be_new=False)


def fit_card(
    csv_path: str | Path, out_path: str | Path, n_bins: int = 16, force: bool = False
) -> dict:
    """Fit a ``lookup`` device card to the pulse data in ``csv_path``; write it atomically.

    The card uses a ``single`` cell whose reference sits mid-range and whose unit weight
    is half the range. Returns the card as a dict (validated before writing). An
    existing ``out_path`` is replaced only with ``force``.
    """
    csv_path, out_path = Path(csv_path), Path(out_path)
    check_card_output(out_path, force)
    g, dg, up = read_steps(csv_path)
    table = fit_table(g, dg, up, n_bins, str(csv_path))
    low, high = table.pop("g_min_uS"), table.pop("g_max_uS")
    digest = sha256_file(csv_path)
    card = {
        "name": out_path.name.rsplit(".", 1)[0],
        "source": (
            f"Fitted to {csv_path.name} (sha256 {digest[:16]}): {g.size} pulses, "
            f"{int(up.sum())} up and {int((~up).sum())} down, {n_bins} conductance bins."
        ),
        "description": "Measured device: mean step and cycle-to-cycle spread per bin.",
        "cell": {
            "kind": "single",
            "g_ref_uS": float(f"{(high - low) / 2:.6g}"),
            "g_offset_uS": float(f"{(high + low) / 2:.6g}"),
        },
        "device": {"model": "lookup", "g_min_uS": low, "g_max_uS": high, **table},
    }
    card_from_dict(card, str(out_path))
    with atomic.claim(out_path):
        check_card_output(out_path, force)
        atomic.write_text(out_path, yaml.safe_dump(card, sort_keys=False, width=88))
    return card
