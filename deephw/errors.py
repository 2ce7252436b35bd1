"""Exceptions raised by deephw, each carrying a message a user can act on."""

from __future__ import annotations


class DeephwError(Exception):
    """Base class of every error deephw raises on purpose."""


class ConfigError(DeephwError, ValueError):
    """A configuration or device card is invalid.

    The message names the file, the field (dotted path) and the offending value:
    ``SOURCE: FIELD = VALUE: REASON``. An error about the whole file (no field) reads
    ``SOURCE: REASON``; its reason names the offending value where that helps.
    """

    def __init__(self, source: str, field: str, value: object, reason: str) -> None:
        self.source = source
        self.field = field
        self.value = value
        self.reason = reason
        where = f"{source}: " if source else ""
        what = f"{field} = {value!r}: " if field else ""
        super().__init__(f"{where}{what}{reason}")


class DivergenceError(DeephwError, FloatingPointError):
    """The dynamics or the weights stopped being finite during a run."""

    def __init__(self, epoch: int, seed: int, detail: str) -> None:
        self.epoch = epoch
        self.seed = seed
        super().__init__(f"diverged at epoch {epoch}, seed {seed}: {detail}")
