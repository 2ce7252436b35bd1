"""Estimates of the memory and work a job needs, checked before it starts.

A config, sweep or program may come from someone else, and one field set to ``10**12``
would otherwise make deephw allocate until the machine swaps, or compute for years. The
commands estimate what a job needs from its sizes and call :func:`enforce` before any
work: a job that needs more memory than the machine has is refused always; a job whose
work is past :data:`WORK_LIMIT_OPS` is refused unless the user passes ``--force``.
"""

from __future__ import annotations

import dataclasses
import os

from deephw.atomic import format_bytes
from deephw.errors import DeephwError, quote

WORK_LIMIT_OPS = 1e14
"""Floating-point operations above which a job needs ``--force`` (about a day here)."""

OPS_PER_SECOND = 1e9
"""A rough rate of this code's array work, used only to put estimates in hours."""

MEMORY_FRACTION = 0.8
"""The fraction of the machine's physical memory a job may plan to use."""


class BudgetError(DeephwError):
    """A job was refused before it started: it needs more memory or work than allowed."""


@dataclasses.dataclass(frozen=True)
class Estimate:
    """What a job needs: peak memory in bytes and floating-point operations."""

    memory_bytes: float = 0.0
    operations: float = 0.0

    def __add__(self, other: Estimate) -> Estimate:
        return Estimate(
            max(self.memory_bytes, other.memory_bytes), self.operations + other.operations
        )


def physical_memory_bytes() -> int:
    """The machine's physical memory, in bytes (a large number where it cannot be read)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 2**50


def format_duration(seconds: float) -> str:
    """A rough duration: ``40 s``, ``3.5 hours``, ``2.1e+04 years``."""
    for unit, size in (("years", 3.15e7), ("days", 86400.0), ("hours", 3600.0), ("min", 60.0)):
        if seconds >= 2 * size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.0f} s"


def enforce(
    estimate: Estimate, *, source: str, field: str, value: object, force: bool = False
) -> None:
    """Refuse a job whose estimate does not fit, in one line naming ``field``.

    Parameters
    ----------
    estimate
        What the job needs.
    source
        The file (or command-line option) the size came from.
    field
        The dotted field (or option) that drives the estimate, and ``value`` its value.
    force
        Allow work past :data:`WORK_LIMIT_OPS`; never allows more memory than there is.
    """
    where = f"{source}: " if source else ""
    what = f"{where}{field} = {quote(value)}"
    limit = MEMORY_FRACTION * physical_memory_bytes()
    if estimate.memory_bytes > limit:
        raise BudgetError(
            f"{what}: needs about {format_bytes(estimate.memory_bytes)} of memory, "
            f"more than this machine can give ({format_bytes(limit)})"
        )
    if estimate.operations > WORK_LIMIT_OPS and not force:
        hours = format_duration(estimate.operations / OPS_PER_SECOND)
        raise BudgetError(
            f"{what}: needs about {estimate.operations:.2g} operations (roughly {hours} "
            f"here), past the limit of {WORK_LIMIT_OPS:.0e}; pass --force to run it anyway"
        )
