"""Keep the README's result tables equal to what ``deephw reproduce`` writes.

``deephw reproduce`` writes ``results.md``: each of its tables stands between two marker
comments, ``<!-- results.md: NAME -->`` and ``<!-- /results.md: NAME -->``. The README
embeds the same tables between the same markers. This module compares them:

    python -m deephw.readme_check RESULTS.md README.md            # exit 1 and a diff if they differ
    python -m deephw.readme_check RESULTS.md README.md --update   # copy the tables into the README

Every table of ``RESULTS.md`` must be in the README, equal line for line (trailing spaces
aside). A README table that ``RESULTS.md`` lacks (the card study, when ``reproduce`` ran
without ``--cards``) is reported as not checked, or is an error with ``--all``.
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


def main(argv: Sequence[str] | None = None) -> int:
    """Compare (or with ``--update``, copy) the tables; 0 equal, 1 different, 2 bad input."""
    parser = argparse.ArgumentParser(
        prog="python -m deephw.readme_check",
        description="Compare the README's marked tables with a results.md of deephw reproduce.",
    )
    parser.add_argument("results", type=Path, help="results.md written by deephw reproduce")
    parser.add_argument("readme", type=Path, help="README.md embedding its tables")
    parser.add_argument(
        "--all", action="store_true", help="fail when a README table is not in RESULTS"
    )
    parser.add_argument(
        "--update", action="store_true", help="write RESULTS's tables into the README"
    )
    args = parser.parse_args(argv)
    try:
        results, readme = _read(args.results), _read(args.readme)
        if args.update:
            atomic.write_text(args.readme, update(results, readme, results_name=str(args.results)))
            readme = _read(args.readme)
        diff, unchecked = compare(
            results, readme, results_name=str(args.results), readme_name=str(args.readme)
        )
    except DeephwError as exc:
        print(f"readme_check: invalid input: {exc}", file=sys.stderr)
        return 2
    for name in unchecked:
        print(
            f"{args.readme}: table {name!r} not checked ({args.results} has no such table)",
            file=sys.stderr,
        )
    if diff:
        sys.stdout.write(diff)
        print(f"{args.readme}: tables differ from {args.results}", file=sys.stderr)
        return 1
    if unchecked and args.all:
        return 1
    checked = sorted(set(marked_tables(results, str(args.results))))
    print(f"{args.readme}: tables {', '.join(checked)} equal those of {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
