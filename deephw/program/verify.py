"""``deephw program verify``: a program executed on freshly sampled simulated chips.

The report directory holds ``report.json`` (everything below), ``groups.csv`` (per
group: devices within tolerance, residual error distribution, iterations, pulses,
failed and stuck devices), ``drift.csv`` (MSE and accuracy per time and chip, with and
without global drift compensation), ``drift.png`` (accuracy and MSE vs time) and, for
programs of at most :data:`~deephw.program.export.CSV_AUTO_LIMIT` devices,
``measured.csv``: one chip's conductances (``chip``, default the first) read through the
ADC right after programming, in the format ``deephw program import`` takes.

:func:`verify_chips` executes a program held in memory or opened (nothing written) and
returns a :class:`~deephw.program.results.VerifyReport`; studies call it with their
own run config (e.g. a sweep's evaluate study, which varies the card, the dynamics or
the engine around a trained run, on programs it exports in memory).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deephw import atomic, budget, plotting, tasks, training
from deephw.config import SEED_MAX, RunConfig
from deephw.devices import Card
from deephw.errors import DeephwError
from deephw.program.chip import ProgrammedChip, program_chip, read_devices
from deephw.program.cost import verify_bytes, verify_estimate
from deephw.program.drift import DRIFT_TIMES, DriftPoint, drift_study
from deephw.program.export import CSV_AUTO_LIMIT
from deephw.program.importing import weights_from_conductances
from deephw.program.memory import ProgramContent
from deephw.program.report import drift_csv, drift_figure, drift_rows, group_summary, groups_csv
from deephw.program.results import GroupResult, Scores, Totals, VerifyReport
from deephw.program.store import open_program
from deephw.program.tables import measured_csv_bytes

MEASURED = "measured.csv"


@dataclass
class VerifyResult:
    """Where the report went (``None`` if not written), its content (as in
    ``report.json``), and where the measured conductances of which chip were written
    (``measured`` is ``None`` when not written: not writing, or too many devices);
    ``typed`` is the same report as a :class:`~deephw.program.results.VerifyReport`."""

    out_dir: Path | None
    report: dict[str, Any]
    measured: Path | None = None
    measured_chip: int = 0
    typed: VerifyReport | None = None


@dataclass
class _Setup:
    """What a verification runs with, checked before any chip is sampled."""

    card: Card
    card_note: str
    config: RunConfig
    task: tasks.Task


def default_out(program_dir: Path, seed: int, chips: int) -> Path:
    """``PROGRAM-verify-seedN`` (``-seedsN-M`` for several chips), beside the program."""
    tag = f"seed{seed}" if chips == 1 else f"seeds{seed}-{seed + chips - 1}"
    return program_dir.parent / f"{program_dir.name}-verify-{tag}"


def _check_chips(seed: int, chips: int, chip: int) -> None:
    """Refuse a chip count, chip or first seed out of range, naming the option."""
    if chips < 1:
        raise DeephwError(f"--chips must be >= 1, got {chips}")
    if not 0 <= chip < chips:
        raise DeephwError(f"--chip = {chip}: must name one of the {chips} chips, 0 to {chips - 1}")
    if seed < 0 or seed + chips - 1 > SEED_MAX:
        raise DeephwError(
            f"--seed = {seed}: chip seeds {seed} to {seed + chips - 1} must lie in 0 to {SEED_MAX}"
        )


def _setup(
    program: ProgramContent,
    seed: int,
    chips: int,
    engine: str | None,
    force: bool,
    config: RunConfig | None,
    task: tasks.Task | None,
) -> _Setup:
    """Choose the card and config, load the task, and refuse work past
    :mod:`deephw.budget`'s limits (before any table is read)."""
    card, card_note = program.chip_card(force)
    config = program.config() if config is None else config
    if engine is not None:
        config = config.replace(engine={"name": engine})
    task = training.load_task(config) if task is None else task
    manifest = program.manifest
    evaluations = 1 + 2 * len(DRIFT_TIMES)
    estimate = verify_estimate(
        manifest, chips, task.n_patterns, config.dynamics.free_steps, evaluations
    )
    net = manifest.network
    budget.enforce(
        estimate,
        source=f"{program.manifest_path} ({net.neurons} neurons, {net.devices} devices)",
        field="--chips",
        value=chips,
        force=force,
    )
    return _Setup(card, card_note, config, task)


def verify_chips(
    program: ProgramContent,
    seed: int = 0,
    chips: int = 1,
    *,
    engine: str | None = None,
    force: bool = False,
    config: RunConfig | None = None,
    task: tasks.Task | None = None,
) -> VerifyReport:
    """Program simulated chips with a program (in memory or opened) and report.

    Nothing is written. The parameters are those of :func:`verify_program`, whose
    ``report.json`` holds :meth:`VerifyReport.to_dict` of what this returns.
    """
    _check_chips(seed, chips, 0)
    setup = _setup(program, seed, chips, engine, force, config, task)
    return _run(program, setup, seed, chips)[0]


def verify_program(
    program_dir: str | Path,
    seed: int = 0,
    chips: int = 1,
    engine: str | None = None,
    force: bool = False,
    out: str | Path | None = None,
    *,
    chip: int = 0,
    config: RunConfig | None = None,
    task: tasks.Task | None = None,
    write: bool = True,
) -> VerifyResult:
    """Program simulated chips with a program directory and report how well it went.

    Parameters
    ----------
    program_dir
        A program directory (refused if a listed file is missing or changed).
    seed
        Seed of the first simulated chip (device-to-device variation, stuck devices,
        programming and read noise); chip ``k`` uses ``seed + k``.
    chips
        How many chips to sample and program; refused in one line when the memory or
        work it needs is past :mod:`deephw.budget`'s limits (work: unless ``force``).
    engine
        Engine evaluating the network (default: the run's).
    force
        Verify even if the named card changed since export (its hash differs), or if
        the work is past the limit.
    out
        Report directory (default :func:`default_out`); must not exist. It is checked
        (writable, room for the report) and claimed before any work.
    chip
        The chip (``0`` to ``chips - 1``, seed ``seed + chip``) whose conductances are
        written to ``measured.csv``.
    config
        Run config evaluating the network (task, graph, dynamics, engine); default the
        one the program carries (that of the run it came from). Its graph must have the
        program's neurons.
    task
        The task to evaluate on, if already loaded (default: the config's).
    write
        Write the report directory; with ``False`` nothing is written (no figure drawn)
        and only the report is returned (``out_dir`` is ``None``).
    """
    program_dir = Path(program_dir)
    _check_chips(seed, chips, chip)
    program = open_program(program_dir)
    setup = _setup(program, seed, chips, engine, force, config, task)
    if not write:
        typed = _run(program, setup, seed, chips)[0]
        return VerifyResult(None, typed.to_dict(), typed=typed)
    measured = program.manifest.network.devices <= CSV_AUTO_LIMIT
    out = default_out(program_dir, seed, chips) if out is None else Path(out)
    atomic.check_output_location(out, verify_bytes(program.manifest, chips, measured))
    with atomic.claim(out):
        typed, programmed, points, trained = _run(program, setup, seed, chips)
        report = typed.to_dict()
        totals = report["totals"]
        with atomic.new_directory(out) as tmp:
            atomic.write_text(tmp / "report.json", json.dumps(report, indent=2) + "\n")
            atomic.write_text(tmp / "groups.csv", groups_csv(report["groups"]))
            atomic.write_text(tmp / "drift.csv", drift_csv(report["drift"]))
            title = (
                f"{program_dir.name}: network seed {program.seed} on card {setup.card.name}, "
                f"{totals['within_tolerance']}/{totals['verified']} written devices within "
                f"tolerance on {chips} chip{'s' if chips > 1 else ''}"
            )
            plotting.save(drift_figure(points, trained, title), tmp / "drift.png")
            if measured:
                devices = program.devices()
                t = programmed.crossbar.time_s
                programmed.hold(t)
                values = read_devices(programmed, devices, t, chip)
                data = measured_csv_bytes(devices, values, seed + chip)
                atomic.write_bytes(tmp / MEASURED, data)
    return VerifyResult(out, report, out / MEASURED if measured else None, chip, typed)


def _run(
    program: ProgramContent, setup: _Setup, seed: int, chips: int
) -> tuple[VerifyReport, ProgrammedChip, list[DriftPoint], tuple[float, float]]:
    """Program the chips and evaluate them: the report, the chips, the drift points and
    the trained network's ``(mse, accuracy)``."""
    card, config, task = setup.card, setup.config, setup.task
    topo = training.build_topology(config, task)
    program.check_graph(topo, "the run's config")
    runner = training.make_engine(config)
    seeds = seed + np.arange(chips, dtype=np.int64)
    chip = program_chip(program, card, seeds)
    groups = [
        group_summary(outcome, ref)
        for outcome, ref in zip(chip.outcomes, program.manifest.groups, strict=True)
    ]
    devices = program.devices()
    target = weights_from_conductances(program, program.card(), devices, devices["target_uS"])
    net_seed = np.array([program.seed])
    trained_mse, trained_acc, _ = training.evaluate(
        config, topo, task, target[None], net_seed, runner
    )
    points = drift_study(chip, devices, program.geometry, config, topo, task, program.seed, runner)
    trained = (float(trained_mse[0]), float(trained_acc[0]))
    report = VerifyReport(
        program=program.location,
        network_seed=program.seed,
        card=card.name,
        card_check=setup.card_note,
        chip_seeds=[int(s) for s in seeds],
        engine=config.engine.name,
        trained=Scores(*trained),
        totals=_totals(groups, chip),
        groups=groups,
        drift=drift_rows(points, seeds),
    )
    return report, chip, points, trained


def _totals(groups: list[GroupResult], chip: ProgrammedChip) -> Totals:
    """Sums over groups: ``devices`` per chip, the other counts over every chip; the
    same counts chip by chip (``*_per_chip``, in the order of ``chip_seeds``); and the
    energy and serial time of programming per chip (from the card's costs per event)."""
    keys = ("devices", "verified", "within_tolerance", "failed", "failed_stuck", "stuck")
    totals: dict[str, Any] = {k: int(sum(getattr(g, k) for g in groups)) for k in keys}
    totals["chips"] = int(chip.seeds.size)
    totals["pulses"] = int(sum(g.pulses.total for g in groups))
    per_chip = {key: np.zeros(chip.seeds.size, dtype=np.int64) for key in keys[1:]}
    per_chip["pulses"] = np.zeros(chip.seeds.size, dtype=np.int64)
    for o in chip.outcomes:
        failed = o.verified & ~o.within
        per_chip["verified"] += o.verified.sum(axis=1)
        per_chip["within_tolerance"] += (o.verified & o.within).sum(axis=1)
        per_chip["failed"] += failed.sum(axis=1)
        per_chip["failed_stuck"] += (failed & o.stuck).sum(axis=1)
        per_chip["stuck"] += o.stuck.sum(axis=1)
        per_chip["pulses"] += o.pulses.sum(axis=1)
    for key, values in per_chip.items():
        totals[f"{key}_per_chip"] = [int(v) for v in values]
    cost = chip.crossbar.cost()
    totals["energy_pJ_per_chip"] = [float(v) for v in cost["energy_pJ"]]
    totals["serial_time_ns_per_chip"] = [float(v) for v in cost["time_ns"]]
    return Totals(**totals)
