"""The import graph of functions/: no cycles, and no API route module importing another.

Every import counts, at module level or inside a function, under TYPE_CHECKING or not: a cycle
hidden in a function body or a type-only import is still two modules that cannot be understood
(or moved) apart.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.processes import ROOT

PACKAGE = ROOT / "functions"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules of functions/ it imports."""
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([node.module] if node.module else [])])
                for alias in node.names:  # `from pkg import module` imports pkg.module
                    full = f"{base}.{alias.name}"
                    imported.add(full if full in paths else base)
        graph[name] = {m for m in imported if m in paths and m != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_walker_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_every_kind_of_import() -> None:
    graph = import_graph()
    assert "functions.loadtest.config" in graph["functions.loadtest.run"]  # module level
    assert "functions.dev.commands" not in graph["functions.dev.cli"]  # named, not imported
    assert "functions.registry" in graph["functions"]  # under TYPE_CHECKING and in a function


def test_functions_has_no_import_cycle() -> None:
    assert cycles(import_graph()) == []


def test_no_api_route_module_imports_another() -> None:
    """Routes share code through the submitter, problems and schemas, not through each other."""
    routes = "functions.api.routes."
    graph = import_graph()
    crossing = {
        name: sorted(m for m in imported if m.startswith(routes))
        for name, imported in graph.items()
        if name.startswith(routes) and any(m.startswith(routes) for m in imported)
    }
    assert crossing == {}
