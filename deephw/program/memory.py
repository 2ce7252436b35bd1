"""A weight program as objects: what a program directory holds, without the directory.

:class:`ProgramContent` is what every use of a program needs of it (the network's size
and seed, its tables, pruned cells and card; the masks, the graph check and the card a
chip is built from), whether the program lies in a directory
(:class:`~deephw.program.store.Program`, which reads and checks each file when first
used) or in memory: :class:`WeightProgram`, which
:func:`~deephw.program.export.export_network` returns and
:func:`~deephw.program.export.write_program` writes, so that a study exports and
verifies a program without a directory.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from deephw.config import RunConfig
from deephw.devices import Card, card_hash, list_cards, load_card
from deephw.errors import ConfigError, DeephwError, quote
from deephw.program.files import DIGEST, digest_text
from deephw.program.layout import TileGeometry
from deephw.program.manifest import MANIFEST, FileRef, Manifest, manifest_text
from deephw.program.tables import DeviceTable, make_table
from deephw.topology import Topology

if TYPE_CHECKING:
    from deephw.program.store import Program


class ProgramContent(ABC):
    """A program's content, wherever it lies: the accessors and what follows from them."""

    manifest: Manifest

    @abstractmethod
    def tables(self) -> list[DeviceTable]:
        """Every group's table, in the manifest's order."""

    @abstractmethod
    def pruned(self) -> tuple[np.ndarray, np.ndarray]:
        """``(pre, post)`` of the pruned cells."""

    @abstractmethod
    def card(self) -> Card:
        """The card the program was made for (its embedded copy)."""

    @abstractmethod
    def config(self) -> RunConfig:
        """The run config the program carries (that of the run it came from)."""

    @abstractmethod
    def path(self, ref: FileRef) -> Path:
        """Where a listed file lies (or would lie), for messages."""

    @property
    @abstractmethod
    def manifest_path(self) -> Path:
        """Where ``program.yaml`` lies (or would lie), for messages."""

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the program lies, for reports."""

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

    def devices(self) -> DeviceTable:
        """Every device of the program, group after group."""
        tables = self.tables()
        merged = {k: np.concatenate([t[k] for t in tables]) for k in tables[0].columns}
        return make_table(merged, self.manifest.mapping.roles)

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
                    f"card {quote(ref.name)} named by {self.manifest_path} cannot be loaded "
                    f"({exc}); rerun with --force to verify on the embedded copy"
                ) from None
            return embedded, f"forced: card {quote(ref.name)} not found, embedded copy used"
        actual = card_hash(named)
        if actual != ref.sha256:
            if not force:
                raise DeephwError(
                    f"card {quote(ref.name)} has SHA-256 {actual}, but {self.manifest_path} "
                    f"was made for {ref.sha256} (its copy is {ref.file.path}): the card "
                    f"changed since export; rerun with --force to verify on the card as it "
                    f"is now"
                )
            return named, f"forced: card {quote(ref.name)} differs from the program's ({actual})"
        return named, f"shipped card {quote(ref.name)} (SHA-256 matches)"


@dataclass(eq=False)
class WeightProgram(ProgramContent):
    """A weight program in memory.

    Attributes
    ----------
    manifest
        The manifest; its file hashes are those of ``files``.
    group_tables
        One device table per group, in the manifest's order.
    pruned_cells
        ``(pre, post)`` of the cells left unprogrammed.
    embedded_card
        The card the targets were computed for (the program's ``card.yaml``).
    run_config
        The config of the run the program came from, with its files resolved where
        they lie; ``None`` to read it from ``origin`` when first asked.
    files
        Every file the manifest lists, by relative path: exactly the bytes a program
        directory holds (``run_config.yaml``, ``data/*``, ``card.yaml``, tables...).
    origin
        The opened program directory it was read from, if any.
    """

    manifest: Manifest
    group_tables: tuple[DeviceTable, ...]
    pruned_cells: tuple[np.ndarray, np.ndarray]
    embedded_card: Card
    run_config: RunConfig | None = None
    files: dict[str, bytes] = field(default_factory=dict, repr=False)
    origin: Program | None = field(default=None, repr=False)

    def tables(self) -> list[DeviceTable]:
        """Every group's table, in the manifest's order."""
        return list(self.group_tables)

    def pruned(self) -> tuple[np.ndarray, np.ndarray]:
        """``(pre, post)`` of the pruned cells."""
        return self.pruned_cells

    def card(self) -> Card:
        """The embedded card."""
        return self.embedded_card

    def config(self) -> RunConfig:
        """The run config the program carries."""
        if self.run_config is None:
            if self.origin is None:
                raise DeephwError("the program in memory carries no run config")
            self.run_config = self.origin.config()
        return self.run_config

    def path(self, ref: FileRef) -> Path:
        """Where a listed file lies: in the directory read from, else its relative path."""
        return Path(ref.path) if self.origin is None else self.origin.path(ref)

    @property
    def manifest_path(self) -> Path:
        """The manifest of the directory read from, else ``program.yaml``."""
        return Path(MANIFEST) if self.origin is None else self.origin.manifest_path

    @property
    def location(self) -> str:
        """The directory read from, resolved, else ``(in memory)``."""
        return "(in memory)" if self.origin is None else self.origin.location

    def data_files(self) -> dict[str, bytes]:
        """The files the run's config names (task CSV, adjacency, card), by file name."""
        return {Path(ref.path).name: self.files[ref.path] for ref in self.manifest.run.data}

    def directory_files(self) -> dict[str, bytes]:
        """Every file of the program directory by relative path: the listed files, the
        manifest and its digest (:data:`~deephw.program.files.DIGEST`)."""
        text = manifest_text(self.manifest).encode()
        return {**self.files, MANIFEST: text, DIGEST: digest_text(text, MANIFEST).encode()}
