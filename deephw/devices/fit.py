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

import csv
from pathlib import Path

import numpy as np
import yaml

from deephw import atomic
from deephw.devices.cards import card_from_dict
from deephw.errors import ConfigError
from deephw.hashing import sha256_file

UP_WORDS = {"up", "+1", "1", "+", "set", "potentiate"}
DOWN_WORDS = {"down", "-1", "-", "reset", "depress"}


def read_steps(csv_path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Conductance before each pulse, its change, and whether it was an up pulse."""
    path = Path(csv_path)
    source = str(path)
    if not path.is_file():
        raise ConfigError(source, "", source, "file does not exist")
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise ConfigError(source, "", source, "no data rows")
    columns = set(rows[0])
    for needed in ("g_uS", "direction"):
        if needed not in columns:
            raise ConfigError(source, needed, sorted(columns), "missing column")
    g = np.array([_number(r["g_uS"], source, k, "g_uS") for k, r in enumerate(rows)])
    up = np.array([_direction(r["direction"], source, k) for k, r in enumerate(rows)])
    if "dg_uS" in columns:
        dg = np.array([_number(r["dg_uS"], source, k, "dg_uS") for k, r in enumerate(rows)])
        return g, dg, up
    cycle = np.array([r.get("cycle") or "" for r in rows])
    same = cycle[1:] == cycle[:-1]
    return g[:-1][same], np.diff(g)[same], up[1:][same]


def _number(text: str, source: str, row: int, name: str) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ConfigError(source, f"row {row + 2}.{name}", text, "must be a number") from None
    if not np.isfinite(value):
        raise ConfigError(source, f"row {row + 2}.{name}", text, "must be finite")
    return value


def _direction(text: str, source: str, row: int) -> bool:
    word = (text or "").strip().lower()
    if word in UP_WORDS:
        return True
    if word in DOWN_WORDS:
        return False
    raise ConfigError(source, f"row {row + 2}.direction", text, "must be up or down")


def fit_table(
    g: np.ndarray, dg: np.ndarray, up: np.ndarray, n_bins: int = 16, source: str = ""
) -> dict[str, list[float]]:
    """Bin steps by conductance; mean and standard deviation per bin and direction.

    Bins with fewer than two steps of a direction take values interpolated from their
    neighbours. Returns the lookup model's table fields and the bounds.
    """
    low, high = float(min(g.min(), (g + dg).min())), float(max(g.max(), (g + dg).max()))
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
    table["g_min_uS"], table["g_max_uS"] = _tidy([low, high])
    return table


def _tidy(values: np.ndarray | list[float]) -> list[float]:
    return [float(f"{v:.6g}") for v in values]


def fit_card(csv_path: str | Path, out_path: str | Path, n_bins: int = 16) -> dict:
    """Fit a ``lookup`` device card to the pulse data in ``csv_path``; write it atomically.

    The card uses a ``single`` cell whose reference sits mid-range and whose unit weight
    is half the range. Returns the card as a dict (validated before writing).
    """
    csv_path, out_path = Path(csv_path), Path(out_path)
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
    atomic.write_text(out_path, yaml.safe_dump(card, sort_keys=False, width=88))
    return card
