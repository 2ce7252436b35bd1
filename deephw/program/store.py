"""Opening a program directory: every listed file present, unchanged and sane.

:func:`open_program` refuses a program whose ``program.yaml`` is missing, invalid or
edited (its SHA-256 differs from ``program.sha256``), that holds a symbolic link, whose
listed file is missing, not a regular file, or changed (its SHA-256 differs from the
manifest's): each error names the file. Files are read only through
:mod:`deephw.program.files` (never through a link, never outside the program), each time
checked against its hash; what they hold is checked by :mod:`deephw.program.checks` when
it is first used.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deephw.config import RunConfig, from_dict
from deephw.devices import Card, card_from_dict, card_hash, get_cell, list_cards, load_card
from deephw.errors import ConfigError, DeephwError, quote
from deephw.hashing import sha256_bytes
from deephw.program import checks
from deephw.program.files import hash_inside, read_inside, read_sealed, refuse_links
from deephw.program.layout import TileGeometry
from deephw.program.manifest import MANIFEST, FileRef, GroupRef, Manifest, parse_manifest
from deephw.program.tables import DeviceTable, make_table, read_npz
from deephw.rundir import named_files
from deephw.topology import Topology
from deephw.validation import parse_yaml

PRUNED_COLUMNS = checks.PRUNED_COLUMNS


@dataclass
class Program:
    """An opened program directory (see :func:`open_program`); files are read once."""

    directory: Path
    manifest: Manifest
    _tables: dict[str, DeviceTable] = field(default_factory=dict, repr=False)
    _devices_checked: bool = field(default=False, repr=False)
    _pruned: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    _card: Card | None = field(default=None, repr=False)

    @property
    def geometry(self) -> TileGeometry:
        """The tile geometry."""
        geo = self.manifest.geometry
        return TileGeometry(geo.tile_rows, geo.tile_cols, self.manifest.network.neurons)

    @property
    def n(self) -> int:
        """Neurons of the network (the weight matrix is ``n x n``)."""
        return self.manifest.network.neurons

    @property
    def seed(self) -> int:
        """The run's seed whose network the program holds."""
        return self.manifest.run.seed

    def path(self, ref: FileRef) -> Path:
        """Where a listed file lies."""
        return self.directory / ref.path

    def read(self, ref: FileRef) -> bytes:
        """The bytes of a listed file, read inside the program and checked against its
        SHA-256 (the bytes used are the bytes checked)."""
        data = read_inside(self.directory, ref.path)
        _check_hash(self.path(ref), sha256_bytes(data), ref.sha256)
        return data

    def table(self, group: GroupRef) -> DeviceTable:
        """The device table of ``group``, checked (see :func:`checks.check_table`)."""
        if group.table.path in self._tables:
            return self._tables[group.table.path]
        path = self.path(group.table)
        table = read_npz(path, self.read(group.table), rows=group.devices)
        if table.role_names != self.manifest.mapping.roles:
            raise DeephwError(f"{path}: roles {table.role_names} differ")
        checks.check_table(path, table, group, self.manifest, self.card())
        self._tables[group.table.path] = table
        return table

    def tables(self) -> list[DeviceTable]:
        """Every group's table, in the manifest's order, each device in exactly one."""
        tables = [self.table(group) for group in self.manifest.groups]
        if not self._devices_checked:
            paths = [self.path(group.table) for group in self.manifest.groups]
            checks.check_program_devices(paths, tables, self.manifest)
            self._devices_checked = True
        return tables

    def devices(self) -> DeviceTable:
        """Every device of the program, group after group."""
        tables = self.tables()
        merged = {k: np.concatenate([t[k] for t in tables]) for k in tables[0].columns}
        return make_table(merged, self.manifest.mapping.roles)

    def pruned(self) -> tuple[np.ndarray, np.ndarray]:
        """``(pre, post)`` of the pruned cells (checked, see :func:`checks.read_pruned`)."""
        if self._pruned is None:
            ref, enabled = self.manifest.pruned, self._programmed()
            data = self.read(ref)
            self._pruned = checks.read_pruned(self.path(ref), data, self.manifest, enabled)
        return self._pruned

    def _programmed(self) -> np.ndarray:
        enabled = np.zeros((self.n, self.n), dtype=bool)
        for table in self.tables():
            enabled[table["pre"], table["post"]] = True
        return enabled

    def masks(self) -> tuple[np.ndarray, np.ndarray]:
        """``(structural, enabled)`` ``(N, N)`` masks: cells holding devices, and the
        programmed ones (structural without the pruned cells)."""
        enabled = self._programmed()
        structural = enabled.copy()
        pre, post = self.pruned()
        structural[pre, post] = True
        return structural, enabled

    def check_graph(self, topo: Topology, source: str) -> None:
        """Refuse a program whose network does not fit ``topo`` (the graph of the config
        ``source`` it is evaluated with): another neuron count, or a programmed or pruned
        cell that is no connection of the graph."""
        if topo.n != self.n:
            raise DeephwError(f"{source}: its graph has {topo.n} neurons, the program {self.n}")
        structural, enabled = self.masks()
        stray = np.argwhere(structural & ~topo.mask)
        if stray.size:
            i, j = (int(v) for v in stray[0])
            where = self.path(self.manifest.pruned if not enabled[i, j] else self._table_of(i, j))
            raise DeephwError(f"{where}: cell {i} -> {j} is no connection of the graph of {source}")

    def _table_of(self, pre: int, post: int) -> FileRef:
        for group, table in zip(self.manifest.groups, self.tables(), strict=True):
            if ((table["pre"] == pre) & (table["post"] == post)).any():
                return group.table
        raise AssertionError("a programmed cell lies in some table")

    def card(self) -> Card:
        """The embedded card, checked against the manifest's content hash and mapping."""
        if self._card is not None:
            return self._card
        ref = self.manifest.card
        path = self.path(ref.file)
        try:
            text = self.read(ref.file).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DeephwError(f"{path}: not a UTF-8 card file ({exc})") from None
        card = card_from_dict(parse_yaml(text, str(path)), str(path), "card")
        if card_hash(card) != ref.sha256:
            raise DeephwError(
                f"{path}: card content hash {card_hash(card)} differs from "
                f"{MANIFEST}'s card.sha256 {ref.sha256}"
            )
        mapping = self.manifest.mapping
        roles = get_cell(card.cell.kind).roles
        if (card.cell.kind, roles, card.cell.g_ref_uS) != (
            mapping.cell,
            mapping.roles,
            mapping.g_ref_uS,
        ):
            raise DeephwError(
                f"{self.directory / MANIFEST}: mapping (cell {mapping.cell}, roles "
                f"{list(mapping.roles)}, G_ref {mapping.g_ref_uS:g} µS) is not that of its card "
                f"{card.name!r} (cell {card.cell.kind}, roles {list(roles)}, G_ref "
                f"{card.cell.g_ref_uS:g} µS)"
            )
        self._card = card
        return card

    def chip_card(self, force: bool = False) -> tuple[Card, str]:
        """The card a simulated chip is built from, and a note on how it was chosen.

        A program made on a shipped card is verified on that card as it is now; if its
        hash differs from the program's (the card was changed since), or it cannot be
        found, this is refused unless ``force`` (then the card as it is now is used, or
        the embedded copy if it is gone). Other programs use their embedded card.
        """
        ref = self.manifest.card
        embedded = self.card()
        if not ref.shipped:
            return embedded, f"embedded card {quote(ref.name)} ({ref.file.path})"
        try:
            if ref.name not in list_cards():  # a name, never a path to read
                raise ConfigError("", "card", ref.name, "no shipped card of that name")
            named = load_card(ref.name)
        except (ConfigError, KeyError, OSError) as exc:
            if not force:
                raise DeephwError(
                    f"card {quote(ref.name)} named by {self.directory / MANIFEST} cannot be loaded "
                    f"({exc}); rerun with --force to verify on the embedded copy"
                ) from None
            return embedded, f"forced: card {quote(ref.name)} not found, embedded copy used"
        actual = card_hash(named)
        if actual != ref.sha256:
            if not force:
                raise DeephwError(
                    f"card {quote(ref.name)} has SHA-256 {actual}, but {self.directory / MANIFEST} "
                    f"was made for {ref.sha256} (its copy is {ref.file.path}): the card "
                    f"changed since export; rerun with --force to verify on the card as it "
                    f"is now"
                )
            return named, f"forced: card {quote(ref.name)} differs from the program's ({actual})"
        return named, f"shipped card {quote(ref.name)} (SHA-256 matches)"

    def config(self) -> RunConfig:
        """The run config the program carries (that of the run it came from).

        Every file it names (task CSV, adjacency, card file) must be one of the program's
        listed data files, so that evaluating never reads outside the program.
        """
        ref = self.manifest.run.config
        path = self.path(ref)
        try:
            text = self.read(ref).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DeephwError(f"{path}: not a UTF-8 config file ({exc})") from None
        config = from_dict(parse_yaml(text, str(path)), str(path), self.directory)
        listed = {os.path.normpath(self.path(data)) for data in self.manifest.run.data}
        for section, key, value in named_files(config):
            if os.path.normpath(config.resolve(value)) not in listed:
                raise ConfigError(
                    str(path),
                    f"{section}.{key}",
                    value,
                    "names a file that is not one of the program's data files listed in "
                    f"{MANIFEST} (run.data); a program reads nothing outside itself",
                )
        return config


def _check_hash(path: Path, actual: str, expected: str) -> None:
    if actual != expected:
        raise DeephwError(
            f"{path}: SHA-256 {actual} differs from {MANIFEST}'s {expected}: the file "
            f"was changed after export"
        )


def check_files(directory: Path, manifest: Manifest) -> None:
    """Raise DeephwError naming the first listed file that is missing or changed."""
    for ref in manifest.files():
        _check_hash(directory / ref.path, hash_inside(directory, ref.path), ref.sha256)


def open_program(directory: str | Path) -> Program:
    """Open a program directory: the manifest checked against ``program.sha256``, no
    symbolic link, every listed file present, regular and unchanged."""
    directory = Path(directory)
    path = directory / MANIFEST
    if not directory.is_dir():
        raise DeephwError(f"{directory}: not a program directory")
    if not path.exists() and not path.is_symlink():
        raise DeephwError(f"{path}: missing ({directory} is not a program directory)")
    data = read_sealed(directory, MANIFEST)
    manifest = parse_manifest(data, str(path))
    checks.check_manifest(manifest, str(path))
    refuse_links(directory, [ref.path for ref in manifest.files()])
    check_files(directory, manifest)
    return Program(directory, manifest)
