"""No import cycles inside ``norq/``: every module can be read after the ones it imports.

The graph counts every import of one ``norq`` module by another: at module
level, under ``TYPE_CHECKING`` and inside functions. Only module-level imports
can fail at import time, but the other two are dependencies all the same: an
import deferred into a function keeps ``import norq`` cheap, and one under
``TYPE_CHECKING`` names a type, yet a reader (and mypy) follows both, and a
loop closed by either means neither module can be understood, tested or moved
without the other. The graph is read from the source (nothing is imported),
so a cycle is reported even on a path no test runs.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import norq

PACKAGE = Path(norq.__file__).resolve().parent
ROOT = PACKAGE.parent


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imported(module: str, path: Path) -> Iterator[str]:
    """The ``norq`` modules that ``module`` imports, wherever in the file."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            # ``from norq import dryrun`` imports a module; ``from norq.x import y``, a name of x.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            # ``import norq.a.b`` depends on norq.a.b; a name taken from a package
            # (``from norq import Receipt``) on the package's ``__init__``.
            while target not in MODULES and "." in target:
                target = target.rpartition(".")[0]
            if target in MODULES and target != module:
                yield target


GRAPH = {module: set(imported(module, path)) for module, path in MODULES.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each strongly connected group of more than one module (Tarjan), sorted."""
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
    return sorted(found)


def test_the_graph_is_read_from_every_module() -> None:
    assert {"norq", "norq.app", "norq.executor", "norq.transports.base", "norq.cli"} <= set(GRAPH)
    assert "norq.transports.base" in GRAPH["norq.executor"]


def test_imports_in_functions_for_type_checking_and_relative_ones_count(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from typing import TYPE_CHECKING\n"
        "from .transports import base\n"
        "if TYPE_CHECKING:\n"
        "    from norq.receipt import Receipt\n"
        "def later():\n"
        "    from norq import dryrun\n"
        "    import norq.transports.http\n"
        "    from . import executor\n",
        encoding="utf-8",
    )
    assert set(imported("norq.probe", probe)) == {
        "norq.transports.base",
        "norq.receipt",
        "norq.dryrun",
        "norq.transports.http",
        "norq.executor",
    }


def test_the_cycle_finder_finds_each_loop_once() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a", "e"}, "e": {"d"}, "f": set()}
    assert cycles(graph) == [["a", "b", "c"], ["d", "e"]]


def test_no_module_of_norq_imports_itself_back() -> None:
    found = cycles(GRAPH)
    report = [
        f"{module} imports {', '.join(sorted(GRAPH[module] & set(group)))}"
        for group in found
        for module in group
    ]
    assert not found, "modules of norq/ that import each other:\n" + "\n".join(report)
