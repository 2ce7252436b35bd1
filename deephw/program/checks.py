"""What a program's files must hold, checked before anything uses them.

Hashes show that a file is the one exported, not that it is sane: whoever edits a
program can recompute every digest. So the tools check the content too, and refuse a
forged program in one line naming the file, the device or line and the value:

- a group table's addresses lie in the network and agree with the tile geometry, its
  category codes are known, its targets are finite and inside the card's device range,
  its methods follow the card (held roles held, the others written) and its schedule is
  its group's (``tolerance_uS``, ``max_iterations``);
- every device appears once over all tables, and the counts are those of the manifest;
- ``pruned.csv`` lists distinct cells of the network, none of them programmed;
- a measured conductance lies within its device's physical range, widened by that range
  on each side (reads are noisy, devices vary), see :func:`plausible_range`.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from deephw.devices import Card, DeviceModel, get_cell
from deephw.errors import DeephwError, quote
from deephw.program.groups import describe_device
from deephw.program.layout import TileGeometry
from deephw.program.manifest import GroupRef, Manifest
from deephw.program.plan import RESET, WRITE_VERIFY, device_range, held_roles
from deephw.program.tables import METHOD_NAMES, START_NAMES, DeviceTable

PRUNED_COLUMNS = ("pre", "post", "tile", "row", "column")
"""Columns of ``pruned.csv``: the cells left unprogrammed (their devices stay RESET and
the cells are disabled)."""

UNBOUNDED_LIMIT_uS = 1e6
"""The largest conductance magnitude (1 S) accepted from a device model without bounds:
no memory device conducts that much."""


def plausible_range(model: DeviceModel) -> tuple[float, float]:
    """Conductances (µS) a read of a device of ``model`` may plausibly return: its
    nominal range widened by the range's width on each side, or
    ``±UNBOUNDED_LIMIT_uS`` where the model has no bound."""
    low, high = device_range(model)
    if np.isfinite(low) and np.isfinite(high):
        width = high - low
        return low - width, high + width
    return max(low, -UNBOUNDED_LIMIT_uS), min(high, UNBOUNDED_LIMIT_uS)


def check_manifest(manifest: Manifest, source: str) -> None:
    """Counts of the manifest that must agree before any table is read: at least one
    group, the groups' devices summing to the network's, no more devices than the
    ``N x N`` matrix has places for, and tables listed once."""
    network, roles = manifest.network, len(manifest.mapping.roles)
    if not manifest.groups:
        raise DeephwError(f"{source}: groups = []: a program has at least one device group")
    total = sum(group.devices for group in manifest.groups)
    if total != network.devices:
        raise DeephwError(
            f"{source}: the groups hold {total} devices, network.devices says {network.devices}"
        )
    places = network.neurons**2
    if network.devices > places * roles or network.programmed_cells + network.pruned_cells > places:
        raise DeephwError(
            f"{source}: network.devices = {network.devices} (programmed_cells "
            f"{network.programmed_cells}, pruned_cells {network.pruned_cells}) do not fit "
            f"{network.neurons} x {network.neurons} cells of {roles} devices"
        )
    paths = [group.table.path for group in manifest.groups]
    if len(set(paths)) != len(paths):
        twice = next(path for path in paths if paths.count(path) > 1)
        raise DeephwError(f"{source}: table {twice} is listed for two groups")


def _first(bad: np.ndarray) -> int | None:
    rows = np.flatnonzero(bad)
    return int(rows[0]) if rows.size else None


def check_table(
    path: Path, table: DeviceTable, group: GroupRef, manifest: Manifest, card: Card
) -> None:
    """Raise :class:`DeephwError` naming ``path`` and the first device whose row of a
    group table is not what an export writes (see the module docstring)."""
    n = manifest.network.neurons
    geometry = TileGeometry(manifest.geometry.tile_rows, manifest.geometry.tile_cols, n)
    codes = (("role", table.role_names), ("start", START_NAMES), ("method", METHOD_NAMES))
    for column, names in codes:
        k = _first(table[column] >= len(names))
        if k is not None:
            raise DeephwError(
                f"{path}: row {k}: {column} code {table[column][k]} names no {column} "
                f"(known: {', '.join(names)})"
            )
    pre, post = table["pre"], table["post"]
    k = _first((pre < 0) | (pre >= n) | (post < 0) | (post >= n))
    if k is not None:
        raise DeephwError(
            f"{path}: row {k}: cell {pre[k]} -> {post[k]} lies outside the network of {n} neurons"
        )
    address = geometry.address(pre, post)
    placed = zip(address, ("tile", "row", "column"), strict=True)
    k = _first(np.any([a != table[c] for a, c in placed], axis=0))
    if k is not None:
        raise DeephwError(
            f"{path}: row {k}: tile {table['tile'][k]} row {table['row'][k]} column "
            f"{table['column'][k]} is not where cell {pre[k]} -> {post[k]} lies (tile "
            f"{address[0][k]} row {address[1][k]} column {address[2][k]})"
        )
    cell = get_cell(card.cell.kind)
    models = cell.models_for(card)
    held = held_roles(card)
    writing = table["method"] == WRITE_VERIFY

    def refuse(k: int, what: str) -> None:
        raise DeephwError(f"{path}: device {describe_device(table, k)}: {what}")

    for code, role in enumerate(table.role_names):
        rows = table["role"] == code
        low, high = device_range(models[role])
        target = table["target_uS"]
        k = _first(rows & ~((target >= low) & (target <= high)))
        if k is not None:
            refuse(
                k,
                f"target_uS = {float(target[k])!r} is not inside the device's range "
                f"[{low:g}, {high:g}] µS of card {card.name!r}",
            )
        method = RESET if role in held else WRITE_VERIFY
        k = _first(rows & (table["method"] != method))
        if k is not None:
            refuse(
                k,
                f"method {METHOD_NAMES[table['method'][k]]} but card {card.name!r} has "
                f"its {role} devices {METHOD_NAMES[method]}",
            )
    k = _first(~np.isfinite(table["start_uS"]))
    if k is not None:
        refuse(k, f"start_uS = {float(table['start_uS'][k])!r} is not a finite conductance")
    k = _first(~np.isin(table["polarity"], (-1, 0, 1)) | (table["pulses"] < 0))
    if k is not None:
        refuse(k, f"polarity {table['polarity'][k]} or pulses {table['pulses'][k]} is invalid")
    k = _first(writing & (table["tolerance_uS"] != group.tolerance_uS))
    if k is not None:
        refuse(
            k,
            f"tolerance_uS = {float(table['tolerance_uS'][k])!r} differs from its group "
            f"{group.name!r}'s {group.tolerance_uS!r} in program.yaml",
        )
    k = _first(writing & (table["max_iterations"] != group.max_iterations))
    if k is not None:
        refuse(
            k,
            f"max_iterations = {table['max_iterations'][k]} differs from its group "
            f"{group.name!r}'s {group.max_iterations} in program.yaml",
        )
    roles = {table.role_names[r] for r in np.unique(table["role"])}
    tiles = {int(t) for t in np.unique(table["tile"])}
    if roles != set(group.roles) or tiles != set(group.tiles):
        raise DeephwError(
            f"{path}: holds roles {sorted(roles)} on tiles {sorted(tiles)}, program.yaml's "
            f"group {group.name!r} says roles {list(group.roles)} on tiles {list(group.tiles)}"
        )


def check_program_devices(paths: list[Path], tables: list[DeviceTable], manifest: Manifest) -> None:
    """Every device once over all group tables, and the counts of ``manifest``."""
    n, roles = manifest.network.neurons, len(manifest.mapping.roles)
    keys = np.concatenate(
        [(t["pre"].astype(np.int64) * n + t["post"]) * roles + t["role"] for t in tables]
    )
    order = np.argsort(keys, kind="stable")
    repeated = np.flatnonzero(keys[order][1:] == keys[order][:-1])
    if repeated.size:
        first, second = order[repeated[0]], order[repeated[0] + 1]
        bounds = np.cumsum([len(t) for t in tables])
        where = [int(np.searchsorted(bounds, k, side="right")) for k in (first, second)]
        row = int(first - (bounds[where[0] - 1] if where[0] else 0))
        raise DeephwError(
            f"{paths[where[1]]}: device {describe_device(tables[where[0]], row)} is listed "
            f"twice (also in {paths[where[0]]})"
        )
    network = manifest.network
    cells = np.unique(keys // roles).size
    if keys.size != network.devices or cells != network.programmed_cells:
        raise DeephwError(
            f"the group tables hold {keys.size} devices of {cells} cells, program.yaml's "
            f"network says {network.devices} devices of {network.programmed_cells} cells"
        )
    if cells * roles != keys.size:
        raise DeephwError(
            f"the group tables hold {keys.size} devices for {cells} cells of "
            f"{roles} roles: some cells lack a device"
        )


def read_pruned(
    path: Path, data: bytes, manifest: Manifest, programmed: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(pre, post)`` of the cells ``pruned.csv`` lists, checked (see the module
    docstring); ``programmed`` is the ``(N, N)`` mask of the programmed cells."""
    n = manifest.network.neurons
    geometry = TileGeometry(manifest.geometry.tile_rows, manifest.geometry.tile_cols, n)
    try:
        rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DeephwError(f"{path}: cannot read ({exc})") from None
    if not rows or tuple(rows[0]) != PRUNED_COLUMNS:
        raise DeephwError(f"{path}: line 1: header must be {','.join(PRUNED_COLUMNS)}")
    if len(rows) - 1 != manifest.network.pruned_cells:
        raise DeephwError(
            f"{path}: lists {len(rows) - 1} cells, program.yaml's network.pruned_cells says "
            f"{manifest.network.pruned_cells}"
        )
    values = _integers(path, rows[1:])
    pre, post = values[:, 0], values[:, 1]
    line = np.arange(2, len(rows) + 1)
    k = _first((pre < 0) | (pre >= n) | (post < 0) | (post >= n))
    if k is not None:
        raise DeephwError(
            f"{path}: line {line[k]}: cell {pre[k]} -> {post[k]} lies outside the network of "
            f"{n} neurons"
        )
    address = geometry.address(pre, post)
    k = _first(np.any([a != values[:, 2 + c] for c, a in enumerate(address)], axis=0))
    if k is not None:
        tile, row, column = values[k, 2:]
        raise DeephwError(
            f"{path}: line {line[k]}: tile {tile} row {row} column {column} is not where cell "
            f"{pre[k]} -> {post[k]} lies"
        )
    k = _first(programmed[pre, post])
    if k is not None:
        raise DeephwError(f"{path}: line {line[k]}: cell {pre[k]} -> {post[k]} is programmed")
    _, first, counts = np.unique(pre * n + post, return_index=True, return_counts=True)
    if (counts > 1).any():
        k = int(np.sort(first[counts > 1])[0])
        raise DeephwError(f"{path}: line {line[k]}: cell {pre[k]} -> {post[k]} is listed twice")
    return pre, post


def _integers(path: Path, rows: list[list[str]]) -> np.ndarray:
    """``(len(rows), 5)`` int64 values; the first row that is not 5 integers is named."""
    try:
        if all(len(row) == len(PRUNED_COLUMNS) for row in rows):
            return np.array(rows, dtype=np.int64).reshape(-1, len(PRUNED_COLUMNS))
    except (ValueError, OverflowError):
        pass
    for line, row in enumerate(rows, start=2):
        try:
            if len(row) != len(PRUNED_COLUMNS):
                raise ValueError
            np.array(row, dtype=np.int64)
        except (ValueError, OverflowError):
            got = quote(row)
            raise DeephwError(f"{path}: line {line}: expected 5 integers, got {got}") from None
    raise AssertionError("unreachable")
