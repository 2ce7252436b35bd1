"""``program.yaml``: the manifest of a weight program, as validated frozen dataclasses.

The manifest names the format and its version, the run and network the program came
from, the device card (name, SHA-256 of its content, and an embedded copy), the mapping
from conductances to weights (cell kind, roles, ``G_ref``, ``F``), the tile geometry,
the default schedule, and every file of the program with its SHA-256: the group tables,
the pruned-cell list, the run's config and the groups file the program was made with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from deephw.errors import DeephwError
from deephw.validation import FieldError, as_dict, build, check, parse_yaml

FORMAT = "deephw-weight-program"
FORMAT_VERSION = 1
MANIFEST = "program.yaml"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _check_sha(name: str, value: str | None) -> None:
    if value is not None and not _SHA256.match(value):
        raise FieldError(name, value, "must be 64 lower-case hex digits (SHA-256)")


@dataclass(frozen=True)
class FileRef:
    """A file of the program (a path relative to the program directory) and its hash."""

    path: str
    sha256: str

    def __post_init__(self) -> None:
        _check_sha("sha256", self.sha256)
        parts = Path(self.path).parts
        if not parts or Path(self.path).is_absolute() or ".." in parts:
            raise FieldError("path", self.path, "must be a relative path inside the program")


@dataclass(frozen=True)
class RunRef:
    """The run the program came from, the network exported and its trained scores."""

    path: str
    seed: int
    config: FileRef
    weights_sha256: str
    trained_mse: float
    trained_accuracy: float
    devices_sha256: str | None = None
    data: tuple[FileRef, ...] = ()

    def __post_init__(self) -> None:
        _check_sha("weights_sha256", self.weights_sha256)
        _check_sha("devices_sha256", self.devices_sha256)


@dataclass(frozen=True)
class NetworkInfo:
    """Sizes of the exported network."""

    neurons: int = field(metadata=check(ge=1))
    inputs: int = field(metadata=check(ge=0))
    outputs: int = field(metadata=check(ge=1))
    bias_neuron: int = field(metadata=check(ge=0))
    cells: int = field(metadata=check(ge=0, doc="cells of the structural mask"))
    programmed_cells: int = field(metadata=check(ge=0))
    pruned_cells: int = field(metadata=check(ge=0))
    devices: int = field(metadata=check(ge=0, doc="devices to program"))


@dataclass(frozen=True)
class CardRef:
    """The device card: its name, content hash and embedded copy.

    ``shipped`` is true when the card is the shipped card of that name; verify then
    checks the shipped card's hash against ``sha256``. Otherwise (a card file, or a
    card with overrides) the embedded copy is the named card.
    """

    name: str
    sha256: str
    shipped: bool
    file: FileRef

    def __post_init__(self) -> None:
        _check_sha("sha256", self.sha256)


@dataclass(frozen=True)
class MappingInfo:
    """How device conductances make a weight."""

    cell: str
    roles: tuple[str, ...]
    g_ref_uS: float = field(metadata=check(gt=0))
    F: float = field(metadata=check(gt=0, doc="gain of the pair (1 unless Ambrogio)"))
    g_offset_uS: float = 0.0
    weight: str = ""


@dataclass(frozen=True)
class TileInfo:
    """A tile holding devices: the matrix rows and columns it covers, its devices."""

    tile: int = field(metadata=check(ge=0))
    rows: tuple[int, ...] = ()
    columns: tuple[int, ...] = ()
    devices: int = field(default=0, metadata=check(ge=0))


@dataclass(frozen=True)
class BiasRow:
    """Where the bias neuron's row lies on a tile."""

    tile: int = field(metadata=check(ge=0))
    row: int = field(metadata=check(ge=0))


@dataclass(frozen=True)
class GeometryInfo:
    """Tile geometry, the tiles that hold devices, and the bias rows."""

    tile_rows: int = field(metadata=check(ge=1))
    tile_cols: int = field(metadata=check(ge=1))
    grid: tuple[int, ...] = ()
    tiles: tuple[TileInfo, ...] = ()
    bias_rows: tuple[BiasRow, ...] = ()


@dataclass(frozen=True)
class GroupRef:
    """A device group: its table (NPZ, optional CSV copy) and its schedule."""

    name: str
    devices: int = field(metadata=check(ge=1))
    roles: tuple[str, ...]
    tiles: tuple[int, ...]
    tolerance_uS: float = field(metadata=check(gt=0))
    max_iterations: int = field(metadata=check(ge=1))
    table: FileRef
    csv: FileRef | None = None


@dataclass(frozen=True)
class Manifest:
    """The whole ``program.yaml``."""

    format: str
    format_version: int
    run: RunRef
    network: NetworkInfo
    card: CardRef
    mapping: MappingInfo
    geometry: GeometryInfo
    tolerance_uS: float = field(metadata=check(gt=0))
    max_iterations: int = field(metadata=check(ge=1))
    groups: tuple[GroupRef, ...]
    groups_file: FileRef
    pruned: FileRef
    created_with: str = ""

    def __post_init__(self) -> None:
        if self.format != FORMAT:
            raise FieldError("format", self.format, f"not a weight program (expected {FORMAT})")
        if not 1 <= self.format_version <= FORMAT_VERSION:
            reason = f"this deephw reads versions 1 to {FORMAT_VERSION}"
            raise FieldError("format_version", self.format_version, reason)

    def files(self) -> list[FileRef]:
        """Every file the manifest lists."""
        refs = [self.run.config, *self.run.data, self.card.file, self.groups_file, self.pruned]
        for group in self.groups:
            refs.append(group.table)
            if group.csv is not None:
                refs.append(group.csv)
        return refs


def manifest_text(manifest: Manifest) -> str:
    """The manifest as YAML text, headed by a comment."""
    head = f"# deephw weight program, format version {manifest.format_version}\n"
    return head + yaml.safe_dump(as_dict(manifest), sort_keys=False, allow_unicode=True)


def parse_manifest(data: bytes, source: str) -> Manifest:
    """Validate the bytes of a ``program.yaml`` read as ``source``."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DeephwError(f"{source}: not a UTF-8 manifest ({exc})") from None
    return build(Manifest, parse_yaml(text, source), source)
