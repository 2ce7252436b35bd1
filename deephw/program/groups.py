"""Device groups: sets of devices programmed together, defined in a YAML file.

A groups file (validated like every deephw YAML file: unknown keys, wrong types and
out-of-range values name the file, the field and the value)::

    tile: {rows: 64, cols: 64}      # optional tile geometry (the CLI options override it)
    tolerance_uS: 0.5               # optional; default: the card's tune_tolerance_uS
    max_iterations: 30              # optional; default: the card's tune_max_iterations
    groups:
      - name: "tile{tile}_{role}"   # one group per tile and role
        split_by: [tile, role]
      - name: outputs
        tiles: [2, 5]               # selectors, all optional, combined with AND:
        roles: [G+, G-]             #   tiles, roles, tile-local rows / columns
        rows: [0, 31]               #   as [first, last] (both included)
        columns: [8, 8]
        tolerance_uS: 0.25          # per-group schedule (optional)
      - name: hand_picked
        devices:                    # or an explicit list (no other selector)
          - {tile: 0, row: 2, column: 8, role: G+}
      - name: "others_{role}"
        split_by: [role]
        rest: true                  # what its selectors match that no other group took

A group with ``split_by`` becomes one group per value (per tile, per role, or per both)
of the devices it selects; ``{tile}`` and ``{role}`` in its name are filled in (or
appended). Groups with ``rest: true`` are resolved after the others and take only the
devices no other group took. Every device to program must belong to exactly one group:
a device claimed twice, or by none, is an error naming the groups file and the device.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deephw.errors import ConfigError, quote
from deephw.program.layout import TileGeometry
from deephw.program.tables import DeviceTable
from deephw.validation import FieldError, build, check, read_yaml

SPLIT_KEYS = ("tile", "role")
DEFAULT_SOURCE = "<default groups: one per tile and role>"
_NAME = re.compile(r"^[A-Za-z0-9_.+\-]*$")


@dataclass(frozen=True)
class DeviceAddress:
    """One device: its tile, tile row, tile column and role."""

    tile: int = field(metadata=check(ge=0))
    row: int = field(metadata=check(ge=0))
    column: int = field(metadata=check(ge=0))
    role: str


def _range(name: str, value: tuple[int, ...] | None) -> None:
    if value is None:
        return
    if len(value) != 2 or value[0] > value[1] or value[0] < 0:
        raise FieldError(name, list(value), "must be [first, last] with 0 <= first <= last")


@dataclass(frozen=True)
class GroupSpec:
    """One entry of ``groups:`` (see the module docstring)."""

    name: str
    tiles: tuple[int, ...] | None = None
    roles: tuple[str, ...] | None = None
    rows: tuple[int, ...] | None = field(default=None, metadata=check(doc="[first, last]"))
    columns: tuple[int, ...] | None = field(default=None, metadata=check(doc="[first, last]"))
    devices: tuple[DeviceAddress, ...] | None = None
    split_by: tuple[str, ...] = ()
    rest: bool = field(default=False, metadata=check(doc="only devices no other group took"))
    tolerance_uS: float | None = field(default=None, metadata=check(gt=0))
    max_iterations: int | None = field(default=None, metadata=check(ge=1))

    def __post_init__(self) -> None:
        bare = self.name.replace("{tile}", "").replace("{role}", "")
        if not self.name or not _NAME.match(bare):
            reason = "letters, digits and _ . + - only ({tile} and {role} as placeholders)"
            raise FieldError("name", self.name, reason)
        for key in SPLIT_KEYS:
            if "{" + key + "}" in self.name and key not in self.split_by:
                raise FieldError("name", self.name, f"{{{key}}} needs {key} in split_by")
        _range("rows", self.rows)
        _range("columns", self.columns)
        if self.tiles is not None and any(t < 0 for t in self.tiles):
            raise FieldError("tiles", list(self.tiles), "tile numbers are >= 0")
        for key in self.split_by:
            if key not in SPLIT_KEYS:
                raise FieldError("split_by", list(self.split_by), f"must be among {SPLIT_KEYS}")
        if len(set(self.split_by)) != len(self.split_by):
            raise FieldError("split_by", list(self.split_by), "a key is given twice")
        given = [k for k in ("tiles", "roles", "rows", "columns") if getattr(self, k) is not None]
        if self.devices is not None and given:
            raise FieldError("devices", given, "an explicit list takes no other selector")

    def name_for(self, tile: int | None, role: str | None) -> str:
        """This group's name for one split value (``{tile}`` and ``{role}`` filled in)."""
        name = self.name
        for key, value in (("tile", tile), ("role", role)):
            if key not in self.split_by:
                continue
            slot = "{" + key + "}"
            text = f"t{value}" if key == "tile" and slot not in name else str(value)
            name = name.replace(slot, text) if slot in name else f"{name}_{text}"
        return name


@dataclass(frozen=True)
class TileSpec:
    """Tile geometry: cells per tile along rows and columns."""

    rows: int = field(metadata=check(ge=1))
    cols: int = field(metadata=check(ge=1))


@dataclass(frozen=True)
class GroupsFile:
    """A validated groups file (see the module docstring)."""

    groups: tuple[GroupSpec, ...]
    tile: TileSpec | None = None
    tolerance_uS: float | None = field(default=None, metadata=check(gt=0))
    max_iterations: int | None = field(default=None, metadata=check(ge=1))
    description: str = ""
    source: str = field(default="", metadata=check(internal=True))

    def __post_init__(self) -> None:
        if not self.groups:
            raise FieldError("groups", [], "give at least one group")


def load_groups(path: str | Path) -> GroupsFile:
    """Read and validate a groups file; errors name the file, the field and the value."""
    data = read_yaml(path)
    return build(GroupsFile, data, str(path), internal={"source": str(path)})


def default_groups() -> GroupsFile:
    """One group per tile and role."""
    spec = GroupSpec(name="tile{tile}_{role}", split_by=SPLIT_KEYS)
    return GroupsFile(groups=(spec,), source=DEFAULT_SOURCE)


@dataclass(frozen=True)
class Group:
    """A resolved group: its name, rows of the device table, and its schedule."""

    name: str
    rows: np.ndarray
    tolerance_uS: float
    max_iterations: int


def describe_device(table: DeviceTable, k: int) -> str:
    """``tile T row R column C role X (cell i -> j)`` of row ``k``."""
    return (
        f"tile {table['tile'][k]} row {table['row'][k]} column {table['column'][k]} "
        f"role {table.role_names[table['role'][k]]} (cell {table['pre'][k]} -> "
        f"{table['post'][k]})"
    )


def _address_keys(
    geometry: TileGeometry, n_roles: int, tile: np.ndarray, row: np.ndarray, column: np.ndarray
) -> np.ndarray:
    """One integer per address, increasing with ``(tile, row, column, role)``."""
    tile, row, column = (np.asarray(v, dtype=np.int64) for v in (tile, row, column))
    return ((tile * geometry.rows + row) * geometry.cols + column) * n_roles


def _select(
    spec: GroupSpec, where: str, table: DeviceTable, geometry: TileGeometry, source: str
) -> np.ndarray:
    """Boolean rows of ``table`` that ``spec`` selects."""
    n_roles = len(table.role_names)
    if spec.devices is not None:
        keys = _address_keys(geometry, n_roles, table["tile"], table["row"], table["column"])
        keys = keys + table["role"]
        chosen = np.zeros(len(table), dtype=bool)
        for m, device in enumerate(spec.devices):
            if device.role not in table.role_names:
                raise ConfigError(source, f"{where}.devices[{m}].role", device.role, _roles(table))
            key = _address_keys(geometry, n_roles, device.tile, device.row, device.column)
            key = int(key) + table.role_names.index(device.role)
            k = int(np.searchsorted(keys, key))
            if k >= keys.size or keys[k] != key:
                value = {"tile": device.tile, "row": device.row, "column": device.column}
                value["role"] = device.role
                reason = "no such device to program (absent, pruned, or outside the tiles)"
                raise ConfigError(source, f"{where}.devices[{m}]", value, reason)
            if chosen[k]:
                raise ConfigError(source, f"{where}.devices[{m}]", device.role, "listed twice")
            chosen[k] = True
        return chosen
    chosen = np.ones(len(table), dtype=bool)
    if spec.tiles is not None:
        bad = [t for t in spec.tiles if t >= geometry.n_tiles]
        if bad:
            reason = f"no such tile (the layout has tiles 0 to {geometry.n_tiles - 1})"
            raise ConfigError(source, f"{where}.tiles", bad[0], reason)
        chosen &= np.isin(table["tile"], spec.tiles)
    if spec.roles is not None:
        for role in spec.roles:
            if role not in table.role_names:
                raise ConfigError(source, f"{where}.roles", role, _roles(table))
        codes = [table.role_names.index(role) for role in spec.roles]
        chosen &= np.isin(table["role"], codes)
    for name, size in (("rows", geometry.rows), ("columns", geometry.cols)):
        span = getattr(spec, name)
        if span is None:
            continue
        if span[0] >= size:
            reason = f"outside the tile ({size} {name}: 0 to {size - 1})"
            raise ConfigError(source, f"{where}.{name}", list(span), reason)
        local = table["row" if name == "rows" else "column"]
        chosen &= (local >= span[0]) & (local <= span[1])
    return chosen


def _roles(table: DeviceTable) -> str:
    return f"not a role of this unit cell (roles: {', '.join(table.role_names)})"


def assign_groups(
    spec: GroupsFile,
    table: DeviceTable,
    geometry: TileGeometry,
    tolerance_uS: float,
    max_iterations: int,
) -> list[Group]:
    """Resolve ``spec`` into groups over the rows of ``table`` (sorted by address).

    ``tolerance_uS`` and ``max_iterations`` are the defaults a group and the file do not
    override. Raises :class:`~deephw.errors.ConfigError` naming the groups file when a
    selector is invalid or selects nothing, when a device is in two groups, when a
    device is in none, or when two groups get the same name.
    """
    source = spec.source
    owner = np.full(len(table), -1, dtype=np.int64)
    order = sorted(range(len(spec.groups)), key=lambda k: spec.groups[k].rest)
    for k in order:
        group = spec.groups[k]
        where = f"groups[{k}]"
        chosen = _select(group, where, table, geometry, source)
        if group.rest:
            chosen &= owner < 0
        if not chosen.any():
            raise ConfigError(source, where, group.name, "selects no device to program")
        clash = np.flatnonzero(chosen & (owner >= 0))
        if clash.size:
            first = int(clash[0])
            other = spec.groups[owner[first]].name
            reason = (
                f"device {describe_device(table, first)} is already in group {quote(other)} "
                f"(groups[{owner[first]}]); {clash.size} devices overlap"
            )
            raise ConfigError(source, where, group.name, reason)
        owner[chosen] = k
    orphans = np.flatnonzero(owner < 0)
    if orphans.size:
        first = int(orphans[0])
        reason = (
            f"device {describe_device(table, first)} belongs to no group "
            f"({orphans.size} of {len(table)} devices belong to none)"
        )
        raise ConfigError(source, "", None, reason)
    tolerance = spec.tolerance_uS or tolerance_uS
    iterations = spec.max_iterations or max_iterations
    out: list[Group] = []
    seen: dict[str, str] = {}
    for k, group in enumerate(spec.groups):
        rows = np.flatnonzero(owner == k)
        parts = _split(group, table, rows)
        for (tile, role), part in parts:
            name = group.name_for(tile, role)
            if name in seen:
                reason = f"group name {quote(name)} is also made by {seen[name]}"
                raise ConfigError(source, f"groups[{k}].name", group.name, reason)
            seen[name] = f"groups[{k}]"
            out.append(
                Group(
                    name,
                    part,
                    group.tolerance_uS or tolerance,
                    group.max_iterations or iterations,
                )
            )
    return out


def _split(
    group: GroupSpec, table: DeviceTable, rows: np.ndarray
) -> list[tuple[tuple[int | None, str | None], np.ndarray]]:
    """The rows of one group, split by tile and / or role as ``split_by`` asks."""
    if not group.split_by:
        return [((None, None), rows)]
    n_roles = len(table.role_names)
    tiles = table["tile"][rows].astype(np.int64) if "tile" in group.split_by else 0
    roles = table["role"][rows] if "role" in group.split_by else 0
    key = tiles * n_roles + roles + np.zeros(rows.size, dtype=np.int64)
    order = np.argsort(key, kind="stable")
    values, first = np.unique(key[order], return_index=True)
    parts = []
    for value, chunk in zip(values, np.split(order, first[1:]), strict=True):
        tile_value = int(value // n_roles) if "tile" in group.split_by else None
        role_value = table.role_names[value % n_roles] if "role" in group.split_by else None
        parts.append(((tile_value, role_value), rows[chunk]))
    return parts
