"""Exceptions raised by deephw, each carrying a message a user can act on."""

from __future__ import annotations

QUOTE_LIMIT = 200
"""The most characters of a value that an error message quotes."""


def quote(value: object, limit: int = QUOTE_LIMIT) -> str:
    """``repr(value)`` cut to about ``limit`` characters, for error messages.

    A value read from a hostile file can be huge; a message quotes its start and says
    how long it was. Containers are summarised before ``repr`` walks them, so quoting
    never costs more than a bounded amount of work.
    """
    if isinstance(value, (list, tuple, dict, set)) and len(value) > limit:
        kind = type(value).__name__
        return f"<{kind} of {len(value)} items>"
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text)} characters)"


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
        what = f"{field} = {quote(value)}: " if field else ""
        super().__init__(f"{where}{what}{reason}")


class DivergenceError(DeephwError, FloatingPointError):
    """The dynamics or the weights stopped being finite during a run."""

    def __init__(self, epoch: int, seed: int, detail: str) -> None:
        self.epoch = epoch
        self.seed = seed
        super().__init__(f"diverged at epoch {epoch}, seed {seed}: {detail}")


class UnknownNameError(DeephwError, KeyError):
    """A name looked up in a registry (engine, rule, scheme, card, ...) is not known.

    A ``KeyError`` too, for callers that look names up like dictionary keys; its message
    is printed as is (not quoted, as ``KeyError`` would).
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""
