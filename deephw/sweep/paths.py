"""Dotted paths into nested configuration data.

A path such as ``dynamics.beta`` or ``hardware.card_overrides.read_noise_uS`` names one
value in the plain data of a run config (nested mappings, as read from YAML). Paths
know nothing of the config's sections: any mapping can be walked, and missing mappings
along the way are created, so a path reaches every field the config's data can hold.
Whether the path names a real field is decided by validating the result.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from deephw.errors import quote


class PathError(ValueError):
    """A dotted path that cannot be followed through the data (or is malformed)."""


def split(path: str) -> tuple[str, ...]:
    """The keys of a dotted path; ``"a.b.c"`` gives ``("a", "b", "c")``.

    Raises
    ------
    PathError
        If ``path`` is not a string of non-empty names separated by dots.
    """
    if not isinstance(path, str) or not path:
        raise PathError(f"{quote(path)} is not a dotted path (e.g. dynamics.beta)")
    keys = tuple(path.split("."))
    if any(not key.strip() or key != key.strip() for key in keys):
        raise PathError(f"{quote(path)} is not a dotted path (e.g. dynamics.beta)")
    return keys


def get(data: Mapping[str, Any], path: str) -> Any:
    """The value at ``path`` in nested mappings ``data``.

    Raises
    ------
    KeyError
        If a key along the path is missing.
    PathError
        If the path runs through a value that is not a mapping.
    """
    node: Any = data
    walked: list[str] = []
    for key in split(path):
        if not isinstance(node, Mapping):
            raise PathError(f"{'.'.join(walked)} is {quote(node)}, not a section")
        node = node[key]
        walked.append(key)
    return node


def has(data: Mapping[str, Any], path: str) -> bool:
    """Whether ``path`` names a value in ``data``."""
    try:
        get(data, path)
    except (KeyError, PathError):
        return False
    return True


def assign(data: dict[str, Any], path: str, value: Any) -> None:
    """Set the value at ``path`` in ``data`` in place, creating missing sections.

    A section that is missing or ``None`` (an optional section left out) becomes an
    empty mapping; the value is deep-copied so that later changes cannot leak between
    configurations.

    Raises
    ------
    PathError
        If the path runs through a value that is not a mapping (``dynamics.beta.x``).
    """
    keys = split(path)
    node: Any = data
    for depth, key in enumerate(keys[:-1]):
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        elif not isinstance(child, dict):
            where = ".".join(keys[: depth + 1])
            raise PathError(f"{where} is {quote(child)}, not a section")
        node = child
    node[keys[-1]] = copy.deepcopy(value)


def with_values(data: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``data`` with every ``path: value`` of ``values`` assigned in order."""
    out = copy.deepcopy(dict(data))
    for path, value in values.items():
        assign(out, path, value)
    return out


def overlaps(first: str, second: str) -> bool:
    """Whether one path is the other or lies inside it (``a.b`` and ``a.b.c``)."""
    a, b = split(first), split(second)
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter]
