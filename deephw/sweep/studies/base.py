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

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from deephw.assembly import hardware_card, load_data
from deephw.config import RunConfig, from_dict
from deephw.devices.cards import card_hash
from deephw.errors import ConfigError
from deephw.hashing import sha256_file
from deephw.registry import Registry

if TYPE_CHECKING:
    from deephw.sweep.plan import Sweep
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
    spec_fields: ClassVar[tuple[str, ...]] = ()
    """Sweep-file fields of :data:`~deephw.sweep.spec.KIND_FIELDS` this kind takes (an
    ablation's ``groups`` and ``modes``); the other kinds refuse them."""

    def __init__(self) -> None:
        self._tasks: dict[str, Any] = {}
        self._fingerprints: dict[str, dict[str, str]] = {}

    def load_data(self, config: RunConfig) -> tuple[Any, Any]:
        """The training task and the test data (``None`` without ``task.test``) a
        configuration names, read once per distinct task section."""
        key = repr((config.task, config.base_dir))
        if key not in self._tasks:
            self._tasks[key] = load_data(config)
        return self._tasks[key]

    def load_task(self, config: RunConfig) -> Any:
        """The training task a configuration names (see :meth:`load_data`)."""
        return self.load_data(config)[0]

    def fingerprint(
        self, config: RunConfig, options: Mapping[str, Any] | None = None
    ) -> dict[str, str]:
        """Hashes of the content a configuration names but does not hold.

        The files it reads (task data and test data, adjacency) and the device card it runs on, with
        its overrides applied: part of the configuration's key, so that results are
        recomputed when a file or a card changes. Validates the card on the way.
        Studies whose options name files add their hashes.
        """
        key = repr((config.task, config.network, config.hardware, config.base_dir))
        if key not in self._fingerprints:
            out = {}
            named = [(f"task.{key}", value) for key, value in config.task.files()]
            for name, value in [*named, ("network.adjacency", config.network.adjacency)]:
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

    def bases_factor(self, spec: SweepFile, bases: list[Base]) -> tuple[str, Any] | None:
        """The sweep-file field (and a description of its value) that sets how many
        bases there are, named when the sweep is too large; ``None``: not worth naming."""
        return None

    def describe(self, sweep: Sweep) -> dict[str, Any]:
        """What the sweep's table description holds besides the generic fields (e.g. an
        ablation's card and the non-idealities it could not switch off)."""
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
