"""The ``evaluate`` study: trained networks programmed onto simulated chips and scored."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from deephw import training
from deephw.assembly import hardware_card
from deephw.config import RunConfig
from deephw.devices.cards import card_hash
from deephw.errors import ConfigError, DeephwError
from deephw.hashing import sha256_file
from deephw.program import VerifyReport, WeightProgram, export_network, load_groups, verify_chips
from deephw.program.drift import DRIFT_TIMES
from deephw.rundir import load_run
from deephw.sweep.studies.base import Base, Job, Study, register_study
from deephw.sweep.studies.rows import SCORE_METRICS, number
from deephw.validation import FieldError, as_dict, build, check

if TYPE_CHECKING:
    from deephw.sweep.spec import SweepFile


def _time_suffix(label: str) -> str:
    """Column suffix of a drift time label: ``1 h`` → ``1h``."""
    return label.replace(" ", "")


DRIFT_COLUMNS: tuple[tuple[str, tuple[str, str, str, str]], ...] = tuple(
    (
        label,
        tuple(
            f"{metric}_{_time_suffix(label)}{gdc}"
            for gdc in ("", "_gdc")
            for metric in ("accuracy", "mse")
        ),
    )
    for label, _ in DRIFT_TIMES
)
"""Per drift time label: its columns ``accuracy_T``, ``mse_T``, ``accuracy_T_gdc``,
``mse_T_gdc`` (``T``: ``now``, ``1s``, ``1h``, ``1day``, ``1month``, ``1year``)."""


@dataclass(frozen=True)
class ProgramOptions:
    """The ``program`` options of an evaluate study: how a run's network becomes a weight
    program, and on which simulated chips it is verified (as ``deephw program export``
    and ``deephw program verify`` do). Set them in ``fixed`` or sweep them in ``axes`` as
    ``program.FIELD``; the sweep's ``seeds`` and ``seed`` set ``chips`` and ``chip_seed``.
    """

    chips: int = field(default=1, metadata=check(ge=1, doc="chips per configuration, a row each"))
    chip_seed: int = field(default=0, metadata=check(ge=0, doc="seed of the first chip"))
    network_seed: int | None = field(
        default=None, metadata=check(ge=0, doc="the run's network to export; default best MSE")
    )
    tile_rows: int | None = field(default=None, metadata=check(ge=1))
    tile_cols: int | None = field(default=None, metadata=check(ge=1))
    groups: str | None = field(
        default=None, metadata=check(doc="a groups file, relative to the sweep file")
    )


@register_study("evaluate")
class EvaluateStudy(Study):
    """Program the trained network of run directories onto simulated chips, and score it.

    For each configuration, the run's network (the one of lowest MSE, or
    ``program.network_seed``) is exported as a weight program
    (:func:`deephw.program.export_program`) for the configuration's device card, with
    its ``hardware.card_overrides`` (any card field: read noise, drift exponents,
    programming noise, stuck devices, ADC bits, tolerance of the write-verify...), on the
    submitting machine and before anything runs; a worker executes it on
    ``program.chips`` freshly sampled chips (seeds ``program.chip_seed``, +1, ...) with
    :func:`deephw.program.verify_program` and evaluates the programmed network with the
    configuration's run config (task, dynamics, engine; the graph must be the run's).

    One row per chip (``seed`` is the chip's seed): ``final_mse``, ``accuracy``,
    ``converged`` and ``correct`` right after programming; the same scores at every
    drift time, without and with global drift compensation (:data:`DRIFT_COLUMNS`);
    ``within_tolerance`` (fraction of the written devices), ``failed_devices`` and
    ``stuck_devices``; programming ``pulses``, ``energy_pJ`` and serial time
    (``chip_time_ns``); and the exported network's seed, sparsity and scores with its
    target weights (``trained_mse``, ``trained_accuracy``).
    """

    label_column: ClassVar[str | None] = "run"
    options_section: ClassVar[str | None] = "program"
    metrics: ClassVar[dict[str, str]] = {
        **SCORE_METRICS,
        "diverged": "bool",
        "network_seed": "Int64",
        "trained_mse": "float64",
        "trained_accuracy": "float64",
        "within_tolerance": "float64",
        "failed_devices": "Int64",
        "stuck_devices": "Int64",
        **{name: "float64" for _, names in DRIFT_COLUMNS for name in names},
    }
    figure_groups: ClassVar[dict[str, tuple[str, ...]]] = {
        f"drift_{metric}": tuple(
            f"{metric}_{_time_suffix(label)}{gdc}"
            for label, _ in DRIFT_TIMES
            for gdc in ("", "_gdc")
        )
        for metric in ("accuracy", "mse")
    }
    heatmap_metrics: ClassVar[tuple[tuple[str, str], ...] | None] = (
        ("accuracy", "accuracy right after programming"),
        (DRIFT_COLUMNS[-1][1][0], f"accuracy after {DRIFT_TIMES[-1][0]}"),
        (DRIFT_COLUMNS[-1][1][2], f"after {DRIFT_TIMES[-1][0]}, drift compensated"),
    )

    def __init__(self) -> None:
        super().__init__()
        self._folder = Path()
        self._programs: dict[tuple, tuple[WeightProgram, dict[str, Any]]] = {}

    def check_spec(self, spec: SweepFile) -> None:
        """An evaluate study needs ``runs`` and takes no ``base``."""
        if not spec.runs:
            raise FieldError("runs", [], "an evaluate study needs run directories")
        if spec.base is not None:
            raise FieldError("base", spec.base, "an evaluate study uses its runs' configs")

    def bases(self, spec: SweepFile, folder: Path, source: str) -> list[Base]:
        """One base per run directory: its config and trained networks.

        The ``program`` options start from ``chips``: the sweep's ``seeds`` (default:
        the run's number of seeds) and ``chip_seed``: the sweep's ``seed`` (default: the
        run's first seed).
        """
        self._folder = folder
        bases = []
        for index, run in enumerate(spec.runs):
            run_dir = folder / run
            try:
                config, arrays = load_run(run_dir)
            except DeephwError as exc:
                raise ConfigError(source, f"runs[{index}]", run, str(exc)) from None
            inputs = {
                "run_dir": str(run_dir),
                "seeds": np.asarray(arrays["seeds"]),
                "weights": np.asarray(arrays["weights"]),
                "defaults": {
                    "chips": spec.seeds if spec.seeds is not None else config.training.seeds,
                    "chip_seed": spec.seed if spec.seed is not None else config.training.seed,
                },
            }
            if "structural_mask" in arrays:
                inputs["structural_mask"] = np.asarray(arrays["structural_mask"])
            identity = sha256_file(run_dir / "weights.npz")
            bases.append(Base(config.to_dict(), config.base_dir, run, identity, inputs))
        return bases

    def options(self, data: dict[str, Any], base: Base) -> dict[str, Any]:
        """Validate the ``program`` options (see :class:`ProgramOptions`); ``chips`` and
        ``chip_seed`` default to the base's (the sweep's ``seeds`` and ``seed``)."""
        section = self.options_section or ""
        options = build(ProgramOptions, {**base.inputs["defaults"], **data}, "", section)
        seeds = base.inputs["seeds"]
        if options.network_seed is not None and options.network_seed not in seeds:
            known = ", ".join(str(int(s)) for s in seeds)
            raise ConfigError(
                "", f"{section}.network_seed", options.network_seed, f"no network (seeds: {known})"
            )
        if options.groups is not None:
            try:
                load_groups(self._folder / options.groups)
            except (ConfigError, OSError) as exc:
                raise ConfigError("", f"{section}.groups", options.groups, str(exc)) from None
        return as_dict(options)

    def fingerprint(
        self, config: RunConfig, options: Mapping[str, Any] | None = None
    ) -> dict[str, str]:
        """The base's hashes, and that of the groups file the options name."""
        out = dict(super().fingerprint(config))
        groups = (options or {}).get("groups")
        if groups is not None:
            out["program.groups"] = sha256_file(self._folder / groups)
        return out

    def prepare(self, config: RunConfig, base: Base, options: Mapping[str, Any]) -> dict[str, Any]:
        """Check the graph against the run's; export the program (sent to workers)."""
        task = self.load_task(config)
        topo = training.build_topology(config, task)
        weights = base.inputs["weights"]
        structural = base.inputs.get("structural_mask")
        fits = weights.shape[1:] == (topo.n, topo.n)
        if not fits or (structural is not None and not np.array_equal(structural, topo.mask)):
            raise ConfigError(
                "",
                "network",
                config.to_dict()["network"],
                f"gives a graph ({topo.n} neurons, {topo.n_trainable} connections) other than "
                f"the one the run's networks were trained on ({weights.shape[1]} neurons)",
            )
        program, network = self._export(config, base, ProgramOptions(**options))
        return {"task": task, "program": program, "network": network}

    def _export(
        self, config: RunConfig, base: Base, options: ProgramOptions
    ) -> tuple[WeightProgram, dict[str, Any]]:
        """The program (in memory) and what it holds, exported once per run, card
        content and export options."""
        card = hardware_card(config)
        key = (
            base.inputs["run_dir"],
            card_hash(card),
            options.network_seed,
            options.tile_rows,
            options.tile_cols,
            options.groups,
        )
        if key not in self._programs:
            groups = None if options.groups is None else self._folder / options.groups
            try:
                program = export_network(
                    base.inputs["run_dir"],
                    groups=groups,
                    tile_rows=options.tile_rows,
                    tile_cols=options.tile_cols,
                    seed=options.network_seed,
                    card=card,
                    csv="never",
                )
            except DeephwError as exc:
                raise ConfigError("", "hardware", card.name, f"cannot export: {exc}") from None
            net = program.manifest.network
            sparsity = 1.0 - net.programmed_cells / net.cells if net.cells else 0.0
            self._programs[key] = (program, {"seed": program.seed, "sparsity": sparsity})
        return self._programs[key]

    def seeds(self, config: RunConfig, base: Base, options: Mapping[str, Any]) -> tuple[int, ...]:
        """The chips' seeds: ``program.chip_seed`` and the next ``program.chips - 1``."""
        return tuple(options["chip_seed"] + k for k in range(options["chips"]))

    def run(self, job: Job) -> list[dict[str, Any]]:
        """Verify the program on the configuration's chips; one row per chip."""
        config = job.run_config()
        options = ProgramOptions(**job.options)
        with np.errstate(over="ignore", invalid="ignore"):
            report = verify_chips(
                job.inputs["program"],
                seed=options.chip_seed,
                chips=options.chips,
                config=config,
                task=job.inputs.get("task"),
            )
        return self._rows(report, config, job.inputs["network"])

    def _rows(
        self, report: VerifyReport, config: RunConfig, network: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        drift = {(score.time, score.chip_seed): score for score in report.drift}
        totals = report.totals
        first = DRIFT_TIMES[0][0]
        rows = []
        for k, seed in enumerate(report.chip_seeds):
            now = drift[(first, seed)]
            mse, accuracy = number(now.mse), number(now.accuracy)
            verified = totals.verified_per_chip[k]
            within = totals.within_tolerance_per_chip[k]
            row: dict[str, Any] = {
                "seed": int(seed),
                "final_mse": mse,
                "accuracy": accuracy if mse is not None else None,
                "converged": mse is not None and mse < config.training.converged_mse,
                "correct": mse is not None and accuracy is not None and accuracy >= 1.0,
                "sparsity": number(network["sparsity"]),
                "diverged": mse is None,
                "network_seed": int(network["seed"]),
                "trained_mse": number(report.trained.mse),
                "trained_accuracy": number(report.trained.accuracy),
                "within_tolerance": within / verified if verified else None,
                "failed_devices": totals.failed_per_chip[k],
                "stuck_devices": totals.stuck_per_chip[k],
                "pulses": float(totals.pulses_per_chip[k]),
                "energy_pJ": number(totals.energy_pJ_per_chip[k]),
                "chip_time_ns": number(totals.serial_time_ns_per_chip[k]),
            }
            for label, names in DRIFT_COLUMNS:
                point = drift[(label, seed)]
                values = (point.accuracy, point.mse, point.accuracy_gdc, point.mse_gdc)
                row.update({name: number(v) for name, v in zip(names, values, strict=True)})
            rows.append(row)
        return rows
