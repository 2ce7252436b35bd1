"""The generated reference pages (reStructuredText): command line, config, device cards.

:func:`write_reference` writes them into a folder of the documentation source at build
time; nothing generated is committed. Text from docstrings and ``check(doc=...)`` is
reStructuredText already; values and card sources are escaped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from deephw import atomic
from deephw.devices import list_cards, load_card
from deephw.docs.commands import Command, commands
from deephw.docs.fields import FieldDoc
from deephw.docs.schema import Table, card_rows, card_schema_tables, config_tables

_SPECIAL = re.compile(r"([\\*`|_])")


def escape(text: str) -> str:
    """Plain text made safe for reStructuredText (no markup, one line)."""
    return _SPECIAL.sub(r"\\\1", " ".join(text.split()))


def literal(text: str) -> str:
    """``text`` as inline literal, or empty."""
    text = " ".join(str(text).split())
    return f"``{text}``" if text else ""


def heading(text: str, char: str, label: str | None = None) -> list[str]:
    """A section title (with an optional reference label before it)."""
    head = [f".. _{label}:", ""] if label else []
    return [*head, text, char * len(text), ""]


def list_table(header: Sequence[str], rows: Iterable[Sequence[str]], widths: str) -> list[str]:
    """A ``list-table`` directive."""
    lines = [".. list-table::", "   :header-rows: 1", f"   :widths: {widths}", ""]
    for row in [header, *rows]:
        first, *rest = row
        lines.append(f"   * - {first}".rstrip())
        lines += [f"     - {cell}".rstrip() for cell in rest]
    return [*lines, ""]


def label(text: str) -> str:
    """A reference label made from a title."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


# -- the command line ---------------------------------------------------------------
def cli_page(found: Sequence[Command] | None = None) -> str:
    """The command-line reference: every subcommand, its usage and every option."""
    found = list(commands()) if found is None else found
    lines = [
        ".. This page is generated from deephw.cli's argument parsers at build time.",
        "",
        *heading("Command line", "=", "reference-cli"),
        "Every command and option of ``deephw``, read from its argument parsers. Exit "
        "codes: 0 done, 1 the run diverged, 2 invalid input, 130 interrupted.",
        "",
    ]
    for command in found:
        lines += heading(command.name, "-", f"cli-{label(command.name)}")
        if command.help:
            lines += [escape(command.help[0].upper() + command.help[1:]) + ".", ""]
        if command.description and command.description != command.help:
            lines += [escape(command.description), ""]
        lines += [".. code-block:: text", "", f"   {command.usage}", ""]
        if command.subcommands:
            subs = ", ".join(
                f":ref:`{sub} <cli-{label(command.name + ' ' + sub)}>`"
                for sub in command.subcommands
            )
            lines += [f"Subcommands: {subs}.", ""]
        if command.options:
            rows = [
                (
                    ", ".join(literal(n) for n in opt.names),
                    literal(opt.metavar),
                    literal(opt.default) or ("required" if opt.required else ""),
                    ", ".join(literal(c) for c in opt.choices),
                    escape(opt.help),
                )
                for opt in command.options
            ]
            lines += list_table(
                ("argument", "value", "default", "choices", "description"), rows, "18 12 10 14 46"
            )
    return "\n".join(lines)


# -- fields ---------------------------------------------------------------------------
def _field_table(rows: Sequence[FieldDoc], prefix: str) -> list[str]:
    body = [
        (
            literal(row.path[len(prefix) :] if row.path.startswith(prefix) else row.path),
            escape(row.type),
            literal(row.default) if row.default not in ("required", "see below") else row.default,
            escape(row.bounds),
            escape(row.unit),
            row.doc,
        )
        for row in rows
    ]
    header = ("field", "type", "default", "bounds", "unit", "description")
    return list_table(header, body, "16 12 10 12 6 44")


def config_page(tables: Sequence[Table] | None = None) -> str:
    """The run-config reference: every section and field, with the options of every
    update scheme and learning rule."""
    tables = config_tables() if tables is None else tables
    lines = [
        ".. This page is generated from deephw.config's dataclasses at build time.",
        "",
        *heading("Run config", "=", "reference-config"),
        "A run config is YAML; every section is optional except ``task``. Unknown keys, "
        "wrong types and values outside the bounds are refused with one line naming the "
        "file, the field and the value. Paths are relative to the config file. The types "
        "and bounds below are the ones the loader checks.",
        "",
    ]
    for table in tables:
        lines += heading(table.title, "-", f"config-{label(table.title)}")
        if table.text:
            lines += [table.text, ""]
        if not table.rows:
            lines += ["No options.", ""]
            continue
        prefix = "" if table.title == "Sections" else table.rows[0].path.rsplit(".", 1)[0] + "."
        lines += _field_table(table.rows, prefix)
    return "\n".join(lines)


def card_schema_page(tables: Sequence[Table] | None = None) -> str:
    """Every field a device card can hold, by section and by device model."""
    tables = card_schema_tables() if tables is None else tables
    lines = [
        ".. This page is generated from deephw.devices' dataclasses at build time.",
        "",
        *heading("Card fields", "=", "reference-card-fields"),
        "The fields a device card may hold. ``device`` and ``fast_device`` take the fields "
        "of the device model their ``model`` key names. Names ending in ``_dtod`` are "
        "device-to-device spreads (drawn once per chip from its seed), ``_c2c`` "
        "cycle-to-cycle (per pulse); the unit is the name's suffix.",
        "",
    ]
    for table in tables:
        lines += heading(table.title, "-", f"card-fields-{label(table.title)}")
        if table.text:
            lines += [table.text, ""]
        lines += _field_table(table.rows, "")
    return "\n".join(lines)


def card_page(name: str) -> str:
    """One shipped card: its source, description and every field with value and unit."""
    card = load_card(name)
    lines = [
        ".. This page is generated from the card file at build time.",
        "",
        *heading(card.name, "=", f"card-{label(card.name)}"),
        f"**Cell:** ``{card.cell.kind}``; **device:** ``{card.device.model}``"
        + (f"; **fast device:** ``{card.fast_device.model}``" if card.fast_device else "")
        + f". Shipped as ``devices/{name}.yaml``; use it with ``hardware: {{card: {name}}}``.",
        "",
        "**Source.** " + escape(card.source),
        "",
    ]
    if card.description:
        lines += ["**Description.** " + escape(card.description), ""]
    rows = [
        (literal(row.path), literal(value), escape(row.unit), row.doc)
        for row, value in card_rows(card)
        if row.path not in ("name", "source", "description")
    ]
    lines += list_table(("field", "value", "unit", "description"), rows, "22 20 8 50")
    return "\n".join(lines)


def cards_index(names: Sequence[str]) -> str:
    """The index of the shipped cards."""
    lines = [
        ".. This page is generated from the shipped cards at build time.",
        "",
        *heading("Device cards", "=", "reference-cards"),
        "One page per card shipped in ``devices/`` (``deephw devices list``), each field "
        "with its value, unit and description; :ref:`reference-card-fields` lists every "
        "field a card may hold.",
        "",
    ]
    rows = []
    for name in names:
        card = load_card(name)
        models = card.device.model + (f" + {card.fast_device.model}" if card.fast_device else "")
        text = escape(card.description or card.source)
        rows.append((f":doc:`{name}`", literal(card.cell.kind), literal(models), text))
    lines += list_table(("card", "cell", "models", "what it models"), rows, "20 10 20 50")
    lines += [".. toctree::", "   :hidden:", "", *[f"   {n}" for n in names], "   fields", ""]
    return "\n".join(lines)


def write_reference(out: str | Path) -> list[Path]:
    """Write every generated reference page under ``out``; return the paths written."""
    out = Path(out)
    names = list_cards()
    pages = {
        out / "cli.rst": cli_page(),
        out / "config.rst": config_page(),
        out / "cards" / "index.rst": cards_index(names),
        out / "cards" / "fields.rst": card_schema_page(),
        **{out / "cards" / f"{name}.rst": card_page(name) for name in names},
    }
    for path, text in pages.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_text(encoding="utf-8") != text + "\n":
            atomic.write_text(path, text + "\n")
    return list(pages)
