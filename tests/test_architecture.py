"""The package's shape: no import cycle, no module past 600 lines, no module state.

These read the source (ast) and import every module; they execute no notebook.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import types
from pathlib import Path

import pandas as pd
import pytest

import nethep

PACKAGE_DIR = Path(nethep.__file__).resolve().parent
MAX_LINES = 600


def _modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its __init__.py)."""
    found = {"nethep": PACKAGE_DIR / "__init__.py"}
    for info in pkgutil.walk_packages([str(PACKAGE_DIR)], prefix="nethep."):
        module = importlib.util.find_spec(info.name)
        assert module is not None and module.origin is not None
        found[info.name] = Path(module.origin)
    return found


MODULES = _modules()


def _type_checking_block(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def _runtime_imports(tree: ast.Module, name: str) -> set[str]:
    """The nethep modules that module ``name`` imports when it runs (not under
    ``if TYPE_CHECKING:``); ``from nethep import x`` counts as importing ``nethep.x``
    when ``x`` is a module, else ``nethep``."""
    package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if _type_checking_block(child):
                continue
            if isinstance(child, ast.Import):
                targets.update(a.name for a in child.names if a.name.startswith("nethep"))
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                if not base.startswith("nethep"):
                    continue
                for alias in child.names:
                    sub = f"{base}.{alias.name}"
                    targets.add(sub if sub in MODULES else base)
            visit(child)

    visit(tree)
    return {t for t in targets if t in MODULES and t != name}


def _graph() -> dict[str, set[str]]:
    return {name: _runtime_imports(ast.parse(path.read_text(encoding="utf-8")), name)
            for name, path in MODULES.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every elementary cycle found by depth-first search (each reported once)."""
    cycles: list[list[str]] = []
    seen: set[frozenset[str]] = set()

    def dfs(node: str, path: list[str]) -> None:
        for nxt in sorted(graph[node]):
            if nxt in path:
                cycle = path[path.index(nxt):]
                if frozenset(cycle) not in seen:
                    seen.add(frozenset(cycle))
                    cycles.append([*cycle, nxt])
            elif len(path) < len(graph):
                dfs(nxt, [*path, nxt])

    for start in sorted(graph):
        dfs(start, [start])
    return cycles


def test_cycle_detector_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_the_import_graph_has_no_cycle():
    graph = _graph()
    assert len(graph) > 10
    assert _cycles(graph) == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_is_longer_than_600_lines(name):
    lines = MODULES[name].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{name} has {lines} lines: split it by concern"


_MUTABLE = (dict, list, set, bytearray, pd.DataFrame, pd.Series)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_level_mutable_state(name):
    """Module constants are immutable (tuple, frozenset, MappingProxyType...), so nothing
    a caller or another function does can change what a function returns later."""
    module = importlib.import_module(name)
    mutable = {
        attr: type(value).__name__ for attr, value in vars(module).items()
        if not attr.startswith("__") and isinstance(value, _MUTABLE)
        and not isinstance(value, types.MappingProxyType)
    }
    assert mutable == {}, f"{name} holds mutable module state: {mutable}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_are_at_module_level(name):
    """Imports sit at the top of a module, so its dependencies are read in one place."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    inner = [
        f"line {node.lineno}"
        for fn in ast.walk(tree) if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(fn) if isinstance(node, ast.Import | ast.ImportFrom)
    ]
    assert inner == [], f"{name} imports inside functions at {', '.join(inner)}"
