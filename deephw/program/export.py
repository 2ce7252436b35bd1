"""``deephw program export``: a trained run's network as a weight program directory.

A program directory holds::

    program.yaml        the manifest (see deephw.program.manifest)
    program.sha256      the manifest's SHA-256 (see deephw.program.files)
    groups/NNN_NAME.npz one device table per group (see deephw.program.tables)
    groups/NNN_NAME.csv the same table as CSV (small programs, or on request)
    pruned.csv          the cells left unprogrammed (pruned connections)
    card.yaml           the device card the targets were computed for
    run_config.yaml     the config of the run it came from (task, graph, dynamics)
    groups.yaml         the groups file it was made with

The output location is checked (writable, room for the program) and claimed before any
work; the directory is written under a temporary name and renamed when complete: on any
error (a target out of range, an invalid groups file) nothing is left behind. The run's
``data/`` files are copied only if they are regular files (a symbolic link is refused),
and only if every file the run's config names is one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from deephw import __version__, atomic, rundir, training
from deephw.assembly import hardware_card
from deephw.config import RunConfig
from deephw.devices import (
    Card,
    card_from_dict,
    card_hash,
    card_to_yaml,
    get_cell,
    list_cards,
    load_card,
)
from deephw.errors import ConfigError, DeephwError
from deephw.hashing import sha256_bytes, sha256_file
from deephw.program import groups as groups_module
from deephw.program.checks import PRUNED_COLUMNS
from deephw.program.cost import export_bytes
from deephw.program.files import run_data_files
from deephw.program.layout import TileGeometry
from deephw.program.manifest import (
    FORMAT,
    FORMAT_VERSION,
    BiasRow,
    CardRef,
    FileRef,
    GeometryInfo,
    GroupRef,
    Manifest,
    MappingInfo,
    NetworkInfo,
    RunRef,
    TileInfo,
)
from deephw.program.memory import WeightProgram
from deephw.program.plan import RESET, plan_devices
from deephw.program.tables import DeviceTable, csv_bytes, npz_bytes
from deephw.topology import Topology
from deephw.validation import parse_yaml

DEFAULT_TILE = 256
"""Rows and columns of a tile when neither the CLI nor the groups file gives them."""
CSV_AUTO_LIMIT = 200_000
"""With ``csv="auto"``, CSV copies of the group tables are written up to this many
devices in the program."""
CSV_CHOICES = ("auto", "always", "never")
WEIGHT_FORMULAS = {
    "single": "W = (G - g_offset) / G_ref",
    "pair": "W = (G+ - G-) / G_ref",
    "ambrogio": "W = [F (G+ - G-) + (g - g_shared)] / G_ref",
}


def _run_card(run_dir: Path, config, mask: np.ndarray) -> tuple[Card, str | None]:
    """The card the run trained on (from ``devices.npz``, else its config) and the hash
    of ``devices.npz``; checks that the crossbar's enabled cells match the masks."""
    path = run_dir / "devices.npz"
    if not path.is_file():
        return hardware_card(config, str(run_dir / "config.yaml")), None
    try:
        with np.load(path, allow_pickle=False) as data:
            card_yaml = str(data["card_yaml"])
            enabled = np.array(data["enabled"], dtype=bool)
    except (OSError, ValueError, KeyError) as exc:
        raise DeephwError(f"{path}: cannot read the crossbar state ({exc})") from None
    if enabled.shape != mask.shape or not np.array_equal(enabled, mask):
        raise DeephwError(f"{path}: enabled cells differ from weights.npz's mask")
    card = card_from_dict(parse_yaml(card_yaml, f"{path} (card_yaml)"), str(path))
    return card, sha256_file(path)


def _is_shipped(card: Card) -> bool:
    """Whether ``card`` is exactly the shipped card of its name."""
    if card.name not in list_cards():  # a name, never a path to read
        return False
    try:
        return card_hash(load_card(card.name)) == card_hash(card)
    except (ConfigError, KeyError, OSError):
        return False


def _pick_network(
    config, run_dir: Path, arrays: dict[str, np.ndarray], seed: int | None
) -> tuple[int, float, float]:
    """Index of the network to export (``seed``, or the lowest final MSE), its MSE and
    accuracy evaluated as ``deephw eval`` does."""
    seeds = arrays["seeds"]
    task = training.load_task(config)
    topo = training.build_topology(config, task)
    mse, accuracy, _ = training.evaluate(config, topo, task, arrays["weights"], seeds)
    if seed is None:
        k = int(np.argmin(mse))
    else:
        found = np.flatnonzero(seeds == seed)
        if not found.size:
            known = ", ".join(str(int(s)) for s in seeds)
            raise DeephwError(f"{run_dir}: no network of seed {seed} (seeds: {known})")
        k = int(found[0])
    return k, float(mse[k]), float(accuracy[k])


def _schedule(table: DeviceTable, groups: list[groups_module.Group]) -> None:
    """Write each group's tolerance and iteration limit into its rows (in place)."""
    for group in groups:
        table["max_iterations"][group.rows] = group.max_iterations
        table["tolerance_uS"][group.rows] = group.tolerance_uS
    held = table["method"] == RESET
    table["max_iterations"][held] = 0
    table["tolerance_uS"][held] = np.nan


def _pruned_csv(pre: np.ndarray, post: np.ndarray, geometry: TileGeometry) -> bytes:
    tile, row, column = geometry.address(pre, post)
    lines = [",".join(PRUNED_COLUMNS)]
    for values in zip(pre, post, tile, row, column, strict=True):
        lines.append(",".join(str(int(v)) for v in values))
    return ("\n".join(lines) + "\n").encode()


def _geometry_info(
    geometry: TileGeometry, table: DeviceTable, bias: int, enabled: np.ndarray
) -> GeometryInfo:
    counts = np.bincount(table["tile"], minlength=geometry.n_tiles)
    tiles = []
    for tile in np.flatnonzero(counts):
        first_row, last_row, first_col, last_col = geometry.extent(int(tile))
        tiles.append(
            TileInfo(int(tile), (first_row, last_row), (first_col, last_col), int(counts[tile]))
        )
    posts = np.flatnonzero(enabled[bias])
    bias_tiles = sorted({int(t) for t in geometry.address(bias, posts)[0]})
    rows = [BiasRow(tile, bias % geometry.rows) for tile in bias_tiles]
    return GeometryInfo(geometry.rows, geometry.cols, geometry.grid, tuple(tiles), tuple(rows))


@dataclass
class _Run:
    """What an export reads of a run before the output location is claimed."""

    run_dir: Path
    config: RunConfig
    arrays: dict[str, np.ndarray]
    data_files: list[Path]
    topo: Topology
    card: Card
    devices_sha: str | None

    def output_bytes(self, csv: str) -> int:
        """Bytes of the program directory (see :func:`~deephw.program.cost.export_bytes`)."""
        mask = np.asarray(self.arrays["mask"], dtype=bool)
        cells = int(mask.reshape(mask.shape[0], -1).sum(axis=1).max(initial=0))
        n_roles = len(get_cell(self.card.cell.kind).roles)
        files = [self.run_dir / "config.yaml", *self.data_files]
        extra = sum(path.stat().st_size for path in files)
        return export_bytes(cells * n_roles, csv != "never", extra)


def _read_run(run_dir: Path, card: Card | str | Path | None) -> _Run:
    """Read and check a run to export, and the card to program."""
    config, arrays = rundir.load_run(run_dir)
    data_files = run_data_files(run_dir, config)
    weights, mask = arrays["weights"], np.asarray(arrays["mask"], dtype=bool)
    task = training.load_task(config)
    topo = training.build_topology(config, task)
    if weights.shape[1:] != (topo.n, topo.n) or mask.shape != weights.shape:
        raise DeephwError(f"{run_dir}: weights {weights.shape} do not fit {topo.n} neurons")
    if (mask & ~topo.mask).any():
        raise DeephwError(f"{run_dir}: weights.npz's mask has cells outside the graph")
    run_card, devices_sha = _run_card(run_dir, config, mask)
    card = run_card if card is None else load_card(card)
    return _Run(run_dir, config, arrays, data_files, topo, card, devices_sha)


def export_network(
    run_dir: str | Path,
    groups: str | Path | None = None,
    tile_rows: int | None = None,
    tile_cols: int | None = None,
    seed: int | None = None,
    card: Card | str | Path | None = None,
    csv: str = "auto",
) -> WeightProgram:
    """One network of a trained run as a weight program in memory.

    The parameters are those of :func:`export_program` without ``out_dir``;
    :func:`write_program` writes the result as :func:`export_program` does.

    Returns
    -------
    WeightProgram
        The manifest, the group tables, the pruned cells, the card, the run's config
        and every file of the program directory.
    """
    _check_csv(csv)
    return _build(_read_run(Path(run_dir), card), groups, tile_rows, tile_cols, seed, csv)


def export_program(
    run_dir: str | Path,
    out_dir: str | Path,
    groups: str | Path | None = None,
    tile_rows: int | None = None,
    tile_cols: int | None = None,
    seed: int | None = None,
    card: Card | str | Path | None = None,
    csv: str = "auto",
) -> Path:
    """Export one network of a trained run as a weight program directory.

    Parameters
    ----------
    run_dir
        A run directory (``config.yaml``, ``weights.npz``; ``devices.npz`` if trained on
        a crossbar).
    out_dir
        The program directory to write; it must not exist (or be empty).
    groups
        A groups file (see :mod:`deephw.program.groups`); default one group per tile
        and role.
    tile_rows, tile_cols
        Tile geometry; default the groups file's ``tile``, else
        :data:`DEFAULT_TILE` square.
    seed
        The run's seed whose network to export; default the one with the lowest MSE.
    card
        The device card to program (a card, shipped name or file); default the run's.
    csv
        ``auto`` (CSV copies of the tables up to :data:`CSV_AUTO_LIMIT` devices),
        ``always`` or ``never``.

    Returns
    -------
    pathlib.Path
        ``out_dir``.

    Raises
    ------
    DeephwError
        A target outside its device's range (naming the cell), a bad run directory.
    ConfigError
        An invalid groups file, or groups that overlap or miss devices.
    """
    _check_csv(csv)
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    atomic.check_new_directory(out_dir)
    run = _read_run(run_dir, card)
    atomic.check_output_location(out_dir, run.output_bytes(csv))
    with atomic.claim(out_dir):
        program = _build(run, groups, tile_rows, tile_cols, seed, csv)
        _write(program, out_dir)
    return out_dir


def write_program(program: WeightProgram, out_dir: str | Path) -> Path:
    """Write a program in memory as a program directory, atomically.

    The location is checked (new, writable, room for the files) and claimed first.
    """
    out_dir = Path(out_dir)
    atomic.check_new_directory(out_dir)
    files = program.directory_files()
    atomic.check_output_location(out_dir, sum(len(data) for data in files.values()))
    with atomic.claim(out_dir):
        _write(program, out_dir)
    return out_dir


def _write(program: WeightProgram, out_dir: Path) -> None:
    with atomic.new_directory(out_dir) as tmp:
        for name, data in program.directory_files().items():
            atomic.write_bytes(tmp / name, data)


def _check_csv(csv: str) -> None:
    if csv not in CSV_CHOICES:
        raise ValueError(f"csv must be one of {CSV_CHOICES}, got {csv!r}")


def _build(
    run: _Run,
    groups: str | Path | None,
    tile_rows: int | None,
    tile_cols: int | None,
    seed: int | None,
    csv: str,
) -> WeightProgram:
    """Map the network onto tiles and devices, split them into groups, and encode the
    program's files."""
    run_dir, config, arrays, topo, card = run.run_dir, run.config, run.arrays, run.topo, run.card
    weights, mask = arrays["weights"], np.asarray(arrays["mask"], dtype=bool)
    spec = groups_module.default_groups() if groups is None else groups_module.load_groups(groups)
    rows = tile_rows or (spec.tile.rows if spec.tile else DEFAULT_TILE)
    cols = tile_cols or (spec.tile.cols if spec.tile else DEFAULT_TILE)
    geometry = TileGeometry(rows, cols, topo.n)

    k, trained_mse, trained_accuracy = _pick_network(config, run_dir, arrays, seed)
    network_seed = int(arrays["seeds"][k])
    enabled = mask[k]
    where = f"{run_dir} (seed {network_seed}): "
    table = plan_devices(card, weights[k] * enabled, enabled, geometry, where)
    if not len(table):
        raise DeephwError(f"{where}no connection left to program")
    cell = get_cell(card.cell.kind)
    tolerance = card.cell.tune_tolerance_uS
    iterations = card.cell.tune_max_iterations
    resolved = groups_module.assign_groups(spec, table, geometry, tolerance, iterations)
    _schedule(table, resolved)
    pruned_pre, pruned_post = np.nonzero(topo.mask & ~enabled)
    write_csv = csv == "always" or (csv == "auto" and len(table) <= CSV_AUTO_LIMIT)
    files: dict[str, bytes] = {}

    def put(name: str, data: bytes) -> FileRef:
        files[name] = data
        return FileRef(name, sha256_bytes(data))

    group_refs, parts = [], []
    for index, group in enumerate(resolved):
        part = table.subset(group.rows)
        parts.append(part)
        stem = f"groups/{index:03d}_{group.name}"
        roles = sorted({part.role_names[r] for r in np.unique(part["role"])}, key=cell.roles.index)
        group_refs.append(
            GroupRef(
                name=group.name,
                devices=len(part),
                roles=tuple(roles),
                tiles=tuple(int(t) for t in np.unique(part["tile"])),
                tolerance_uS=group.tolerance_uS,
                max_iterations=group.max_iterations,
                table=put(f"{stem}.npz", npz_bytes(part)),
                csv=put(f"{stem}.csv", csv_bytes(part)) if write_csv else None,
            )
        )
    config_ref = put("run_config.yaml", (run_dir / "config.yaml").read_bytes())
    data_refs = tuple(  # the files the run's config names (task CSV, adjacency, card)
        put(f"data/{path.name}", path.read_bytes()) for path in run.data_files
    )
    card_ref = put("card.yaml", card_to_yaml(card).encode())
    groups_text = (
        Path(groups).read_bytes() if groups is not None else _default_groups_yaml(geometry).encode()
    )
    manifest = Manifest(
        format=FORMAT,
        format_version=FORMAT_VERSION,
        created_with=f"deephw {__version__}",
        run=RunRef(
            path=str(run_dir.resolve()),
            seed=network_seed,
            config=config_ref,
            weights_sha256=sha256_file(run_dir / "weights.npz"),
            devices_sha256=run.devices_sha,
            data=data_refs,
            trained_mse=trained_mse,
            trained_accuracy=trained_accuracy,
        ),
        network=NetworkInfo(
            neurons=topo.n,
            inputs=topo.n_inputs,
            outputs=topo.n_outputs,
            bias_neuron=topo.bias_index,
            cells=int(topo.mask.sum()),
            programmed_cells=int(enabled.sum()),
            pruned_cells=int(pruned_pre.size),
            devices=len(table),
        ),
        card=CardRef(card.name, card_hash(card), _is_shipped(card), card_ref),
        mapping=MappingInfo(
            cell=card.cell.kind,
            roles=cell.roles,
            g_ref_uS=card.cell.g_ref_uS,
            F=float(getattr(cell, "nominal_gain", lambda _: 1.0)(card)),
            g_offset_uS=card.cell.g_offset_uS,
            weight=WEIGHT_FORMULAS.get(card.cell.kind, ""),
        ),
        geometry=_geometry_info(geometry, table, topo.bias_index, enabled),
        tolerance_uS=spec.tolerance_uS or tolerance,
        max_iterations=spec.max_iterations or iterations,
        groups=tuple(group_refs),
        groups_file=put("groups.yaml", groups_text),
        pruned=put("pruned.csv", _pruned_csv(pruned_pre, pruned_post, geometry)),
    )
    return WeightProgram(
        manifest=manifest,
        group_tables=tuple(parts),
        pruned_cells=(pruned_pre, pruned_post),
        embedded_card=card,
        run_config=config,
        files=files,
    )


def _default_groups_yaml(geometry: TileGeometry) -> str:
    spec = groups_module.default_groups().groups[0]
    data = {
        "description": "default: one group per tile and role",
        "tile": {"rows": geometry.rows, "cols": geometry.cols},
        "groups": [{"name": spec.name, "split_by": list(spec.split_by)}],
    }
    return yaml.safe_dump(data, sort_keys=False)
