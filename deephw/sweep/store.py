"""Result files: one per finished configuration, written atomically.

``DIR/results/KEY.json`` holds the rows (one per seed) of the configuration with key
``KEY``, with the configuration itself. A file is either absent or complete (temporary
file, then rename), and a configuration has exactly one file name, so an interrupted
sweep that is run again recomputes only the missing files and can never hold a row
twice. A file that cannot be read, or whose seeds do not match its configuration, counts
as missing and is recomputed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from deephw import __version__, atomic
from deephw.sweep.plan import Point

FORMAT = 1
"""Version of the result-file layout."""


class ResultStore:
    """The result files of one sweep directory.

    Parameters
    ----------
    folder
        The folder holding ``KEY.json`` files (created on the first write).
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def path(self, key: str) -> Path:
        """The file of the configuration with ``key``."""
        return self.folder / f"{key}.json"

    def read(self, point: Point) -> list[dict[str, Any]] | None:
        """The rows of ``point``, or ``None`` if it has no complete, matching file."""
        try:
            data = json.loads(self.path(point.key).read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("key") != point.key:
            return None
        rows = data.get("rows")
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            return None
        if sorted(row.get("seed", -1) for row in rows) != sorted(point.seeds):
            return None
        return rows

    def done(self, points: list[Point] | tuple[Point, ...]) -> set[str]:
        """Keys of the points whose results are stored."""
        return {point.key for point in points if self.read(point) is not None}

    def write(self, point: Point, rows: list[dict[str, Any]], compute_s: float | None) -> Path:
        """Store the rows of ``point`` (computed in ``compute_s`` seconds) atomically.

        Returns the file.

        Raises
        ------
        ValueError
            If the rows are not one per seed of the point (nothing is written).
        """
        seeds = sorted(row.get("seed", -1) for row in rows)
        if seeds != sorted(point.seeds):
            raise ValueError(
                f"configuration {point.key}: rows for seeds {seeds}, expected {sorted(point.seeds)}"
            )
        record = {
            "format": FORMAT,
            "key": point.key,
            "kind": point.job.kind,
            "values": point.values,
            "config": point.job.config,
            "options": point.job.options,
            "deephw": __version__,
            "compute_s": compute_s,
            "rows": rows,
        }
        path = self.path(point.key)
        atomic.write_text(path, json.dumps(record, indent=1) + "\n")
        return path
