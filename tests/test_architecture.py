"""depguard's modules import each other downward only: no cycle, not even through a function.

An ``ast`` walk over ``src/depguard`` collects every import of a depguard module, at module
level and inside functions alike (a cycle hidden in a function is still a cycle: it only moves
the failure from import time to the first call). A package's modules count individually;
``from depguard.pkg import name`` is an edge to ``depguard.pkg.name`` when that is a module,
else to ``depguard.pkg`` (its ``__init__``, which re-exports ``name``).

Function-level imports are allowed only as start-up optimisations and say so with a
``# lazy: <reason>`` comment on the import line.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "depguard"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _absolute(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if _is_package(module) else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name in MODULES:
                yield alias.name
        return
    source = _absolute(module, node)
    if source not in MODULES:
        return
    for alias in node.names:
        child = f"{source}.{alias.name}"
        yield child if child in MODULES else source


def _imports(module: str) -> Iterator[tuple[str, ast.AST, bool]]:
    """(imported module, node, inside a function) for every depguard import of ``module``."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))

    def walk(node: ast.AST, nested: bool) -> Iterator[tuple[str, ast.AST, bool]]:
        for child in ast.iter_child_nodes(node):
            inner = nested or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                for target in _targets(module, child):
                    if target != module:
                        yield target, child, nested
            yield from walk(child, inner)

    yield from walk(tree, False)


GRAPH = {module: sorted({target for target, _, _ in _imports(module)}) for module in MODULES}


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_the_walk_sees_the_package() -> None:
    assert "depguard.cli" in MODULES and "depguard.sources.interface" in MODULES
    assert "depguard.sources.remote" in GRAPH["depguard.sources"], "__init__ re-exports count"
    assert "depguard.sources" in GRAPH["depguard.cli"], "function-level imports count"


def test_no_import_cycle_between_depguard_modules() -> None:
    assert _cycles(GRAPH) == []


def test_the_cycle_finder_finds_a_hidden_cycle() -> None:
    graph = {"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}
    assert _cycles(graph) == [["a", "b", "c"]]


@pytest.mark.parametrize("module", ["depguard.errors", "depguard.records", "depguard.feedformat", "depguard.cachedir"])
def test_the_bottom_modules_import_nothing_of_depguard_but_errors(module: str) -> None:
    assert set(GRAPH[module]) <= {"depguard.errors"}


def test_publishing_and_downloading_share_the_wire_format_not_each_other() -> None:
    assert "depguard.feedformat" in GRAPH["depguard.publish"]
    assert "depguard.feedformat" in GRAPH["depguard.sources.remote"]
    assert not any(m.startswith("depguard.sources") for m in GRAPH["depguard.publish"])


def test_every_function_level_import_says_why() -> None:
    unexplained = []
    for module, path in MODULES.items():
        lines = path.read_text(encoding="utf-8").splitlines()
        for _, node, nested in _imports(module):
            statement = "\n".join(lines[node.lineno - 1 : node.end_lineno])  # the formatter may wrap it
            if nested and "# lazy:" not in statement:
                unexplained.append(f"{path.relative_to(SRC)}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    assert unexplained == []
