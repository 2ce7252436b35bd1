"""Every user-facing field of run configs and device cards, read from the dataclasses.

Run configs and device cards are validated dataclasses (:mod:`deephw.validation`): each
field carries its type hint, its default and, in ``field(metadata=check(...))``, its
bounds, choices and description (``doc``). This module walks them into flat
:class:`FieldDoc` rows, the material of the reference pages and of the test that no
field goes undocumented.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

UNIT_SUFFIXES = {
    "uS": "µS",
    "pJ": "pJ",
    "nJ": "nJ",
    "ns": "ns",
    "s": "s",
    "fF": "fF",
    "mV": "mV",
    "V": "V",
    "uA": "µA",
}
"""Units that field names carry as their last part (``g_max_uS``, ``tau_s``)."""


@dataclass(frozen=True)
class FieldDoc:
    """One field of a validated dataclass, as the reference shows it.

    Attributes
    ----------
    path
        Dotted path from the top of the file, e.g. ``dynamics.dt`` or ``device.tau_s``.
    type
        The type as users write it (``float``, ``int | null``, ``list of int``).
    default
        The default as YAML text (``null``, ``0.5``), or ``required``.
    bounds
        Range and choices, e.g. ``> 0``, ``0 ≤ x ≤ 1``, ``one of: uniform, normal``.
    doc
        The description from the field's metadata (empty when missing).
    unit
        The unit from the metadata's ``unit`` key or, if absent, the name's suffix.
    owner
        ``Class.field``: where the field is declared (the class that documents it).
    """

    path: str
    type: str
    default: str
    bounds: str
    doc: str
    unit: str
    owner: str

    @property
    def name(self) -> str:
        """The last part of the path."""
        return self.path.rsplit(".", 1)[-1]


def type_text(hint: Any) -> str:
    """A type hint as a user reads it in YAML terms."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " | ".join("null" if a is type(None) else type_text(a) for a in args)
    if origin in (tuple, list):
        return f"list of {type_text(args[0])}" if args else "list"
    if origin is dict or hint is dict:
        return "mapping"
    if dataclasses.is_dataclass(hint):
        return "section"
    if hint is Any:
        return "any"
    if hint is bool:
        return "boolean"
    if hint is str:
        return "string"
    return getattr(hint, "__name__", str(hint))


def yaml_text(value: Any) -> str:
    """A default value as it would be written in YAML."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(yaml_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {yaml_text(v)}" for k, v in value.items()) + "}"
    return str(value)


def bounds_text(meta: Mapping[str, Any]) -> str:
    """The range and choices a field's :func:`~deephw.validation.check` metadata sets."""
    if meta.get("choices") is not None:
        return "one of: " + ", ".join(str(c) for c in meta["choices"])
    low = [(f"{meta[k]} {sym}") for k, sym in (("gt", "<"), ("ge", "≤")) if meta.get(k) is not None]
    high = [f"{sym} {meta[k]}" for k, sym in (("lt", "<"), ("le", "≤")) if meta.get(k) is not None]
    if not low and not high:
        return ""
    return " ".join([*low, "x", *high])


def unit_text(name: str, meta: Mapping[str, Any]) -> str:
    """The unit of a field, for display (``uS`` as ``µS``): the metadata's ``unit`` if
    given, else the name's suffix."""
    if meta.get("unit"):
        return re.sub(r"\bu(S|A)\b", r"µ\1", str(meta["unit"]))
    match = re.search(r"_([A-Za-z]+)$", name)
    return UNIT_SUFFIXES.get(match.group(1), "") if match else ""


def _default(fld: dataclasses.Field) -> tuple[bool, Any]:
    if fld.default is not dataclasses.MISSING:
        return True, fld.default
    if fld.default_factory is not dataclasses.MISSING:
        return True, fld.default_factory()
    return False, None


def _declaring(cls: type, name: str) -> type:
    """The class in ``cls``'s hierarchy whose own annotations declare field ``name``."""
    for klass in cls.__mro__:
        if name in klass.__dict__.get("__annotations__", {}):
            return klass
    return cls


def _section_of(hint: Any) -> type | None:
    """The dataclass a field's hint holds (``X``, ``X | None``, ``X | str``), if any."""
    if dataclasses.is_dataclass(hint):
        return hint
    sections = [a for a in typing.get_args(hint) if dataclasses.is_dataclass(a)]
    return sections[0] if len(sections) == 1 else None


def summary(cls: type) -> str:
    """The first paragraph of a class's docstring, on one line."""
    text = (cls.__doc__ or "").strip().split("\n\n")[0]
    if text.startswith(f"{cls.__name__}("):  # the signature dataclasses put in its place
        return ""
    return " ".join(text.split())


def walk(cls: type, prefix: str = "") -> Iterator[FieldDoc]:
    """The user-facing fields of dataclass ``cls``, sections expanded, in order.

    Fields marked ``check(internal=True)`` are set by the program and left out. A field
    holding a section (a nested dataclass) is listed itself, then its fields.
    """
    hints = typing.get_type_hints(cls)
    for fld in dataclasses.fields(cls):
        meta = fld.metadata
        if not fld.init or meta.get("internal"):
            continue
        path = f"{prefix}.{fld.name}" if prefix else fld.name
        has_default, value = _default(fld)
        section = _section_of(hints[fld.name])
        if section is not None:
            default = "see below" if has_default else "required"
        else:
            default = yaml_text(value) if has_default else "required"
        doc = " ".join(str(meta.get("doc", "")).split())
        if not doc and section is not None:
            doc = summary(section)
        yield FieldDoc(
            path,
            type_text(hints[fld.name]),
            default,
            bounds_text(meta),
            doc,
            unit_text(fld.name, meta),
            f"{_declaring(cls, fld.name).__name__}.{fld.name}",
        )
        if section is not None:
            yield from walk(section, path)


def undocumented(rows: typing.Iterable[FieldDoc]) -> list[str]:
    """Paths of the rows without a description."""
    return [row.path for row in rows if not row.doc]
