"""Load plain YAML data into frozen dataclasses, validating every field.

One mechanism serves run configs and device cards: a dataclass declares its fields with
type hints, and range or choice constraints in ``field(metadata=check(...))``. Unknown
keys, wrong types and out-of-range values raise :class:`~deephw.errors.ConfigError`
naming the file, the dotted field path and the value. :func:`read_yaml` reads the files
(safely, floats as in YAML 1.2, duplicate keys rejected); its errors are one line too.
"""

from __future__ import annotations

import dataclasses
import math
import re
import stat
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from deephw.errors import QUOTE_LIMIT, ConfigError, quote

T = TypeVar("T")


class FieldError(ValueError):
    """Raised by a dataclass's ``__post_init__`` to reject one of its fields.

    :func:`build` turns it into a :class:`ConfigError` with the file and the full path.
    """

    def __init__(self, field: str, value: Any, reason: str) -> None:
        self.field, self.value, self.reason = field, value, reason
        super().__init__(f"{field} = {quote(value)}: {reason}")


NO_IDEAL = "<no ideal value>"
"""The ``ideal`` of a field that no value of its own switches off (bounds, step sizes)."""


def zeros_like(value: Any) -> Any:
    """The ``ideal`` of a list field whose length the card sets: as many zeros."""
    return [0.0] * len(value)


def check(
    *,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
    choices: tuple[Any, ...] | None = None,
    internal: bool = False,
    doc: str = "",
    unit: str | None = None,
    group: str = "",
    ideal: Any = NO_IDEAL,
) -> dict[str, Any]:
    """Constraints and description of a dataclass field, for ``field(metadata=...)``.

    ``internal=True`` marks a field that the program sets, never the user: errors do not
    list it among the known keys, and :func:`build` rejects it in user data.

    The rest describes the field (see :mod:`deephw.devices.nonideality`): ``doc`` what
    it is, ``unit`` its unit (``"uS"``, ``"relative to the step"``; ``""`` if none),
    ``group`` the non-ideality it sets (``"read noise"``, ``"d2d"``, ...; empty if none),
    ``ideal`` the value that switches that off (``None``: YAML ``null``; :data:`NO_IDEAL`
    if no value does; a function of the card's value, e.g. :func:`zeros_like`).
    """
    return {
        "gt": gt,
        "ge": ge,
        "lt": lt,
        "le": le,
        "choices": choices,
        "internal": internal,
        "doc": doc,
        "unit": unit,
        "group": group,
        "ideal": ideal,
    }


_FLOAT_TAG = "tag:yaml.org,2002:float"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_YAML12_FLOAT = re.compile(
    r"""^(?:
        (?=[^eE]*[.eE])  # a decimal point or an exponent: a plain 8 stays an integer
        [-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?
      | [-+]?\.(?:inf|Inf|INF)
      | \.(?:nan|NaN|NAN)
    )$""",
    re.X,
)
"""YAML 1.2 floats, e.g. ``1e-3``, ``1e6`` and ``1.0e5``, which YAML 1.1 reads as strings."""


class _Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that also reads YAML 1.2 floats (see :data:`_YAML12_FLOAT`)."""

    yaml_implicit_resolvers = {
        first: list(resolvers)
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


# Appended after the integer resolvers: a string that is an integer stays an integer.
_Loader.add_implicit_resolver(_FLOAT_TAG, _YAML12_FLOAT, list("-+0123456789."))


MAX_YAML_NODES = 100_000
"""The most nodes a YAML document may hold once its aliases are expanded.

Aliases share structure, so a few nested anchors (an "alias bomb") describe a document
of billions of nodes; anything that walks or prints it as plain data would hang. Real
configs, cards, sweeps and programs hold a few hundred nodes.
"""


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping safely; every error is one line that names the file.

    Floats are read as in YAML 1.2 (``1e-3`` is a number, not a string), a key given
    twice in one mapping is an error rather than "the last one wins", and a document
    whose aliases expand past :data:`MAX_YAML_NODES` nodes is refused.
    """
    path = Path(path)
    source = str(path)
    problem = file_problem(path)
    if problem is not None:
        raise ConfigError(source, "", source, problem.replace("a file", "a YAML file"))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(source, "", source, f"cannot read the file ({exc})") from None
    return parse_yaml(text, source)


def file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be read as a file (``"file does not exist"``, ...), or ``None``.

    Unlike ``Path.is_file``, never raises: a name too long for the file system, or a
    folder that cannot be searched, is a reason like any other.
    """
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return "file does not exist"
    except OSError as exc:
        return f"cannot read the file ({exc.strerror})"
    if stat.S_ISDIR(mode):
        return "is a directory, not a file"
    if not stat.S_ISREG(mode):
        return "is not a regular file"
    return None


def parse_yaml(text: str, source: str) -> dict[str, Any]:
    """Parse YAML text as :func:`read_yaml` reads a file; ``source`` names it in errors."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_expanded_size(node, source)
            _reject_duplicate_keys(node, source)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        raise ConfigError(source, "", source, _yaml_problem(exc)) from None
    except yaml.YAMLError as exc:
        reason = " ".join(str(exc).split())
        raise ConfigError(source, "", source, f"not valid YAML: {reason}") from None
    except RecursionError:
        raise ConfigError(source, "", source, "not valid YAML: nested too deeply") from None
    finally:
        loader.dispose()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        reason = f"the top level must be a mapping of keys to values, not a {_kind(data)}"
        raise ConfigError(source, "", data, reason)
    return data


def _check_expanded_size(root: yaml.Node, source: str) -> None:
    """Raise ConfigError if ``root`` expands to more than :data:`MAX_YAML_NODES` nodes.

    Each distinct node is sized once (aliases are shared nodes), so the check costs time
    in proportion to the text, whatever the expansion.
    """
    size: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:  # post-order without recursion: children are sized before their parent
        node, children_done = stack.pop()
        if children_done:
            total = 1 + sum(size[id(child)] for child in _children(node))
            size[id(node)] = min(total, MAX_YAML_NODES + 1)
        elif id(node) not in size:
            size[id(node)] = -1  # entered; a cycle back to it is not valid YAML data
            stack.append((node, True))
            stack.extend((child, False) for child in _children(node) if id(child) not in size)
    if size[id(root)] > MAX_YAML_NODES:
        reason = (
            f"its aliases expand to more than {MAX_YAML_NODES} values (an alias bomb?); refused"
        )
        raise ConfigError(source, "", source, reason)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _yaml_problem(exc: yaml.MarkedYAMLError) -> str:
    """One line: where the parser stopped, and why."""
    mark = exc.problem_mark or exc.context_mark
    problem = " ".join(str(exc.problem or exc.context or "syntax error").split())
    if mark is None:
        return f"not valid YAML: {problem}"
    return f"not valid YAML at line {mark.line + 1}, column {mark.column + 1}: {problem}"


def _reject_duplicate_keys(root: yaml.Node, source: str) -> None:
    """Raise ConfigError if a mapping anywhere under ``root`` gives one key twice."""
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, str]] = [(root, "")]
    while stack:
        node, where = stack.pop()
        if id(node) in seen:  # an alias: already checked
            continue
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            stack.extend((item, f"{where}[{k}]") for k, item in enumerate(node.value))
        elif isinstance(node, yaml.MappingNode):
            first_line: dict[tuple[str, str], int] = {}
            for key, value in node.value:
                if not isinstance(key, yaml.ScalarNode) or key.tag == _MERGE_TAG:
                    stack.append((value, where))
                    continue
                name = _join(where, key.value)
                line = key.start_mark.line + 1
                if (key.tag, key.value) in first_line:
                    first = first_line[key.tag, key.value]
                    reason = (
                        f"duplicate key {quote(name)} at line {line} (first given at line {first})"
                    )
                    raise ConfigError(source, "", key.value, reason)
                first_line[key.tag, key.value] = line
                stack.append((value, name))


def _kind(value: Any) -> str:
    names = {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}
    return names.get(type(value), type(value).__name__)


def build(
    cls: type[T],
    data: Any,
    source: str = "",
    prefix: str = "",
    *,
    internal: typing.Mapping[str, Any] | None = None,
) -> T:
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
    internal
        Values of the fields marked ``check(internal=True)``, set by the program (a
        dotted name such as ``"section.field"`` reaches into a section). When given,
        even empty, ``data`` is user input, a file: an internal field in it is an
        unknown key. When ``None``, ``data`` is trusted Python data that may carry
        internal fields itself (e.g. :func:`as_dict` output being rebuilt). Internal
        fields are never listed among the known keys.
    """
    if isinstance(data, cls):
        return data
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(source, prefix or "<top>", data, "must be a mapping")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hidden = {name for name, fld in fields.items() if fld.metadata.get("internal")}
    user_input = internal is not None
    unknown = [
        key
        for key in data
        if not isinstance(key, str) or key not in fields or (user_input and key in hidden)
    ]
    if unknown:
        key = unknown[0]
        known = ", ".join(sorted(set(fields) - hidden))
        raise ConfigError(
            source,
            _join(prefix, str(key) if len(str(key)) <= QUOTE_LIMIT else quote(key)),
            data[key],
            f"unknown key (known: {known})" if known else "unknown key: there are no options here",
        )
    if internal:
        data = _with_internal(cls, data, internal, hidden)
    values = {}
    for name, fld in fields.items():
        path = _join(prefix, name)
        if name not in data:
            no_default = fld.default is dataclasses.MISSING
            if no_default and fld.default_factory is dataclasses.MISSING:
                raise ConfigError(source, path, None, "required field is missing")
            continue
        inner = _section(internal, name)
        value = _coerce(hints[name], data[name], source, path, inner)
        _check_range(fld.metadata, value, source, path)
        values[name] = value
    try:
        return cls(**values)
    except FieldError as exc:
        raise ConfigError(source, _join(prefix, exc.field), exc.value, exc.reason) from None


def _with_internal(
    cls: type, data: dict, internal: typing.Mapping[str, Any], hidden: set[str]
) -> dict:
    """``data`` with the program's values of internal fields (and the sections they reach)."""
    data = dict(data)
    for key, value in internal.items():
        name, dot, _ = key.partition(".")
        if dot:
            data.setdefault(name, {})
        elif name in hidden:
            data[name] = value
        else:
            raise TypeError(f"{cls.__name__}.{name} is not a field marked internal")
    return data


def _section(internal: typing.Mapping[str, Any] | None, name: str) -> dict[str, Any] | None:
    """The entries of ``internal`` under section ``name``, with the section's name cut off."""
    if internal is None:
        return None
    head = f"{name}."
    return {key[len(head) :]: v for key, v in internal.items() if key.startswith(head)}


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


def _coerce(
    hint: Any,
    value: Any,
    source: str,
    path: str,
    internal: typing.Mapping[str, Any] | None = None,
) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        others = [a for a in args if a is not type(None)]
        sections = [a for a in others if dataclasses.is_dataclass(a)]
        if isinstance(value, dict) and len(sections) == 1:
            return build(sections[0], value, source, path, internal=internal)
        errors = []
        for arg in others:
            try:
                return _coerce(arg, value, source, path, internal)
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
        return tuple(
            _coerce(item, v, source, f"{path}[{i}]", internal) for i, v in enumerate(value)
        )
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(source, path, value, "must be a mapping")
        return dict(value)
    if dataclasses.is_dataclass(hint):
        return build(hint, value, source, path, internal=internal)
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
