"""The README's result tables and ``results.md``: the check fails on any edited number."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from deephw import readme_check
from deephw.errors import DeephwError

README = Path(__file__).resolve().parents[1] / "README.md"

RESULTS = """# Results of `deephw reproduce`

Seeds 0–9; dense runs 1500 epochs, pruned runs 3500; numpy engine.

<!-- results.md: dense -->
| task | DEEP converged |
|---|---|
| AND | 10/10 |
| XOR | 8/10 |
<!-- /results.md: dense -->

<!-- results.md: pruning -->
| task | median |
|---|---|
| AND | 91.67 % |
<!-- /results.md: pruning -->
"""

README_TEXT = """# project

Some text with 10/10 outside the tables.

<!-- results.md: dense -->
| task | DEEP converged |
|---|---|
| AND | 10/10 |
| XOR | 8/10 |
<!-- /results.md: dense -->

More prose.

<!-- results.md: pruning -->
| task | median |
|---|---|
| AND | 91.67 % |
<!-- /results.md: pruning -->
"""


def write(tmp_path: Path, results: str, readme: str) -> tuple[str, str]:
    (tmp_path / "results.md").write_text(results)
    (tmp_path / "README.md").write_text(readme)
    return str(tmp_path / "results.md"), str(tmp_path / "README.md")


def test_equal_tables_pass(tmp_path, capsys) -> None:
    assert readme_check.compare(RESULTS, README_TEXT) == ("", [])
    assert readme_check.main(write(tmp_path, RESULTS, README_TEXT)) == 0
    assert "tables dense, pruning equal those of" in capsys.readouterr().out


def test_trailing_spaces_do_not_count() -> None:
    spaced = README_TEXT.replace("| AND | 91.67 % |\n", "| AND | 91.67 % |   \n")
    assert spaced != README_TEXT
    assert readme_check.compare(RESULTS, spaced) == ("", [])


def test_an_edited_number_fails_with_a_diff(tmp_path, capsys) -> None:
    edited = README_TEXT.replace("| XOR | 8/10 |", "| XOR | 9/10 |")
    diff, _ = readme_check.compare(RESULTS, edited)
    assert "-| XOR | 9/10 |" in diff and "+| XOR | 8/10 |" in diff
    assert readme_check.main(write(tmp_path, RESULTS, edited)) == 1
    captured = capsys.readouterr()
    assert "+| XOR | 8/10 |" in captured.out
    assert "tables differ from" in captured.err
    # a number outside the marked tables is not the check's business
    prose = README_TEXT.replace("Some text with 10/10", "Some text with 9/10")
    assert readme_check.compare(RESULTS, prose) == ("", [])


def test_a_missing_table_fails(tmp_path) -> None:
    start = README_TEXT.index("<!-- results.md: pruning -->")
    cut = README_TEXT[:start]
    diff, _ = readme_check.compare(RESULTS, cut)
    assert "README.md: no table 'pruning'" in diff
    assert readme_check.main(write(tmp_path, RESULTS, cut)) == 1


def test_a_readme_table_missing_from_results_is_reported_not_checked(tmp_path, capsys) -> None:
    extra = README_TEXT + "\n<!-- results.md: cards -->\n| a |\n<!-- /results.md: cards -->\n"
    assert readme_check.compare(RESULTS, extra) == ("", ["cards"])
    paths = write(tmp_path, RESULTS, extra)
    assert readme_check.main(paths) == 0
    assert "table 'cards' not checked" in capsys.readouterr().err
    assert readme_check.main([*paths, "--all"]) == 1


def test_update_copies_the_tables_into_the_readme(tmp_path) -> None:
    stale = README_TEXT.replace("| XOR | 8/10 |", "| XOR | 9/10 |")
    results, readme = write(tmp_path, RESULTS, stale)
    assert readme_check.main([results, readme, "--update"]) == 0
    text = Path(readme).read_text()
    assert "| XOR | 8/10 |" in text and "| XOR | 9/10 |" not in text
    assert text.startswith("# project\n\nSome text with 10/10") and "More prose." in text
    assert readme_check.main([results, readme]) == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (README_TEXT + "<!-- results.md: dense -->\n<!-- /results.md: dense -->\n", "twice"),
        ("<!-- results.md: open -->\n| a |\n", "has no closing <!-- /results.md: open -->"),
    ],
)
def test_broken_markers_are_refused(tmp_path, capsys, text, message) -> None:
    with pytest.raises(DeephwError, match=message):
        readme_check.marked_tables(text, "README.md")
    assert readme_check.main(write(tmp_path, RESULTS, text)) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err


def test_bad_files_are_one_line_and_exit_2(tmp_path, capsys) -> None:
    results, readme = write(tmp_path, RESULTS, README_TEXT)
    assert readme_check.main([str(tmp_path / "nope.md"), readme]) == 2
    assert "nope.md: file does not exist" in capsys.readouterr().err
    assert readme_check.main([readme, readme]) == 0  # a README's own tables
    assert readme_check.main(["README_without_tables", readme]) == 2
    (tmp_path / "plain.md").write_text("no tables here\n")
    assert readme_check.main([str(tmp_path / "plain.md"), readme]) == 2
    assert "no marked table" in capsys.readouterr().err
    (tmp_path / "latin1.md").write_bytes(b"caf\xe9\n")
    assert readme_check.main([str(tmp_path / "latin1.md"), readme]) == 2
    assert "not UTF-8 text (byte 3)" in capsys.readouterr().err


# -- the project's README ------------------------------------------------------------------
GUIDE_PAGES = [README.parent / "docs" / "guide" / name for name in ("results.md", "chip.md")]


def test_the_readme_and_the_guide_mark_the_tables_reproduce_writes() -> None:
    tables = readme_check.marked_tables(README.read_text(encoding="utf-8"), "README.md")
    assert set(tables) == {"dense", "cards", "digits", "digits-cards"}  # the headline ones
    everywhere = set(tables)
    for page in GUIDE_PAGES:
        everywhere |= set(readme_check.marked_tables(page.read_text(encoding="utf-8"), page.name))
    assert everywhere == {
        "dense",
        "pruning",
        "cards",
        "authors",
        "digits",
        "digits-variants",
        "digits-cards",
    }
    assert tables["dense"].startswith("| task | DEEP converged | DEEP median epochs |")
    assert [line.split("|")[1].strip() for line in tables["dense"].splitlines()[2:]] == [
        "AND",
        "OR",
        "XOR",
    ]


def test_the_check_fails_when_a_number_in_the_readme_is_edited(tmp_path) -> None:
    readme = README.read_text(encoding="utf-8")
    tables = readme_check.marked_tables(readme, "README.md")
    results = "\n\n".join(readme_check.marked(name, table) for name, table in tables.items())
    assert readme_check.compare(results, readme) == ("", [])
    # change one number in each table's first data row: every edit is caught
    for table in tables.values():
        row = table.splitlines()[2]
        number = re.search(r"\d+", row.split("|", 2)[2])
        assert number is not None, row
        digits = number.group()
        changed = row.replace(digits, str(int(digits) + 1), 1)
        edited = readme.replace(row, changed, 1)
        diff, _ = readme_check.compare(results, edited)
        assert f"-{changed}" in diff and f"+{row}" in diff
        paths = write(tmp_path, results, edited)
        done = subprocess.run(
            [sys.executable, "-m", "deephw.readme_check", *paths], capture_output=True, text=True
        )
        assert done.returncode == 1 and f"+{row}" in done.stdout


def test_tables_may_be_shared_between_the_readme_and_documentation_pages(tmp_path) -> None:
    """Every table of results.md must be in one of the documents, equal wherever it is."""
    tables = readme_check.marked_tables(RESULTS, "results.md")
    first, *rest = tables
    readme = f"# deephw\n\n{readme_check.marked(first, tables[first])}\n"
    page = "".join(f"{readme_check.marked(name, tables[name])}\n" for name in tables)
    results, readme_path = write(tmp_path, RESULTS, readme)
    page_path = tmp_path / "page.md"
    page_path.write_text(page)
    assert readme_check.main([results, readme_path, str(page_path)]) == 0
    assert readme_check.main([results, readme_path]) == (1 if rest else 0)  # tables missing
    page_path.write_text(page.replace("|", "| x", 1))
    assert readme_check.main([results, readme_path, str(page_path)]) == 1  # differs there
