"""Build the documentation site, and the checks that every field is documented.

``python -m deephw.docs`` runs Sphinx on the ``docs/`` folder of a source checkout with
warnings as errors; :func:`on_builder_inited` (called by ``docs/conf.py``) writes the
generated reference pages first and warns, which fails the build, about every command-line
option, config field or card field without a description (:func:`missing_descriptions`).
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deephw.docs import commands
from deephw.docs.fields import FieldDoc
from deephw.docs.links import broken_links
from deephw.docs.pages import write_reference
from deephw.docs.schema import card_schema_tables, config_tables


def _rows(tables: Sequence[Any]) -> list[FieldDoc]:
    return [row for table in tables for row in table.rows]


def missing_descriptions() -> list[str]:
    """Every command-line option, config field and card field without a description,
    as one line each (empty when all are documented)."""
    found = [f"command line: {name} has no help" for name in commands.undocumented()]
    found += [
        f"run config: {row.path} ({row.owner}) has no doc"
        for row in _rows(config_tables())
        if not row.doc
    ]
    missing = {row.owner for row in _rows(card_schema_tables()) if not row.doc}
    found += [f"device card: {owner} has no doc" for owner in sorted(missing)]
    return found


def on_builder_inited(app: Any) -> None:
    """Sphinx hook: write the reference pages; warn about every missing description."""
    from sphinx.util import logging

    write_reference(Path(app.srcdir) / "reference" / "_generated")
    logger = logging.getLogger("deephw.docs")
    for line in missing_descriptions():
        logger.warning(line)


def canonical_name(target: str) -> str | None:
    """Where a name that a deephw package re-exports is defined: ``deephw.train`` ->
    ``deephw.training.train``; ``None`` if ``target`` is no such name."""
    module_name, _, name = target.rpartition(".")
    if not module_name.startswith("deephw") or not name:
        return None
    try:
        module = importlib.import_module(module_name)
        obj = getattr(module, name)
    except (ImportError, AttributeError):
        return None
    home = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if not home or not qualname or home == module_name:
        return None
    return f"{home}.{qualname}"


def resolve_reexport(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    """Sphinx hook (``missing-reference``): resolve a re-exported name, documented on
    the page of the module that defines it, e.g. :func:`deephw.train`."""
    if node.get("refdomain") != "py":
        return None
    target = canonical_name(node["reftarget"])
    if target is None:
        return None
    domain = env.get_domain("py")
    return domain.resolve_xref(
        env, node["refdoc"], app.builder, node["reftype"], target, node, contnode
    )


def source_dir() -> Path:
    """The ``docs/`` folder of the source checkout deephw runs from, else of the
    working directory."""
    for root in (Path(__file__).resolve().parents[2], Path.cwd()):
        if (root / "docs" / "conf.py").is_file():
            return root / "docs"
    raise SystemExit("deephw.docs: no docs/conf.py here: build from a source checkout")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m deephw.docs``: build the site as static HTML, warnings as errors."""
    parser = argparse.ArgumentParser(
        prog="python -m deephw.docs", description="Build deephw's documentation site (HTML)."
    )
    parser.add_argument("--out", help="output folder (default: docs/_build/html)")
    parser.add_argument(
        "--clean", action="store_true", help="remove earlier outputs first (a fresh build)"
    )
    parser.add_argument(
        "--linkcheck",
        action="store_true",
        help="then check that every link between the built pages resolves (no network)",
    )
    args = parser.parse_args(argv)
    if not _has_sphinx():
        print("deephw.docs: Sphinx is missing; install the extra: pip install '.[docs]'")
        return 2
    docs = source_dir()
    build = docs / "_build"
    out = Path(args.out) if args.out else build / "html"
    if args.clean:
        for folder in (
            build,
            docs / "auto_tutorials",
            docs / "reference" / "_generated",
            docs / "reference" / "api",
        ):
            shutil.rmtree(folder, ignore_errors=True)
    started = time.perf_counter()
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-j", "auto", "-b", "html"]
    code = subprocess.call([*command, "-d", str(build / "doctrees"), str(docs), str(out)])
    if code == 0 and args.linkcheck:
        broken = broken_links(out)
        for line in broken:
            print(f"broken link: {line}")
        code = 1 if broken else 0
    elapsed = time.perf_counter() - started
    if code == 0:
        print(f"site built in {elapsed:.0f} s: open {out / 'index.html'}")
    return code


def _has_sphinx() -> bool:
    try:
        import sphinx  # noqa: F401
    except ImportError:
        return False
    return True
