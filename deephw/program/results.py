"""What verifying a program found, as typed records.

:class:`VerifyReport` is what :func:`~deephw.program.verify.verify_chips` returns; its
:meth:`~VerifyReport.to_dict` is the content of ``report.json``, field for field.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Iterations:
    """Verify reads per written device: mean and largest."""

    mean: float
    max: int


@dataclass(frozen=True)
class PulseCounts:
    """SET and RESET pulses of a group over every chip, and their mean per device."""

    total: int
    set: int
    reset: int
    per_device: float


@dataclass(frozen=True)
class GroupResult:
    """How programming one device group went, over every chip.

    ``failed`` counts written devices whose last verify read stayed outside tolerance;
    ``failed_stuck`` those of them that are stuck. Devices held at reset are not
    verified. ``residual_uS``: mean, standard deviation and quantiles of ``|residual|``
    (true conductance minus target, µS).
    """

    group: str
    roles: list[str]
    tiles: list[int]
    devices: int
    chips: int
    tolerance_uS: float
    max_iterations: int
    verified: int
    held_at_reset: int
    within_tolerance: int
    within_fraction: float | None
    failed: int
    failed_stuck: int
    stuck: int
    residual_uS: dict[str, float]
    iterations: Iterations
    pulses: PulseCounts


@dataclass(frozen=True)
class DriftScore:
    """One chip's scores at one time after programming, without and with global drift
    compensation, and the median of its tiles' compensation gains (1 if none)."""

    time: str
    time_s: float
    chip_seed: int
    mse: float
    accuracy: float
    mse_gdc: float
    accuracy_gdc: float
    gdc_gain_median: float


@dataclass(frozen=True)
class Totals:
    """Sums over groups: ``devices`` per chip, the other counts over every chip; the
    same counts chip by chip (``*_per_chip``, in the order of the chip seeds); and the
    energy and serial time of programming per chip."""

    devices: int
    verified: int
    within_tolerance: int
    failed: int
    failed_stuck: int
    stuck: int
    chips: int
    pulses: int
    verified_per_chip: list[int]
    within_tolerance_per_chip: list[int]
    failed_per_chip: list[int]
    failed_stuck_per_chip: list[int]
    stuck_per_chip: list[int]
    pulses_per_chip: list[int]
    energy_pJ_per_chip: list[float]  # noqa: N815 (the report.json key)
    serial_time_ns_per_chip: list[float]


@dataclass(frozen=True)
class Scores:
    """A network's free-phase MSE and accuracy."""

    mse: float
    accuracy: float


@dataclass(frozen=True)
class VerifyReport:
    """A program executed on simulated chips: per group, in total, and over time.

    Attributes
    ----------
    program
        Where the program lies (``(in memory)`` for one never written).
    network_seed
        The run's seed whose network the program holds.
    card, card_check
        The card the chips were built from, and how it was chosen.
    chip_seeds
        The chips' seeds, in the order of every per-chip list.
    engine
        The engine that evaluated the network.
    trained
        The scores of the program's target weights.
    totals, groups, drift
        Programming totals, per-group results, and per time and chip scores (time
        after time, chip after chip).
    """

    program: str
    network_seed: int
    card: str
    card_check: str
    chip_seeds: list[int]
    engine: str
    trained: Scores
    totals: Totals
    groups: list[GroupResult]
    drift: list[DriftScore]

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-safe data: the content of ``report.json``."""
        return asdict(self)
