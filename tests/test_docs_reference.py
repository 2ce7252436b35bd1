"""The documentation's generated references: complete, and refusing undocumented fields."""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field

import pytest

from deephw.devices import list_cards, load_card
from deephw.docs import build, commands, pages, schema
from deephw.docs.fields import bounds_text, undocumented, unit_text, walk, yaml_text
from deephw.docs.links import broken_links
from deephw.validation import check


def test_every_option_config_field_and_card_field_is_documented():
    assert build.missing_descriptions() == []


def test_an_option_without_help_is_found():
    parser = argparse.ArgumentParser(prog="deephw")
    sub = parser.add_subparsers(dest="command")
    train = sub.add_parser("train", help="train")
    train.add_argument("--fine", help="documented")
    train.add_argument("--bare")
    sub.add_parser("quiet")
    assert commands.undocumented(parser) == ["deephw train --bare", "deephw quiet"]


@dataclass(frozen=True)
class Inner:
    """Inner options.

    More about them."""

    rate: float = field(default=1.0, metadata=check(gt=0, doc="how fast"))
    bare: int = 3


@dataclass(frozen=True)
class Outer:
    """An outer section."""

    inner: Inner = Inner()


def test_a_field_without_doc_is_found_with_its_path_and_owner():
    rows = list(walk(Outer))
    assert [r.path for r in rows] == ["inner", "inner.rate", "inner.bare"]
    assert undocumented(rows) == ["inner.bare"]
    assert rows[2].owner == "Inner.bare"
    assert rows[0].doc == "Inner options."  # a section's own summary
    assert (rows[1].type, rows[1].default, rows[1].bounds) == ("float", "1.0", "0 < x")


def test_a_new_undocumented_card_field_fails_the_check(monkeypatch):
    tables = schema.card_schema_tables()
    row = tables[0].rows[0]
    tables[0].rows[0] = dataclasses.replace(row, doc="")
    monkeypatch.setattr(build, "card_schema_tables", lambda: tables)
    assert build.missing_descriptions() == [f"device card: {row.owner} has no doc"]


def test_a_config_field_without_doc_fails_the_check(monkeypatch):
    tables = schema.config_tables()
    row = tables[1].rows[0]
    tables[1].rows[0] = dataclasses.replace(row, doc="")
    monkeypatch.setattr(build, "config_tables", lambda: tables)
    assert build.missing_descriptions() == [f"run config: {row.path} ({row.owner}) has no doc"]


def test_the_cli_page_lists_every_subcommand_and_option():
    text = pages.cli_page()
    found = list(commands.commands())
    assert len(found) >= 14  # deephw, train, eval, devices (+4), reproduce, program (+3), sweep
    for command in found:
        assert command.name in text
        for option in command.options:
            for name in option.names:
                assert f"``{name}``" in text, (command.name, name)
    assert "``--tile-rows``" in text and "``--chips``" in text and "``--protocol``" in text


def test_the_config_page_lists_every_field_with_type_default_and_bounds():
    text = pages.config_page()
    rows = [row for table in schema.config_tables() for row in table.rows]
    assert len(rows) > 45
    for row in rows:
        assert f"``{row.name}``" in text, row.path
    dt = next(row for row in rows if row.path == "dynamics.dt")
    assert (dt.type, dt.default, dt.bounds) == ("float", "0.5", "0 < x")
    seeds = next(row for row in rows if row.path == "training.seeds")
    assert seeds.bounds == f"1 ≤ x ≤ {2**63 - 1}"
    assert "``hardware.scheme: hybrid``" not in text  # titles are headings, not literals
    assert "hardware.scheme: hybrid" in text and "learning.options: rule sym_ep" in text


@pytest.mark.parametrize("name", list_cards())
def test_a_card_page_shows_every_field_with_its_value(name):
    card = load_card(name)
    rows = schema.card_rows(card)
    paths = {row.path for row, _ in rows}
    for section in ("cell", "periphery", "device"):
        params = getattr(card, section)
        for fld in dataclasses.fields(params):
            if fld.name == "model":
                continue
            path = f"{section}.{fld.name}"
            if dataclasses.is_dataclass(getattr(params, fld.name)):
                assert any(p.startswith(path + ".") for p in paths), path
            else:
                assert path in paths, path
    values = {row.path: value for row, value in rows}
    assert values["cell.kind"] == card.cell.kind
    assert values["device.g_max_uS"] == yaml_text(card.device.g_max_uS)
    page = pages.card_page(name)
    assert f"``{card.device.model}``" in page


def test_the_ambrogio_card_page_has_units_and_both_devices():
    rows = {row.path: (row, value) for row, value in schema.card_rows("pcm_ambrogio2018")}
    row, value = rows["fast_device.tau_s"]
    assert (value, row.unit) == ("1.0", "s")
    row, value = rows["device.g_max_uS"]
    assert (value, row.unit) == ("25.0", "µS")
    assert rows["fast_device"][1] == "model capacitor"


def test_units_come_from_metadata_else_from_the_name():
    assert unit_text("g_max_uS", {}) == "µS"
    assert unit_text("set_pJ", {"doc": "x"}) == "pJ"
    assert unit_text("levels", {}) == ""
    assert unit_text("g_max_uS", {"unit": "uS (nominal)"}) == "µS (nominal)"
    assert unit_text("x", {"unit": "ohm, plus"}) == "ohm, plus"


def test_bounds_text():
    assert bounds_text(check(ge=0, le=1)) == "0 ≤ x ≤ 1"
    assert bounds_text(check(gt=-1, lt=1)) == "-1 < x < 1"
    assert bounds_text(check(choices=("a", "b"))) == "one of: a, b"
    assert bounds_text(check()) == ""


def test_write_reference_writes_one_page_per_card(tmp_path):
    written = pages.write_reference(tmp_path)
    names = {p.relative_to(tmp_path).as_posix() for p in written}
    assert {"cli.rst", "config.rst", "cards/index.rst", "cards/fields.rst"} <= names
    assert {f"cards/{name}.rst" for name in list_cards()} <= names
    before = {p: p.stat().st_mtime_ns for p in written}
    pages.write_reference(tmp_path)  # unchanged pages are not rewritten (no rebuild churn)
    assert {p: p.stat().st_mtime_ns for p in written} == before


def test_broken_links_finds_missing_pages_and_anchors(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "index.html").write_text(
        '<a href="sub/page.html#here">ok</a> <a href="sub/page.html#gone">anchor</a>'
        '<a href="missing.html">file</a> <a href="https://example.org/x">external</a>'
        '<a href="#top">self</a> <img src="sub/fig.png"> <a href="../../etc/passwd">out</a>'
        '<h1 id="top">t</h1>'
    )
    (tmp_path / "sub" / "page.html").write_text('<section id="here"></section><a href="../">up</a>')
    (tmp_path / "sub" / "fig.png").write_bytes(b"png")
    assert broken_links(tmp_path) == [
        "index.html: sub/page.html#gone (no anchor #gone)",
        "index.html: missing.html (no such file)",
        "index.html: ../../etc/passwd (outside the site)",
    ]
    (tmp_path / "sub" / "fig.png").unlink()
    assert "index.html: sub/fig.png (no such file)" in broken_links(tmp_path)


def test_re_exported_names_resolve_to_where_they_are_defined():
    assert build.canonical_name("deephw.train") == "deephw.training.train"
    assert build.canonical_name("deephw.load") == "deephw.config.load"
    assert build.canonical_name("deephw.program.verify_program") == (
        "deephw.program.verify.verify_program"
    )
    assert build.canonical_name("deephw.sweep.run_sweep") == "deephw.sweep.execute.run_sweep"
    assert build.canonical_name("deephw.training.train") is None  # already canonical
    assert build.canonical_name("deephw.no_such_name") is None
    assert build.canonical_name("numpy.ndarray") is None
