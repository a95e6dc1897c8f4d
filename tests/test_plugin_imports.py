"""Plugins in plugins/*/ use only Norq's public API: the names in ``norq.__all__``.

That is what proves a third party can build them. Their tests may reach
further (they test against Norq's internals like Norq's own tests do); the
code a plugin ships may not.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import norq

PLUGINS = Path(__file__).resolve().parent.parent / "plugins"
#: Public modules a plugin may import besides ``norq`` itself.
PUBLIC_MODULES = frozenset({"norq", "norq.testing"})
PUBLIC_NAMES = frozenset(norq.__all__)


def shipped_files(plugin: Path) -> Iterator[Path]:
    """The plugin's Python files, leaving out its tests and build output."""
    for path in sorted(plugin.rglob("*.py")):
        parts = path.relative_to(plugin).parts
        if any(part.startswith("test") or part in ("build", "conftest.py") for part in parts):
            continue
        yield path


def private_uses(source: str) -> list[str]:
    """Every use of a Norq name outside the public API in ``source``, as ``line: what``."""
    tree = ast.parse(source)
    aliases = set()  # local names bound to the norq module itself
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "norq":
                    aliases.add(alias.asname or "norq")
                elif alias.name.startswith("norq.") and alias.name not in PUBLIC_MODULES:
                    found.append(f"{node.lineno}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            module = node.module
            if module != "norq" and not module.startswith("norq."):
                continue
            if module not in PUBLIC_MODULES:
                found.append(f"{node.lineno}: from {module} import ...")
            elif module == "norq":
                for alias in node.names:
                    public = alias.name in PUBLIC_NAMES or f"norq.{alias.name}" in PUBLIC_MODULES
                    if not public:
                        found.append(f"{node.lineno}: from norq import {alias.name}")
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and node.attr not in PUBLIC_NAMES
            and f"norq.{node.attr}" not in PUBLIC_MODULES
        ):
            found.append(f"{node.lineno}: norq.{node.attr}")
    return found


PLUGIN_DIRS = sorted(path.parent for path in PLUGINS.glob("*/pyproject.toml"))


def test_the_repository_ships_plugins() -> None:
    names = {path.name for path in PLUGIN_DIRS}
    assert {
        "norq-example",
        "norq-sendgrid",
        "norq-vonage",
        "norq-slack",
        "norq-smtp",
        "norq-sandbox",
        "norq-telegram",
    } <= names


@pytest.mark.parametrize("plugin", PLUGIN_DIRS, ids=lambda path: path.name)
def test_a_plugin_imports_only_public_norq_names(plugin: Path) -> None:
    files = list(shipped_files(plugin))
    assert files, f"{plugin.name} ships no Python files"
    found = {
        str(path.relative_to(plugin)): uses
        for path in files
        if (uses := private_uses(path.read_text(encoding="utf-8")))
    }
    assert not found, f"{plugin.name} uses names outside norq.__all__: {found}"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from norq.request import PreparedRequest", ["1: from norq.request import ..."]),
        ("from norq import _version", ["1: from norq import _version"]),
        ("from norq import Message, schema", ["1: from norq import schema"]),
        ("import norq.providers.twilio", ["1: import norq.providers.twilio"]),
        ("import norq as n\nn._api", ["2: norq._api"]),
        ("import norq\nx = norq.response.Disposition", ["2: norq.response"]),
        ("from norq.register import Register", ["1: from norq.register import ..."]),
    ],
)
def test_the_check_catches_private_uses(source: str, expected: list[str]) -> None:
    assert private_uses(source) == expected


@pytest.mark.parametrize(
    "source",
    [
        "import norq\nnorq.Provider\nnorq.hookimpl",
        "from norq import Message, PreparedRequest",
        "import norq.testing",
        "from norq.testing import anything",
        "import norqish._x\nfrom norq_sendgrid import provider",
    ],
)
def test_the_check_allows_the_public_api(source: str) -> None:
    assert private_uses(source) == []
