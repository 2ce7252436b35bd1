"""Study kinds: what one configuration of a sweep computes, for all its seeds at once.

A study kind is one subclass of :class:`Study`, registered by name with
:func:`register_study`. It answers three questions:

- :meth:`Study.bases`: around which configurations does the sweep vary its axes? (a
  ``train`` study: the sweep's base run config; an ``evaluate`` study: the config of each
  trained run directory it names);
- :meth:`Study.prepare`, on the machine that submits the sweep: is a generated
  configuration usable, and what data does a worker need to run it (task data, trained
  weights, a weight program)? Workers therefore need no access to the sweep's files;
- :meth:`Study.run`, on a worker: one row per seed.

A study may also take options of its own besides the run config, in one section of the
sweep's values (:attr:`Study.options_section`, e.g. ``program`` for an evaluate study):
``fixed`` and ``axes`` set them by dotted path like config fields, :meth:`Study.options`
validates them, and they are part of the configuration's key.

Rows are plain data: the seed, the study's metrics (:attr:`Study.metrics`), the hardware
columns :data:`HARDWARE_METRICS` and any extra per-seed scalars the result exposes
(:func:`seed_metrics`).
"""

from __future__ import annotations

import math
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from deephw import training
from deephw.assembly import hardware_card
from deephw.config import RunConfig, from_dict, load
from deephw.devices.cards import card_hash
from deephw.errors import ConfigError, DeephwError, DivergenceError, quote
from deephw.hashing import sha256_file
from deephw.program import export_program, load_groups, open_program, verify_program
from deephw.program.drift import DRIFT_TIMES
from deephw.registry import Registry
from deephw.rundir import load_run
from deephw.validation import FieldError, as_dict, build, check

if TYPE_CHECKING:
    from deephw.sweep.spec import SweepFile

HARDWARE_METRICS = ("pulses", "energy_pJ", "chip_time_ns")
"""Per-seed hardware columns every table has; empty (NA) until a run reports them."""

STUDIES: Registry[type] = Registry("study kind")


@dataclass(frozen=True, eq=False)
class Base:
    """A configuration the sweep varies its axes around.

    Attributes
    ----------
    data
        Run-config data (nested mappings) the axes are assigned into.
    base_dir
        Folder relative paths of the config start from.
    label
        Value of the study's label column (e.g. the run directory as the sweep file
        names it), or ``None``.
    identity
        Text hashed into every configuration key besides the config itself (e.g. the
        hash of trained weights), so that results of other inputs are never reused.
    inputs
        Data every job made from this base needs (e.g. trained weights).
    """

    data: dict[str, Any]
    base_dir: str
    label: str | None = None
    identity: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Job:
    """What a worker needs to run one configuration: plain data, picklable.

    Attributes
    ----------
    kind
        The study's registered name.
    config
        The validated run config as data (``RunConfig.to_dict()``).
    base_dir
        Folder relative paths of the config start from.
    inputs
        The data :meth:`Study.prepare` returned.
    options
        The study's validated options (:meth:`Study.options`), as data.
    """

    kind: str
    config: dict[str, Any]
    base_dir: str
    inputs: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    def run_config(self) -> RunConfig:
        """The job's validated run config."""
        return from_dict(self.config, base_dir=self.base_dir)


class Study(ABC):
    """One kind of study: the bases of a sweep, the checks, and the per-seed rows."""

    name: ClassVar[str] = ""
    label_column: ClassVar[str | None] = None
    """Table column holding :attr:`Base.label`, or ``None`` when bases carry no label."""
    metrics: ClassVar[dict[str, str]] = {}
    """Metric columns of a row and their table dtypes (``float64``, ``bool``, ``Int64``)."""
    options_section: ClassVar[str | None] = None
    """Section of the sweep's values holding the study's own options rather than run
    config (validated by :meth:`options`), or ``None``."""
    figure_groups: ClassVar[dict[str, tuple[str, ...]]] = {}
    """Metrics drawn together in a figure of their own per axis
    (``figures/NAME_vs_AXIS.png``, two panels a row) instead of in ``vs_AXIS.png``."""
    heatmap_metrics: ClassVar[tuple[tuple[str, str], ...] | None] = None
    """``(metric, title)`` of the heatmap panels; ``None``: final MSE, converged,
    accuracy."""

    def __init__(self) -> None:
        self._tasks: dict[str, Any] = {}
        self._fingerprints: dict[str, dict[str, str]] = {}

    def load_task(self, config: RunConfig) -> Any:
        """The task a configuration names, read once per distinct task section."""
        key = repr((config.task, config.base_dir))
        if key not in self._tasks:
            self._tasks[key] = training.load_task(config)
        return self._tasks[key]

    def fingerprint(
        self, config: RunConfig, options: Mapping[str, Any] | None = None
    ) -> dict[str, str]:
        """Hashes of the content a configuration names but does not hold.

        The files it reads (CSV data, adjacency) and the device card it runs on, with
        its overrides applied: part of the configuration's key, so that results are
        recomputed when a file or a card changes. Validates the card on the way.
        Studies whose options name files add their hashes.
        """
        key = repr((config.task, config.network, config.hardware, config.base_dir))
        if key not in self._fingerprints:
            out = {}
            for name, value in (
                ("task.csv", config.task.csv),
                ("network.adjacency", config.network.adjacency),
            ):
                if value is not None:
                    path = config.resolve(value)
                    if not path.is_file():
                        raise ConfigError("", name, value, "file does not exist")
                    out[name] = sha256_file(path)
            out["hardware.card"] = card_hash(hardware_card(config))
            self._fingerprints[key] = out
        return self._fingerprints[key]

    @abstractmethod
    def check_spec(self, spec: SweepFile) -> None:
        """Reject sweep-file keys this kind cannot use (raise ``FieldError``)."""

    @abstractmethod
    def bases(self, spec: SweepFile, folder: Path, source: str) -> list[Base]:
        """The configurations to vary, read relative to the sweep file's ``folder``."""

    def options(self, data: dict[str, Any], base: Base) -> dict[str, Any]:
        """Validate the :attr:`options_section` of a configuration; its options as data.

        Raises
        ------
        deephw.errors.ConfigError
            Naming the option by its dotted path (``SECTION.FIELD``).
        """
        if data:
            raise ConfigError("", self.options_section or "", data, "this study takes no options")
        return {}

    @abstractmethod
    def prepare(self, config: RunConfig, base: Base, options: Mapping[str, Any]) -> dict[str, Any]:
        """Check a generated configuration; return the inputs of its job.

        Raises
        ------
        DeephwError
            If the configuration cannot run (a missing file, a shape that does not fit).
        """

    @abstractmethod
    def seeds(self, config: RunConfig, base: Base, options: Mapping[str, Any]) -> tuple[int, ...]:
        """The seeds a configuration's job reports, one row each."""

    @abstractmethod
    def run(self, job: Job) -> list[dict[str, Any]]:
        """Run one configuration for all its seeds; one row (a mapping) per seed."""


def register_study(name: str) -> Callable[[type[Study]], type[Study]]:
    """Class decorator registering a study kind under ``name``."""
    return STUDIES.register(name)


def get_study(name: str) -> Study:
    """An instance of the study kind registered as ``name``."""
    return STUDIES.get(name)()


def study_names() -> list[str]:
    """Names of the registered study kinds."""
    return STUDIES.names()


def run_job(job: Job) -> list[dict[str, Any]]:
    """Run one job: one row per seed."""
    return get_study(job.kind).run(job)


def run_timed(job: Job) -> tuple[list[dict[str, Any]], float]:
    """Run one job on a worker, the task submitted to Dask: its rows and its seconds."""
    start = time.perf_counter()
    rows = run_job(job)
    return rows, time.perf_counter() - start


def seed_metrics(result: Any, n_seeds: int) -> dict[str, list[float | None]]:
    """Extra scalar metrics per seed that a result exposes, for the table.

    Three sources, in this order (later names win):

    - ``result.events``: a mapping of event counters (e.g. ``G+.set``, ``cell.transfers``,
      ``energy_pJ``), each per seed (``(S,)``) or cumulative per epoch and seed
      (``(epochs, S)``, whose last row is taken); the ``*.set`` and ``*.reset`` counts
      of the devices (every group but ``cell``) add up to ``pulses``;
    - ``result.chip_time_s``: the chip clock (a scalar, per epoch, or per epoch and
      seed), whose final value becomes ``chip_time_ns``;
    - ``result.seed_metrics``: a mapping of name to ``(S,)`` values, or a method
      returning one: the hook for any other per-seed scalar.

    The names of :data:`HARDWARE_METRICS` fill the table's standard hardware columns;
    other names add columns. Values of other shapes are left out.

    Parameters
    ----------
    result
        A training or evaluation result.
    n_seeds
        The number of seeds ``S``.
    """
    values: dict[str, np.ndarray] = {}
    events = getattr(result, "events", None)
    if isinstance(events, Mapping):
        for name, array in events.items():
            final = _final(array, n_seeds)
            if final is not None:
                values[str(name)] = final
        pulses = [
            v
            for k, v in values.items()
            if k.endswith((".set", ".reset")) and not k.startswith("cell.")
        ]
        if pulses:
            values["pulses"] = np.sum(pulses, axis=0)
    clock = getattr(result, "chip_time_s", None)
    if clock is not None:
        clock = np.asarray(clock, dtype=float)
        if clock.ndim <= 1 and clock.size:  # one clock for all seeds, per epoch
            values["chip_time_ns"] = np.full(n_seeds, clock.reshape(-1)[-1] * 1e9)
        elif clock.ndim == 2 and clock.shape[1] == n_seeds and len(clock):
            values["chip_time_ns"] = clock[-1] * 1e9
    hook = getattr(result, "seed_metrics", None)
    if hook is not None:
        for name, array in dict(hook() if callable(hook) else hook).items():
            final = _final(array, n_seeds)
            if final is None:
                raise DeephwError(f"per-seed metric {quote(name)} does not have {n_seeds} values")
            values[str(name)] = final
    return {
        name: [float(v) if math.isfinite(v) else None for v in array]
        for name, array in values.items()
    }


def _final(values: Any, n_seeds: int) -> np.ndarray | None:
    """Final per-seed values of a scalar, ``(S,)`` or ``(epochs, S)`` array, else ``None``."""
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        return None
    if array.ndim == 0:
        return np.full(n_seeds, float(array))
    if array.ndim == 1 and array.shape[0] == n_seeds:
        return array
    if array.ndim == 2 and array.shape[1] == n_seeds and len(array):
        return array[-1]
    return None


def _number(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _rows(
    seeds: np.ndarray, columns: Mapping[str, Any], extra: Mapping[str, list]
) -> list[dict[str, Any]]:
    rows = []
    for k, seed in enumerate(seeds):
        row: dict[str, Any] = {"seed": int(seed)}
        row.update({name: values[k] for name, values in columns.items()})
        row.update({name: values[k] for name, values in extra.items()})
        rows.append(row)
    return rows


SCORE_METRICS = {
    "final_mse": "float64",
    "accuracy": "float64",
    "converged": "bool",
    "correct": "bool",
    "sparsity": "float64",
}
"""Columns every study reports per seed (with their pandas dtypes), first in the table."""


@register_study("train")
class TrainStudy(Study):
    """Train every configuration from scratch, all seeds batched in one array program.

    A configuration whose batch diverges is trained again seed by seed (a seed trains
    the same alone or batched), so the seeds that stay finite keep their results and
    each diverged seed gets a row with ``diverged`` true and the epoch it diverged at.
    """

    metrics: ClassVar[dict[str, str]] = {
        **SCORE_METRICS,
        "epochs_to_converge": "Int64",
        "diverged": "bool",
        "diverged_epoch": "Int64",
    }

    def check_spec(self, spec: SweepFile) -> None:
        """A train study needs ``base`` and takes no ``runs``."""
        if spec.base is None:
            raise FieldError("base", None, "a train study needs a base run config")
        if spec.runs:
            raise FieldError("runs", list(spec.runs), "only an evaluate study takes runs")

    def bases(self, spec: SweepFile, folder: Path, source: str) -> list[Base]:
        """The sweep's base run config (a file, or inline), with its seeds overridden."""
        if isinstance(spec.base, str):
            try:
                config = load(folder / spec.base)
            except ConfigError as exc:
                raise ConfigError(source, "base", spec.base, str(exc)) from None
        else:
            try:
                config = from_dict(spec.base or {}, "", folder)
            except ConfigError as exc:
                raise ConfigError(source, f"base.{exc.field}", exc.value, exc.reason) from None
        data = config.to_dict()
        if spec.seeds is not None:
            data["training"]["seeds"] = spec.seeds
        if spec.seed is not None:
            data["training"]["seed"] = spec.seed
        return [Base(data, config.base_dir)]

    def prepare(self, config: RunConfig, base: Base, options: Mapping[str, Any]) -> dict[str, Any]:
        """Load the task (sent to workers as data) and check that the graph builds."""
        task = self.load_task(config)
        training.build_topology(config, task)
        return {"task": task}

    def seeds(self, config: RunConfig, base: Base, options: Mapping[str, Any]) -> tuple[int, ...]:
        """``training.seed`` to ``training.seed + training.seeds - 1``."""
        return tuple(int(s) for s in training.seed_list(config))

    def run(self, job: Job) -> list[dict[str, Any]]:
        """Train all seeds in one batch; fall back to one seed at a time on divergence."""
        config = job.run_config()
        task = job.inputs.get("task")
        try:
            return self._result_rows(training.train(config, task=task))
        except DivergenceError:
            pass
        rows = []
        for seed in training.seed_list(config):
            alone = config.replace(training={"seed": int(seed), "seeds": 1})
            try:
                rows.extend(self._result_rows(training.train(alone, task=task)))
            except DivergenceError as exc:
                rows.append(self._diverged_row(int(seed), exc.epoch))
        return rows

    def _result_rows(self, result: training.TrainResult) -> list[dict[str, Any]]:
        epochs = result.epochs_to_converge
        columns = {
            "final_mse": [_number(v) for v in result.final_mse],
            "accuracy": [_number(v) for v in result.final_accuracy],
            "converged": [bool(v) for v in result.converged],
            "correct": [bool(v) for v in result.correct],
            "sparsity": [_number(v) for v in result.sparsity],
            "epochs_to_converge": [int(v) if v >= 0 else None for v in epochs],
            "diverged": [False] * len(result.seeds),
            "diverged_epoch": [None] * len(result.seeds),
        }
        return _rows(result.seeds, columns, seed_metrics(result, len(result.seeds)))

    def _diverged_row(self, seed: int, epoch: int) -> dict[str, Any]:
        row: dict[str, Any] = {"seed": seed}
        row.update(dict.fromkeys(self.metrics))
        row.update(converged=False, correct=False, diverged=True, diverged_epoch=epoch)
        return row


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
        self._programs: dict[tuple, tuple[dict[str, bytes], dict[str, Any]]] = {}

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
        files, network = self._export(config, base, ProgramOptions(**options))
        return {"task": task, "program": files, "network": network}

    def _export(
        self, config: RunConfig, base: Base, options: ProgramOptions
    ) -> tuple[dict[str, bytes], dict[str, Any]]:
        """The program's files (relative path: bytes) and what it holds, exported once
        per run, card content and export options."""
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
            with tempfile.TemporaryDirectory(prefix="deephw-evaluate-") as tmp:
                try:
                    folder = export_program(
                        base.inputs["run_dir"],
                        Path(tmp) / "program",
                        groups=groups,
                        tile_rows=options.tile_rows,
                        tile_cols=options.tile_cols,
                        seed=options.network_seed,
                        card=card,
                        csv="never",
                    )
                except DeephwError as exc:
                    raise ConfigError("", "hardware", card.name, f"cannot export: {exc}") from None
                files = {
                    path.relative_to(folder).as_posix(): path.read_bytes()
                    for path in sorted(folder.rglob("*"))
                    if path.is_file()
                }
                manifest = open_program(folder).manifest
            net = manifest.network
            sparsity = 1.0 - net.programmed_cells / net.cells if net.cells else 0.0
            self._programs[key] = (files, {"seed": manifest.run.seed, "sparsity": sparsity})
        return self._programs[key]

    def seeds(self, config: RunConfig, base: Base, options: Mapping[str, Any]) -> tuple[int, ...]:
        """The chips' seeds: ``program.chip_seed`` and the next ``program.chips - 1``."""
        return tuple(options["chip_seed"] + k for k in range(options["chips"]))

    def run(self, job: Job) -> list[dict[str, Any]]:
        """Verify the program on the configuration's chips; one row per chip."""
        config = job.run_config()
        options = ProgramOptions(**job.options)
        with tempfile.TemporaryDirectory(prefix="deephw-evaluate-") as tmp:
            folder = Path(tmp) / "program"
            for name, data in job.inputs["program"].items():
                path = folder / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            with np.errstate(over="ignore", invalid="ignore"):
                result = verify_program(
                    folder,
                    seed=options.chip_seed,
                    chips=options.chips,
                    config=config,
                    task=job.inputs.get("task"),
                    write=False,
                )
        return self._rows(result.report, config, job.inputs["network"])

    def _rows(
        self, report: dict[str, Any], config: RunConfig, network: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        drift = {(row["time"], row["chip_seed"]): row for row in report["drift"]}
        totals = report["totals"]
        first = DRIFT_TIMES[0][0]
        rows = []
        for k, seed in enumerate(report["chip_seeds"]):
            now = drift[(first, seed)]
            mse, accuracy = _number(now["mse"]), _number(now["accuracy"])
            verified = totals["verified_per_chip"][k]
            within = totals["within_tolerance_per_chip"][k]
            row: dict[str, Any] = {
                "seed": int(seed),
                "final_mse": mse,
                "accuracy": accuracy if mse is not None else None,
                "converged": mse is not None and mse < config.training.converged_mse,
                "correct": mse is not None and accuracy is not None and accuracy >= 1.0,
                "sparsity": _number(network["sparsity"]),
                "diverged": mse is None,
                "network_seed": int(network["seed"]),
                "trained_mse": _number(report["trained"]["mse"]),
                "trained_accuracy": _number(report["trained"]["accuracy"]),
                "within_tolerance": within / verified if verified else None,
                "failed_devices": totals["failed_per_chip"][k],
                "stuck_devices": totals["stuck_per_chip"][k],
                "pulses": float(totals["pulses_per_chip"][k]),
                "energy_pJ": _number(totals["energy_pJ_per_chip"][k]),
                "chip_time_ns": _number(totals["serial_time_ns_per_chip"][k]),
            }
            for label, names in DRIFT_COLUMNS:
                point = drift[(label, seed)]
                values = (point["accuracy"], point["mse"], point["accuracy_gdc"], point["mse_gdc"])
                row.update({name: _number(v) for name, v in zip(names, values, strict=True)})
            rows.append(row)
        return rows
