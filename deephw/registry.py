"""Registries of named implementations: engines, device models, unit cells, schemes, studies.

Each swappable part has one :class:`Registry`; an implementation registers itself with a
class decorator, and strings are resolved to classes only at the edges (config loading,
the command line).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from deephw.errors import UnknownNameError, quote

T = TypeVar("T", bound=type)


class Registry(Generic[T]):
    """Classes registered by name for one kind of part.

    Parameters
    ----------
    kind
        What is registered, for error messages (e.g. ``"engine"``).
    attribute
        The class attribute that receives the registered name (``name`` or ``kind``).
    """

    def __init__(self, kind: str, attribute: str = "name") -> None:
        self.kind = kind
        self.attribute = attribute
        self._classes: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Class decorator registering the class under ``name``."""

        def decorate(cls: T) -> T:
            self._classes[name] = cls
            setattr(cls, self.attribute, name)
            return cls

        return decorate

    def get(self, name: str) -> T:
        """The class registered as ``name``; :class:`~deephw.errors.UnknownNameError` (a
        ``KeyError``) naming the known ones otherwise."""
        if name not in self._classes:
            known = ", ".join(self.names())
            raise UnknownNameError(f"unknown {self.kind} {quote(name)} (known: {known})")
        return self._classes[name]

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._classes)
