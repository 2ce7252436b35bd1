"""The tidy results table: one row per configuration and seed.

Columns, in order: ``config`` (the configuration key), the study's label column (``run``
for an evaluate study), one column per axis (named by its dotted path, holding the value
the configuration takes), ``seed``, the study's metrics, the hardware columns
(``pulses``, ``energy_pJ``, ``chip_time_ns``; empty until runs report them), then any
extra per-seed metrics. ``DIR/table.parquet`` carries the sweep's description (kind,
axes, metrics) in its schema metadata, so that figures can be redrawn from it alone;
``DIR/table.csv`` holds the same rows.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from deephw import atomic
from deephw.errors import DeephwError
from deephw.sweep.plan import Sweep
from deephw.sweep.store import ResultStore
from deephw.sweep.studies import HARDWARE_METRICS

PARQUET = "table.parquet"
CSV = "table.csv"
METADATA_KEY = b"deephw.sweep"
"""Schema-metadata key of the sweep's description in the Parquet file."""


def info(sweep: Sweep) -> dict[str, Any]:
    """The sweep's description stored with its table."""
    study = sweep.study
    return {
        "kind": study.name,
        "description": sweep.spec.description,
        "source": sweep.source,
        "combine": sweep.spec.combine,
        "label": study.label_column,
        "axes": list(sweep.spec.axes),
        "metrics": dict(study.metrics),
        "hardware": list(HARDWARE_METRICS),
        "configurations": len(sweep.points),
        "figure_groups": {name: list(group) for name, group in study.figure_groups.items()},
        "heatmap": None
        if study.heatmap_metrics is None
        else [list(pair) for pair in study.heatmap_metrics],
        **study.describe(sweep),
    }


def build(sweep: Sweep, store: ResultStore) -> pd.DataFrame:
    """The table of a finished sweep, rows in sweep order and by seed.

    Raises
    ------
    DeephwError
        If a configuration has no stored results.
    """
    study = sweep.study
    records = []
    for point in sweep.points:
        rows = store.read(point)
        if rows is None:
            raise DeephwError(f"configuration {point.key} has no stored results")
        for row in sorted(rows, key=lambda r: r["seed"]):
            records.append({"config": point.key, **point.values, **row})
    fixed = ["config", *sweep.columns, "seed", *study.metrics, *HARDWARE_METRICS]
    extras = sorted({name for record in records for name in record} - set(fixed))
    frame = pd.DataFrame.from_records(records, columns=[*fixed, *extras])
    frame["seed"] = frame["seed"].astype("int64")
    dtypes = {**study.metrics, **dict.fromkeys([*HARDWARE_METRICS, *extras], "float64")}
    for name, dtype in dtypes.items():
        frame[name] = _as_dtype(frame[name], dtype)
    for name in sweep.columns:
        frame[name] = _uniform(frame[name])
    return frame


def _as_dtype(column: pd.Series, dtype: str) -> pd.Series:
    if dtype == "float64":
        return pd.to_numeric(column.astype(object).where(column.notna(), None)).astype(float)
    if dtype == "bool":
        return column.fillna(False).astype(bool)
    return column.astype(dtype)


def _uniform(column: pd.Series) -> pd.Series:
    """Axis values of one type (numbers, booleans or text); mixed types become text."""
    kinds = {type(v) for v in column if v is not None}
    if kinds <= {int, float} and kinds:
        return pd.to_numeric(column)
    if len(kinds) <= 1:
        return column
    return column.map(lambda v: None if v is None else str(v))


def write(frame: pd.DataFrame, description: dict[str, Any], out_dir: str | Path) -> Path:
    """Write ``table.parquet`` (with the description) and ``table.csv`` atomically."""
    out = Path(out_dir)
    arrow = pa.Table.from_pandas(frame, preserve_index=False)
    metadata = dict(arrow.schema.metadata or {})
    metadata[METADATA_KEY] = json.dumps(description).encode()
    arrow = arrow.replace_schema_metadata(metadata)
    sink = pa.BufferOutputStream()
    pq.write_table(arrow, sink)
    atomic.write_bytes(out / PARQUET, sink.getvalue().to_pybytes())
    text = io.StringIO()
    frame.to_csv(text, index=False, lineterminator="\n")
    atomic.write_text(out / CSV, text.getvalue())
    return out / PARQUET


def read(out_dir: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The table of a sweep directory and the sweep's description.

    Raises
    ------
    DeephwError
        If the directory has no readable table (e.g. the sweep is not finished).
    """
    path = Path(out_dir) / PARQUET
    if not path.is_file():
        raise DeephwError(
            f"{out_dir}: no {PARQUET} (a sweep writes it once every "
            "configuration is done; run the sweep again to finish it)"
        )
    try:
        arrow = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise DeephwError(f"{path}: cannot read ({exc})") from None
    raw = (arrow.schema.metadata or {}).get(METADATA_KEY)
    if raw is None:
        raise DeephwError(f"{path}: not a sweep table (no sweep description)")
    return arrow.to_pandas(), json.loads(raw)
