"""The run-config and device-card schemas, and a shipped card's values, as field rows.

Everything comes from the registries and the validated dataclasses, so a new config
field, scheme, rule option, device model or card field appears here by itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from deephw.config import RunConfig
from deephw.devices import Card, get_device_model, load_card
from deephw.devices.base import DEVICE_MODELS
from deephw.docs.fields import FieldDoc, summary, walk, yaml_text
from deephw.rules.base import RULES
from deephw.schemes import SCHEMES


@dataclass(frozen=True)
class Table:
    """A titled group of field rows (a config section, a scheme's options, ...)."""

    title: str
    text: str
    rows: list[FieldDoc]


def config_tables() -> list[Table]:
    """Every field of a run config: its sections, then each scheme's and rule's options."""
    tables = [Table("Sections", summary(RunConfig), [])]
    for row in walk(RunConfig):
        if "." not in row.path:
            tables[0].rows.append(row)
            if row.type == "section" or "section" in row.type:
                tables.append(Table(row.path, row.doc, []))
        else:
            tables[-1].rows.append(row)
    for name in SCHEMES.names():
        options = SCHEMES.get(name).Options
        tables.append(
            Table(f"hardware.scheme: {name}", summary(options), list(walk(options, "scheme")))
        )
    for name in RULES.names():
        options = RULES.get(name).Options
        rows = list(walk(options, "options"))
        tables.append(Table(f"learning.options: rule {name}", summary(options), rows))
    return tables


CARD_SECTIONS = ("cell", "periphery")
"""Card sections whose fields do not depend on the device model."""


def card_schema_tables() -> list[Table]:
    """Every field a card can hold: top-level, cell, periphery, and each device model's."""
    top = [row for row in walk(Card) if "." not in row.path]
    tables = [Table("Top level", summary(Card), top)]
    for row in walk(Card):
        section = row.path.split(".")[0]
        if section in CARD_SECTIONS and "." in row.path:
            if tables[-1].title != section:
                tables.append(Table(section, "", []))
            tables[-1].rows.append(row)
    for name in DEVICE_MODELS.names():
        model = get_device_model(name)
        text = summary(model)
        tables.append(Table(f"device: model {name}", text, list(walk(model.params_type, "device"))))
    return tables


def card_rows(card: Card | str) -> list[tuple[FieldDoc, str]]:
    """Every field of a shipped or loaded card with its value, as YAML text."""
    card = load_card(card)
    found = []
    for row in walk(Card):
        section = row.path.split(".")[0]
        params = getattr(card, section)
        if section in ("device", "fast_device") and "." in row.path:
            continue  # their fields depend on the model: listed below
        if row.type == "section" or "section" in row.type:
            if section in ("device", "fast_device") and params is not None:
                found.append((row, f"model {params.model}"))
                found += [
                    (sub, "" if sub.type == "section" else _value(card, sub.path))
                    for sub in walk(type(params), section)
                    if sub.name != "model"
                ]
            elif params is not None:
                found.append((row, ""))
            continue
        found.append((row, _value(card, row.path)))
    return found


def _value(card: Card, path: str) -> str:
    value: object = card
    for part in path.split("."):
        value = getattr(value, part)
    return yaml_text(value)
