"""The shape of the package: no import cycle among deephw's modules, small modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import deephw
import deephw.rules

PACKAGE = Path(deephw.__file__).parent
MAX_LINES = 450


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """deephw modules ``path`` imports anywhere (functions too), TYPE_CHECKING aside.

    ``from deephw import model`` imports the module ``deephw.model`` (the package's
    ``__init__`` runs first in Python, but is not what the module depends on).
    """
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    stack: list[ast.AST] = [ast.parse(path.read_text(encoding="utf-8"))]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:  # a submodule, else a name from the module ``base``
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in modules else base)
        stack.extend(ast.iter_child_nodes(node))
    return {m for m in found if m in modules and m != name}


def import_graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    return {module_name(p): imports_of(p, modules) for p in paths}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of modules, or None."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node], _ = 1, path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        state[node], _ = 2, path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def test_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_among_deephw_modules() -> None:
    graph = import_graph()
    assert "deephw.controller" in graph["deephw.training"]
    cycle = find_cycle(graph)
    assert cycle is None, " -> ".join(cycle)


def test_no_module_over_the_size_limit() -> None:
    sizes = {module_name(p): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    over = {m: n for m, n in sizes.items() if n > MAX_LINES}
    assert over == {}


def test_no_module_outside_the_rules_compares_rule_names() -> None:
    rules = set(deephw.rules.rule_names())
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if module_name(path).startswith("deephw.rules"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Compare):
                names = [n for n in (node.left, *node.comparators) if isinstance(n, ast.Constant)]
                if any(n.value in rules for n in names):
                    offenders.append(f"{module_name(path)}:{node.lineno}")
    assert offenders == []


def test_every_package_is_installed() -> None:
    """pyproject.toml lists the packages explicitly (the cards ship as deephw.cards):
    a package missing there imports from a source checkout but not after pip install."""
    tomllib = pytest.importorskip("tomllib", reason="tomllib needs Python 3.11")
    listed = set(
        tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"]["setuptools"][
            "packages"
        ]
    )
    found = {module_name(init) for init in PACKAGE.rglob("__init__.py")}
    assert found <= listed, sorted(found - listed)
