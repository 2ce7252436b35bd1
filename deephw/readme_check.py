"""Keep the README's result tables equal to what ``deephw reproduce`` writes.

``deephw reproduce`` writes ``results.md``: each of its tables stands between two marker
comments, ``<!-- results.md: NAME -->`` and ``<!-- /results.md: NAME -->``. The README
embeds the same tables between the same markers. This module compares them:

    python -m deephw.readme_check RESULTS.md README.md docs/PAGE.md           # exit 1 and a diff
    python -m deephw.readme_check RESULTS.md README.md docs/PAGE.md --update  # copy the tables

Every table of ``RESULTS.md`` must be in the README or in one of the documentation pages
given after it, equal line for line (trailing spaces aside) wherever it appears. A marked
table that ``RESULTS.md`` lacks (the card study, when ``reproduce`` ran without
``--cards``) is reported as not checked, or is an error with ``--all``.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from deephw import atomic
from deephw.errors import DeephwError

_BLOCK = re.compile(
    r"<!-- results\.md: (?P<name>[\w-]+) -->\n(?P<body>.*?)\n?<!-- /results\.md: (?P=name) -->",
    re.S,
)
_OPENING = re.compile(r"<!-- results\.md: (?P<name>[\w-]+) -->")


def marked(name: str, table: str) -> str:
    """``table`` between the opening and closing markers of ``name``."""
    return f"<!-- results.md: {name} -->\n{table.strip()}\n<!-- /results.md: {name} -->"


def _normal(body: str) -> str:
    return "\n".join(line.rstrip() for line in body.strip().splitlines())


def marked_tables(text: str, source: str) -> dict[str, str]:
    """The marked tables of ``text``, by name, trailing spaces removed.

    Raises :class:`DeephwError` naming ``source`` for a name marked twice or an opening
    marker without its closing one.
    """
    tables: dict[str, str] = {}
    for match in _BLOCK.finditer(text):
        name = match["name"]
        if name in tables:
            raise DeephwError(f"{source}: the table {name!r} is marked twice")
        tables[name] = _normal(match["body"])
    for match in _OPENING.finditer(text):
        if match["name"] not in tables:
            raise DeephwError(
                f"{source}: <!-- results.md: {match['name']} --> has no closing "
                f"<!-- /results.md: {match['name']} -->"
            )
    return tables


def compare(
    results: str,
    readme: str,
    *,
    results_name: str = "results.md",
    readme_name: str = "README.md",
) -> tuple[str, list[str]]:
    """The differences between the tables of ``results`` and the README's, as a diff.

    Returns the diff text (empty when every table of ``results`` is in the README and
    equal) and the names of the README's marked tables that ``results`` lacks (not
    checked).
    """
    expected = marked_tables(results, results_name)
    if not expected:
        raise DeephwError(f"{results_name}: no marked table (is it a results.md of reproduce?)")
    found = marked_tables(readme, readme_name)
    diffs = []
    for name, table in expected.items():
        if name not in found:
            diffs.append(f"{readme_name}: no table {name!r} (expected between the markers)\n")
            diffs.append(marked(name, table) + "\n")
            continue
        diffs.extend(
            difflib.unified_diff(
                found[name].splitlines(keepends=True),
                table.splitlines(keepends=True),
                fromfile=f"{readme_name} [{name}]",
                tofile=f"{results_name} [{name}]",
            )
        )
    text = "".join(line if line.endswith("\n") else line + "\n" for line in diffs)
    return text, [name for name in found if name not in expected]


def update(results: str, readme: str, *, results_name: str = "results.md") -> str:
    """``readme`` with each marked table replaced by the table of ``results``."""
    expected = marked_tables(results, results_name)

    def replace(match: re.Match) -> str:
        name = match["name"]
        return marked(name, expected[name]) if name in expected else match[0]

    return _BLOCK.sub(replace, readme)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DeephwError(f"{path}: file does not exist") from None
    except IsADirectoryError:
        raise DeephwError(f"{path}: is a directory, not a markdown file") from None
    except UnicodeDecodeError as exc:
        raise DeephwError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def compare_documents(
    results: str, documents: dict[str, str], *, results_name: str = "results.md"
) -> tuple[str, list[str]]:
    """:func:`compare` over several documents that share the tables between them.

    Each document's marked tables must equal those of ``results``; every table of
    ``results`` must be in at least one document (a table may be in several, e.g. in the
    README and on a page of the documentation site). Returns the diff text and the
    ``document: table 'name'`` of the marked tables that ``results`` lacks.
    """
    expected = marked_tables(results, results_name)
    if not expected:
        raise DeephwError(f"{results_name}: no marked table (is it a results.md of reproduce?)")
    diffs, unchecked, seen = [], [], set()
    for name, text in documents.items():
        found = marked_tables(text, name)
        seen |= set(found)
        present = {key: table for key, table in expected.items() if key in found}
        if present:
            diff, _ = compare(
                "\n\n".join(marked(key, table) for key, table in present.items()),
                text,
                results_name=results_name,
                readme_name=name,
            )
            diffs.append(diff)
        unchecked += [f"{name}: table {key!r}" for key in found if key not in expected]
    for key, table in expected.items():
        if key not in seen:
            where = " or ".join(documents)
            diffs.append(f"{where}: no table {key!r} (expected between the markers)\n")
            diffs.append(marked(key, table) + "\n")
    return "".join(diffs), unchecked


def main(argv: Sequence[str] | None = None) -> int:
    """Compare (or with ``--update``, copy) the tables; 0 equal, 1 different, 2 bad input."""
    parser = argparse.ArgumentParser(
        prog="python -m deephw.readme_check",
        description="Compare the marked tables of the README (and of documentation pages) "
        "with a results.md of deephw reproduce.",
    )
    parser.add_argument("results", type=Path, help="results.md written by deephw reproduce")
    parser.add_argument(
        "documents",
        type=Path,
        nargs="+",
        metavar="DOCUMENT",
        help="README.md and pages embedding its tables (each table in at least one)",
    )
    parser.add_argument(
        "--all", action="store_true", help="fail when a document's table is not in RESULTS"
    )
    parser.add_argument(
        "--update", action="store_true", help="write RESULTS's tables into the documents"
    )
    args = parser.parse_args(argv)
    results_name = str(args.results)
    try:
        results = _read(args.results)
        documents = {str(path): _read(path) for path in args.documents}
        if args.update:
            for path in args.documents:
                new = update(results, documents[str(path)], results_name=results_name)
                if new != documents[str(path)]:
                    atomic.write_text(path, new)
                documents[str(path)] = _read(path)
        diff, unchecked = compare_documents(results, documents, results_name=results_name)
    except DeephwError as exc:
        print(f"readme_check: invalid input: {exc}", file=sys.stderr)
        return 2
    names = ", ".join(documents)
    for entry in unchecked:
        print(f"{entry} not checked ({results_name} has no such table)", file=sys.stderr)
    if diff:
        sys.stdout.write(diff)
        print(f"{names}: tables differ from {results_name}", file=sys.stderr)
        return 1
    if unchecked and args.all:
        return 1
    checked = sorted(set(marked_tables(results, results_name)))
    print(f"{names}: tables {', '.join(checked)} equal those of {results_name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
