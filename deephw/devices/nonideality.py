"""The non-idealities of a card, read from its fields' metadata.

Every card field declares, in ``field(metadata=check(...))``, a ``doc``, a ``unit``, and
when it sets a non-ideality, the ``group`` it belongs to (:data:`GROUPS`) and the
``ideal`` value that switches it off (:func:`deephw.validation.check`). From these this
module lists a card's non-idealities and builds cards with groups switched off, so a
study (e.g. an ablation: each non-ideality off in turn, or alone on ideal devices)
needs no code per card or per device model: a new field with its metadata is enough.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deephw.devices.base import device_model_names, get_device_model
from deephw.devices.cards import Card, aligned, load_card, replace_card
from deephw.validation import NO_IDEAL

GROUPS = (
    "read noise",
    "output noise",
    "programming noise",
    "d2d",
    "c2c",
    "step size",
    "nonlinearity",
    "bounds",
    "drift",
    "capacitor leak",
    "IR drop",
    "DAC/ADC bits",
    "stuck devices",
    "endurance",
)
"""The non-ideality groups a card field may belong to."""

SECTIONS = ("cell", "device", "fast_device", "periphery", "array", "costs")
"""The card's sections, in the order they are listed."""


@dataclass(frozen=True)
class Nonideality:
    """One card field that sets a non-ideality.

    Attributes
    ----------
    group
        The non-ideality (one of :data:`GROUPS`).
    field
        Where the card sets it: ``section.field``.
    value
        The card's value.
    unit
        Its unit (``""``: dimensionless).
    ideal
        The value that switches it off, or :data:`~deephw.validation.NO_IDEAL`.
    doc
        What the field is.
    """

    group: str
    field: str
    value: Any
    unit: str
    ideal: Any
    doc: str

    @property
    def switchable(self) -> bool:
        """Whether a value of this field switches the non-ideality off."""
        return self.ideal is not NO_IDEAL

    @property
    def active(self) -> bool:
        """Whether the card's value differs from the ideal one (always, if none)."""
        return not self.switchable or _plain(self.value) != _plain(self.ideal)


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, (tuple, list)) else value


def card_fields(card: Card) -> list[tuple[str, dataclasses.Field, Any]]:
    """``(section.field, field, value)`` of every field of the card's sections that exist
    (sub-sections such as a device's ``costs`` included, e.g. ``device.costs.set_pJ``)."""
    out = []
    for section in SECTIONS:
        spec = getattr(card, section)
        if spec is not None:
            out += _fields(spec, section)
    return out


def _fields(spec: Any, prefix: str) -> list[tuple[str, dataclasses.Field, Any]]:
    out = []
    for fld in dataclasses.fields(spec):
        value = getattr(spec, fld.name)
        name = f"{prefix}.{fld.name}"
        if dataclasses.is_dataclass(value):
            out += _fields(value, name)
        else:
            out.append((name, fld, value))
    return out


def nonidealities(card: Card | str | Path, active_only: bool = False) -> list[Nonideality]:
    """The card's fields that set a non-ideality, grouped in :data:`GROUPS` order.

    ``active_only``: only those whose value differs from the ideal one (fields with no
    ideal value, e.g. bounds and step sizes, are always active).
    """
    found = []
    for name, fld, value in card_fields(load_card(card)):
        meta = fld.metadata
        group = meta.get("group", "")
        if not group:
            continue
        ideal = meta.get("ideal", NO_IDEAL)
        if callable(ideal):
            ideal = ideal(value)
        row = Nonideality(group, name, value, meta.get("unit") or "", ideal, meta["doc"])
        if row.active or not active_only:
            found.append(row)
    order = {group: k for k, group in enumerate(GROUPS)}
    return sorted(found, key=lambda row: order.get(row.group, len(order)))


def groups(card: Card | str | Path) -> list[str]:
    """The non-idealities a card has and that its fields can switch off: the groups with
    at least one switchable field away from its ideal value, in :data:`GROUPS` order."""
    found = {row.group for row in nonidealities(card) if row.switchable and row.active}
    return [group for group in GROUPS if group in found]


def switched_off(card: Card | str | Path, off: set[str] | list[str], name: str = "") -> Card:
    """A validated copy of ``card`` with every switchable field of the groups ``off`` at
    its ideal value (fields with no ideal value are kept)."""
    card = load_card(card)
    unknown = set(off) - set(GROUPS)
    if unknown:
        raise ValueError(f"unknown non-ideality groups {sorted(unknown)}; known: {list(GROUPS)}")
    changes: dict[str, dict] = {}
    for row in nonidealities(card):
        if row.group in off and row.switchable:
            section, _, rest = row.field.partition(".")
            _set(
                changes.setdefault(section, {}), rest.split("."), row.ideal, getattr(card, section)
            )
    label = "_".join(sorted(g.replace(" ", "-").replace("/", "-") for g in off))
    return replace_card(card, changes, name=name or f"{card.name}_without_{label}")


def _set(changes: dict, path: list[str], value: Any, spec: Any) -> None:
    """``changes[path] = value``, a sub-section given whole (it replaces its section)."""
    head = path[0]
    if len(path) == 1:
        changes[head] = _plain(value)
        return
    inner = changes.setdefault(head, dataclasses.asdict(getattr(spec, head)))
    _set(inner, path[1:], value, getattr(spec, head))


def without(card: Card | str | Path, group: str) -> Card:
    """``card`` with the non-ideality ``group`` switched off, the others kept."""
    return switched_off(card, {group})


def only(card: Card | str | Path, group: str) -> Card:
    """``card`` with every switchable non-ideality off except ``group``: that one on top
    of ideal devices (bounds and step sizes, which no value switches off, stay)."""
    card = load_card(card)
    others = set(GROUPS) - {group}
    label = group.replace(" ", "-").replace("/", "-")
    return switched_off(card, others, name=f"{card.name}_only_{label}")


def table(card: Card | str | Path) -> str:
    """The card's non-idealities as aligned text: group, field, value, unit, ideal."""
    rows = [("non-ideality", "card field", "value", "unit", "off at")]
    for row in nonidealities(card):
        ideal = "-" if not row.switchable else _show(row.ideal)
        rows.append((row.group, row.field, _show(row.value), row.unit, ideal))
    return aligned(rows)


NOISE_WORDS = ("noise", "dtod", "c2c", "drift", "stuck", "leak", "tau", "wire", "ohm")
"""Words in a field's name that make it noise-like: such a field must name its group."""


def section_types() -> list[type]:
    """Every dataclass a card is made of: the card, its sections and sub-sections, and
    the parameters of every registered device model."""
    found: list[type] = []
    todo: list[type] = [Card, *(get_device_model(n).params_type for n in device_model_names())]
    while todo:
        cls = todo.pop(0)
        if cls in found:
            continue
        found.append(cls)
        for hint in typing.get_type_hints(cls).values():
            todo += [t for t in (hint, *typing.get_args(hint)) if dataclasses.is_dataclass(t)]
    return found


def field_problems(cls: type) -> list[str]:
    """What the metadata of ``cls``'s fields lacks: a ``doc`` and a ``unit`` for every
    field; a known ``group`` for every noise-like one (:data:`NOISE_WORDS`); an ideal
    value only with a group."""
    found = []
    for fld in dataclasses.fields(cls):
        meta, where = fld.metadata, f"{cls.__name__}.{fld.name}"
        if not meta.get("doc"):
            found.append(f"{where}: no doc")
        if meta.get("unit") is None:
            found.append(f"{where}: no unit (give unit='' when it has none)")
        group = meta.get("group", "")
        if group and group not in GROUPS:
            found.append(f"{where}: unknown group {group!r}")
        if not group and any(word in fld.name for word in NOISE_WORDS):
            found.append(f"{where}: noise-like but in no non-ideality group")
        if not group and meta.get("ideal", NO_IDEAL) is not NO_IDEAL:
            found.append(f"{where}: an ideal value but no group")
    return found


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(f"{v:g}" for v in value) + "]"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
