"""``deephw program import``: conductances back into a run directory.

The source is a program directory (its targets: what a perfect chip would hold) or a
CSV of measured conductances (``tile, row, column, role, conductance`` in µS) together
with the program it was measured from. Conductances become weights through the program's
unit cell on nominal devices (:meth:`~deephw.devices.cells.UnitCell.nominal_weights`);
pruned cells stay out of the mask. The run directory written holds ``config.yaml`` (the
original run's config), ``weights.npz`` (``seeds``, ``weights``, ``mask``,
``structural_mask``) and ``import.json`` (where the weights came from), so that
``deephw eval RUN`` evaluates it on any task and engine.

Only the program's listed files are read and copied (its config and the data files it
lists, see :mod:`deephw.program.files`); with ``--run``, the original run's config and
the regular files of its ``data/`` folder. A measured conductance far outside its
device's physical range is refused, naming the line and the device.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deephw import atomic, budget, rundir, training
from deephw.devices import Card, get_cell
from deephw.errors import DeephwError, quote
from deephw.hashing import sha256_bytes, sha256_file
from deephw.program.checks import plausible_range
from deephw.program.cost import import_bytes, import_estimate
from deephw.program.files import read_sealed, run_data_files
from deephw.program.groups import describe_device
from deephw.program.manifest import MANIFEST
from deephw.program.memory import ProgramContent
from deephw.program.plan import RESET, device_range
from deephw.program.store import open_program
from deephw.program.tables import DeviceTable, Measured, read_measured_csv


def weights_from_conductances(
    program: ProgramContent, card: Card, devices: DeviceTable, values_uS: np.ndarray
) -> np.ndarray:
    """``(N, N)`` weights that device conductances ``values_uS`` (one per row of
    ``devices``) make on nominal cells of ``card``; 0 outside the programmed cells."""
    cell = get_cell(card.cell.kind)
    models = cell.models_for(card)
    n = program.n
    conductances = {}
    for code, role in enumerate(cell.roles):
        grid = np.full((n, n), models[role].nominal_reset_uS())
        rows = devices["role"] == code
        grid[devices["pre"][rows], devices["post"][rows]] = values_uS[rows]
        conductances[role] = grid
    _, enabled = program.masks()
    return np.where(enabled, cell.nominal_weights(card, conductances), 0.0)


@dataclass(frozen=True)
class ImportedNetwork:
    """A program's network as the arrays of a run directory's ``weights.npz``: one
    network (``seeds`` of one), its ``(1, N, N)`` weights and mask of programmed cells,
    and the ``(N, N)`` mask of the cells holding devices."""

    seeds: np.ndarray
    weights: np.ndarray
    mask: np.ndarray
    structural_mask: np.ndarray

    def npz_bytes(self) -> bytes:
        """The arrays as a compressed ``weights.npz``."""
        return rundir.weights_npz_bytes(self.seeds, self.weights, self.mask, self.structural_mask)


def import_network(program: ProgramContent, values_uS: np.ndarray | None = None) -> ImportedNetwork:
    """The network a program (in memory or opened) makes: with its targets, or with
    conductances ``values_uS`` (one per device of ``program.devices()``, e.g.
    :func:`measured_values`), on nominal cells of its card."""
    card = program.card()
    devices = program.devices()
    values = devices["target_uS"] if values_uS is None else values_uS
    weights = weights_from_conductances(program, card, devices, values)
    structural, enabled = program.masks()
    return ImportedNetwork(np.array([program.seed]), weights[None], enabled[None], structural)


def measured_values(program: ProgramContent, devices: DeviceTable, path: Path) -> np.ndarray:
    """Conductances of ``devices`` (in their order) from a measured CSV.

    Every ``write_verify`` device must be measured once; ``reset`` devices may be
    missing (their target, the reset value, is used). Rows of pruned cells are ignored.
    Errors name the file and the line, or the device missing.
    """
    measured = read_measured_csv(path)
    geometry = program.geometry
    roles = devices.role_names
    known = np.isin(measured.role, roles)
    if not known.all():
        k = int(np.flatnonzero(~known)[0])
        raise DeephwError(
            f"{path}: line {measured.line[k]}: role {quote(str(measured.role[k]))} is not a "
            f"role of this program's {program.manifest.mapping.cell} cell ({', '.join(roles)})"
        )
    pre, post, valid = geometry.cell(measured.tile, measured.row, measured.column)
    if not valid.all():
        k = int(np.flatnonzero(~valid)[0])
        raise DeephwError(
            f"{path}: line {measured.line[k]}: tile {measured.tile[k]} row {measured.row[k]} "
            f"column {measured.column[k]} is outside the program's tiles"
        )
    code = np.array([roles.index(r) for r in measured.role], dtype=np.int64)
    _check_plausible(program, measured, code, path)
    n, n_roles = program.n, len(roles)
    key = (pre * n + post) * n_roles + code
    want = (devices["pre"].astype(np.int64) * n + devices["post"]) * n_roles + devices["role"]
    order = np.argsort(want)
    sorted_want = want[order]
    at = np.searchsorted(sorted_want, key)
    found = (at < sorted_want.size) & (sorted_want[np.minimum(at, sorted_want.size - 1)] == key)
    structural, _ = program.masks()
    stray = ~found & ~structural[pre, post]
    if stray.any():
        k = int(np.flatnonzero(stray)[0])
        raise DeephwError(
            f"{path}: line {measured.line[k]}: cell {pre[k]} -> {post[k]} holds no device "
            f"in this program"
        )
    values = np.full(len(devices), np.nan)
    hits = order[at[found]]
    unique, counts = np.unique(hits, return_counts=True)
    if (counts > 1).any():
        twice = unique[counts > 1][0]
        lines = measured.line[found][hits == twice]
        raise DeephwError(
            f"{path}: lines {lines[0]} and {lines[1]}: device "
            f"{describe_device(devices, int(twice))} is measured twice"
        )
    values[hits] = measured.conductance_uS[found]
    missing = np.isnan(values)
    held = devices["method"] == RESET
    values[missing & held] = devices["target_uS"][missing & held]
    lacking = np.flatnonzero(missing & ~held)
    if lacking.size:
        raise DeephwError(
            f"{path}: device {describe_device(devices, int(lacking[0]))} is not measured "
            f"({lacking.size} programmed devices are missing)"
        )
    return values


def _check_plausible(
    program: ProgramContent, measured: Measured, code: np.ndarray, path: Path
) -> None:
    """Refuse a measured conductance outside its device's plausible range
    (:func:`~deephw.program.checks.plausible_range`), naming the line and the device."""
    card = program.card()
    models = get_cell(card.cell.kind).models_for(card)
    for k, role in enumerate(program.manifest.mapping.roles):
        low, high = plausible_range(models[role])
        value = measured.conductance_uS
        bad = np.flatnonzero((code == k) & ~((value >= low) & (value <= high)))
        if bad.size:
            j = int(bad[0])
            nominal = device_range(models[role])
            what = (
                "is not a number"
                if np.isnan(value[j])
                else f"µS is far outside the device's physical range [{nominal[0]:g}, "
                f"{nominal[1]:g}] µS of card {card.name!r} (accepted: [{low:g}, {high:g}] µS)"
            )
            others = f"; {bad.size} such values of role {role}" if bad.size > 1 else ""
            raise DeephwError(
                f"{path}: line {measured.line[j]}: device tile {measured.tile[j]} row "
                f"{measured.row[j]} column {measured.column[j]} role {role}: conductance "
                f"{float(value[j])!r} {what}{others}"
            )


def import_program(
    source: str | Path,
    out_dir: str | Path,
    run: str | Path | None = None,
    program: str | Path | None = None,
) -> Path:
    """Write a run directory with the weights of a program or of measured conductances.

    Parameters
    ----------
    source
        A program directory, or a CSV of measured conductances.
    out_dir
        The run directory to write (must not exist, or be empty).
    run
        The original run, whose config the new run takes (default: the config the
        program carries); its network size must match.
    program
        With a CSV: the program it was measured from (default: the CSV's folder, if it
        holds a ``program.yaml``).

    Returns
    -------
    pathlib.Path
        ``out_dir``.
    """
    source, out_dir = Path(source), Path(out_dir)
    if not source.exists():
        raise DeephwError(f"{source}: no such program directory or measured CSV")
    if source.is_dir():
        if program is not None and Path(program).resolve() != source.resolve():
            raise DeephwError(f"{source}: a program directory takes no other --program")
        prog = open_program(source)
        measured = None
    else:
        if program is None:
            if not (source.parent / MANIFEST).is_file():
                raise DeephwError(
                    f"{source}: a measured CSV needs the program it was measured from "
                    f"(--program DIR)"
                )
            program = source.parent
        prog = open_program(program)
        measured = source
    manifest = prog.manifest
    budget.enforce(
        import_estimate(manifest),
        source=str(prog.directory / MANIFEST),
        field="network.neurons",
        value=prog.n,
    )
    if run is None:
        config_bytes = prog.read(manifest.run.config)
        config_from = prog.path(manifest.run.config)
        config = prog.config()  # validated; it names only the program's data files
        topo = training.build_topology(config, training.load_task(config))
        prog.check_graph(topo, str(config_from))
        data = {Path(ref.path).name: prog.read(ref) for ref in manifest.run.data}
    else:
        config, _ = rundir.load_run(run)
        config_from = Path(run) / "config.yaml"
        topo = training.build_topology(config, training.load_task(config))
        prog.check_graph(topo, str(config_from))
        config_bytes = config_from.read_bytes()
        data = {path.name: path.read_bytes() for path in run_data_files(Path(run), config)}
    extra = len(config_bytes) + sum(len(v) for v in data.values())
    atomic.check_output_location(out_dir, import_bytes(manifest, extra))
    with atomic.claim(out_dir):
        if measured is None:
            network = import_network(prog)
        else:
            network = import_network(prog, measured_values(prog, prog.devices(), measured))
        provenance = {
            "program": str(prog.directory.resolve()),
            "program_sha256": sha256_bytes(read_sealed(prog.directory, MANIFEST)),
            "source": str(source.resolve()),
            "source_sha256": sha256_file(source) if measured is not None else None,
            "kind": "measured conductances" if measured is not None else "program targets",
            "card": manifest.card.name,
            "seed": prog.seed,
            "config_from": str(config_from.resolve()),
        }
        with atomic.new_directory(out_dir) as tmp:
            atomic.write_bytes(tmp / "config.yaml", config_bytes)
            for name, content in data.items():  # the files the config names
                atomic.write_bytes(tmp / "data" / name, content)
            atomic.write_bytes(tmp / "weights.npz", network.npz_bytes())
            atomic.write_text(tmp / "import.json", json.dumps(provenance, indent=2) + "\n")
    return out_dir
