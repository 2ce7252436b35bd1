"""Opening a program directory: every listed file present and unchanged, then its data.

:func:`open_program` refuses a program whose ``program.yaml`` is missing or invalid, a
listed file that is missing, or a file whose SHA-256 differs from the manifest's (a
changed byte): each error names the file.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deephw.config import RunConfig, from_dict
from deephw.devices import Card, card_hash, check_card, load_card
from deephw.errors import ConfigError, DeephwError, quote
from deephw.hashing import sha256_file
from deephw.program.layout import TileGeometry
from deephw.program.manifest import (
    MANIFEST,
    FileRef,
    GroupRef,
    Manifest,
    read_manifest,
)
from deephw.program.tables import DeviceTable, make_table, read_npz
from deephw.validation import read_yaml

PRUNED_COLUMNS = ("pre", "post", "tile", "row", "column")
"""Columns of ``pruned.csv``: the cells left unprogrammed (their devices stay RESET and
the cells are disabled)."""


@dataclass
class Program:
    """A verified program directory (see :func:`open_program`); tables are read once."""

    directory: Path
    manifest: Manifest
    _tables: dict[str, DeviceTable] = field(default_factory=dict, repr=False)

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

    def table(self, group: GroupRef) -> DeviceTable:
        """The device table of ``group``."""
        if group.table.path in self._tables:
            return self._tables[group.table.path]
        table = read_npz(self.path(group.table))
        if len(table) != group.devices:
            raise DeephwError(
                f"{self.path(group.table)}: {len(table)} devices, program.yaml says {group.devices}"
            )
        if table.role_names != self.manifest.mapping.roles:
            raise DeephwError(f"{self.path(group.table)}: roles {table.role_names} differ")
        self._tables[group.table.path] = table
        return table

    def devices(self) -> DeviceTable:
        """Every device of the program, group after group."""
        tables = [self.table(group) for group in self.manifest.groups]
        merged = {k: np.concatenate([t[k] for t in tables]) for k in tables[0].columns}
        return make_table(merged, self.manifest.mapping.roles)

    def pruned(self) -> tuple[np.ndarray, np.ndarray]:
        """``(pre, post)`` of the pruned cells."""
        path = self.path(self.manifest.pruned)
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
        if not rows or tuple(rows[0]) != PRUNED_COLUMNS:
            raise DeephwError(f"{path}: header must be {','.join(PRUNED_COLUMNS)}")
        values = np.array([[int(v) for v in row[:2]] for row in rows[1:]], dtype=np.int64)
        values = values.reshape(-1, 2)
        return values[:, 0], values[:, 1]

    def masks(self, tables: list[DeviceTable] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(structural, enabled)`` ``(N, N)`` masks: cells holding devices, and the
        programmed ones (structural without the pruned cells). ``tables``: the group
        tables, if already read."""
        tables = [self.devices()] if tables is None else tables
        enabled = np.zeros((self.n, self.n), dtype=bool)
        for table in tables:
            enabled[table["pre"], table["post"]] = True
        structural = enabled.copy()
        pre, post = self.pruned()
        structural[pre, post] = True
        return structural, enabled

    def card(self) -> Card:
        """The embedded card, checked against the manifest's content hash."""
        ref = self.manifest.card
        card = check_card(self.path(ref.file))
        if card_hash(card) != ref.sha256:
            raise DeephwError(
                f"{self.path(ref.file)}: card content hash {card_hash(card)} differs from "
                f"{MANIFEST}'s card.sha256 {ref.sha256}"
            )
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
        """The run config the program carries (that of the run it came from)."""
        path = self.path(self.manifest.run.config)
        return from_dict(read_yaml(path), str(path), self.directory)


def check_files(directory: Path, manifest: Manifest) -> None:
    """Raise DeephwError naming the first listed file that is missing or changed."""
    for ref in manifest.files():
        path = directory / ref.path
        if not path.is_file():
            raise DeephwError(f"{path}: file listed in {MANIFEST} is missing")
        actual = sha256_file(path)
        if actual != ref.sha256:
            raise DeephwError(
                f"{path}: SHA-256 {actual} differs from {MANIFEST}'s {ref.sha256}: the file "
                f"was changed after export"
            )


def open_program(directory: str | Path) -> Program:
    """Open a program directory, checking every listed file's presence and hash."""
    directory = Path(directory)
    path = directory / MANIFEST
    if not directory.is_dir():
        raise DeephwError(f"{directory}: not a program directory")
    if not path.is_file():
        raise DeephwError(f"{path}: missing ({directory} is not a program directory)")
    manifest = read_manifest(path)
    check_files(directory, manifest)
    return Program(directory, manifest)
