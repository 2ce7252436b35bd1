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
from deephw.devices import Card, card_from_dict, card_hash, get_cell
from deephw.errors import ConfigError, DeephwError
from deephw.hashing import sha256_bytes
from deephw.program import checks
from deephw.program.files import hash_inside, read_inside, read_sealed, refuse_links
from deephw.program.manifest import MANIFEST, FileRef, GroupRef, Manifest, parse_manifest
from deephw.program.memory import ProgramContent, WeightProgram
from deephw.program.tables import DeviceTable, read_npz
from deephw.rundir import named_files
from deephw.validation import parse_yaml

PRUNED_COLUMNS = checks.PRUNED_COLUMNS


@dataclass
class Program(ProgramContent):
    """An opened program directory (see :func:`open_program`); files are read once,
    each checked when first used."""

    directory: Path
    manifest: Manifest
    _tables: dict[str, DeviceTable] = field(default_factory=dict, repr=False)
    _devices_checked: bool = field(default=False, repr=False)
    _pruned: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    _card: Card | None = field(default=None, repr=False)

    @property
    def manifest_path(self) -> Path:
        """``program.yaml`` of the directory."""
        return self.directory / MANIFEST

    @property
    def location(self) -> str:
        """The program directory, resolved."""
        return str(self.directory.resolve())

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

    def pruned(self) -> tuple[np.ndarray, np.ndarray]:
        """``(pre, post)`` of the pruned cells (checked, see :func:`checks.read_pruned`)."""
        if self._pruned is None:
            ref, enabled = self.manifest.pruned, self._programmed()
            data = self.read(ref)
            self._pruned = checks.read_pruned(self.path(ref), data, self.manifest, enabled)
        return self._pruned

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

    def load(self) -> WeightProgram:
        """The whole program in memory, every file read and checked (the run config
        is read when first asked)."""
        return WeightProgram(
            manifest=self.manifest,
            group_tables=tuple(self.tables()),
            pruned_cells=self.pruned(),
            embedded_card=self.card(),
            files={ref.path: self.read(ref) for ref in self.manifest.files()},
            origin=self,
        )


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
