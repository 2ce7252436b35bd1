"""Load plain YAML data into frozen dataclasses, validating every field.

One mechanism serves run configs and device cards: a dataclass declares its fields with
type hints, and range or choice constraints in ``field(metadata=check(...))``. Unknown
keys, wrong types and out-of-range values raise :class:`~deephw.errors.ConfigError`
naming the file, the dotted field path and the value.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from deephw.errors import ConfigError

T = TypeVar("T")


class FieldError(ValueError):
    """Raised by a dataclass's ``__post_init__`` to reject one of its fields.

    :func:`build` turns it into a :class:`ConfigError` with the file and the full path.
    """

    def __init__(self, field: str, value: Any, reason: str) -> None:
        self.field, self.value, self.reason = field, value, reason
        super().__init__(f"{field} = {value!r}: {reason}")


def check(
    *,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
    choices: tuple[Any, ...] | None = None,
    doc: str = "",
) -> dict[str, Any]:
    """Constraints of a dataclass field, for ``dataclasses.field(metadata=...)``."""
    return {"gt": gt, "ge": ge, "lt": lt, "le": le, "choices": choices, "doc": doc}


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping with ``yaml.safe_load``; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(str(path), "", str(path), "file does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), "", str(path), f"not valid YAML ({exc})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), "", type(data).__name__, "top level must be a mapping")
    return data


def build(cls: type[T], data: Any, source: str = "", prefix: str = "") -> T:
    """Build dataclass ``cls`` from a mapping, validating names, types and ranges.

    Parameters
    ----------
    cls
        A (frozen) dataclass type whose fields carry type hints.
    data
        The mapping read from YAML (or given in Python). Missing keys take defaults.
    source
        The file name quoted in errors.
    prefix
        The dotted path of ``data`` inside the file, quoted in errors.
    """
    if isinstance(data, cls):
        return data
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(source, prefix or "<top>", data, "must be a mapping")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [key for key in data if not isinstance(key, str) or key not in fields]
    if unknown:
        key = unknown[0]
        raise ConfigError(
            source,
            _join(prefix, str(key)),
            data[key],
            f"unknown key (known: {', '.join(sorted(fields))})",
        )
    values = {}
    for name, fld in fields.items():
        path = _join(prefix, name)
        if name not in data:
            no_default = fld.default is dataclasses.MISSING
            if no_default and fld.default_factory is dataclasses.MISSING:
                raise ConfigError(source, path, None, "required field is missing")
            continue
        value = _coerce(hints[name], data[name], source, path)
        _check_range(fld.metadata, value, source, path)
        values[name] = value
    try:
        return cls(**values)
    except FieldError as exc:
        raise ConfigError(source, _join(prefix, exc.field), exc.value, exc.reason) from None


def as_dict(obj: Any) -> Any:
    """A dataclass tree as plain YAML-safe data (tuples become lists)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: as_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [as_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: as_dict(v) for k, v in obj.items()}
    return obj


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _coerce(hint: Any, value: Any, source: str, path: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        others = [a for a in args if a is not type(None)]
        sections = [a for a in others if dataclasses.is_dataclass(a)]
        if isinstance(value, dict) and len(sections) == 1:
            return build(sections[0], value, source, path)
        errors = []
        for arg in others:
            try:
                return _coerce(arg, value, source, path)
            except ConfigError as exc:
                errors.append(exc.reason)
        raise ConfigError(source, path, value, " or ".join(errors))
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(source, path, value, f"must be one of {list(args)}")
        return value
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(source, path, value, "must be a list")
        item = args[0] if args else Any
        return tuple(_coerce(item, v, source, f"{path}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(source, path, value, "must be a mapping")
        return dict(value)
    if dataclasses.is_dataclass(hint):
        return build(hint, value, source, path)
    if hint is Any:
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(source, path, value, "must be true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(source, path, value, "must be an integer")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(source, path, value, "must be a number")
        if not math.isfinite(value):
            raise ConfigError(source, path, value, "must be finite")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(source, path, value, "must be a string")
        return value
    raise TypeError(f"unsupported field type {hint!r} at {path}")


def _check_range(meta: typing.Mapping[str, Any], value: Any, source: str, path: str) -> None:
    if value is None or not meta:
        return
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        raise ConfigError(source, path, value, f"must be one of {list(choices)}")
    bounds = [
        ("gt", lambda v, b: v > b, "> "),
        ("ge", lambda v, b: v >= b, ">= "),
        ("lt", lambda v, b: v < b, "< "),
        ("le", lambda v, b: v <= b, "<= "),
    ]
    for key, ok, text in bounds:
        bound = meta.get(key)
        if bound is not None and isinstance(value, (int, float)) and not ok(value, bound):
            raise ConfigError(source, path, value, f"must be {text}{bound}")
