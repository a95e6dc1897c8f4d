"""The plugins under plugins/ are what a third party could write: public norq names only."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import norq

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"
PACKAGES = sorted(
    path.parent
    for path in PLUGINS.glob("*/*/__init__.py")
    if path.parent.parent.name.startswith("norq-") and path.parent.name != "tests"
)


def private_names(source: str) -> Iterator[str]:
    """Every ``norq`` name the source uses that ``norq.__all__`` does not list."""
    public = set(norq.__all__)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("norq."))
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            if node.module.startswith("norq."):
                yield node.module
            elif node.module == "norq":
                yield from (f"norq.{a.name}" for a in node.names if a.name not in public)
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "norq"
            and node.attr not in public
        ):
            yield f"norq.{node.attr}"


def test_the_plugin_packages_are_found() -> None:
    assert {"norq_example", "norq_smtp"} <= {package.name for package in PACKAGES}


@pytest.mark.parametrize("package", PACKAGES, ids=lambda package: package.name)
def test_plugins_use_only_public_norq_names(package: Path) -> None:
    found = {
        f"{path.relative_to(PLUGINS)}: {name}"
        for path in sorted(package.rglob("*.py"))
        for name in private_names(path.read_text("utf-8"))
    }
    assert not found, "plugins may use only names in norq.__all__"


def test_the_check_sees_private_imports_in_every_form() -> None:
    source = (
        "import norq.executor\n"
        "from norq.request import PreparedRequest\n"
        "from norq import Provider, _api\n"
        "import norq\n"
        "norq.dryrun\n"
        "norq.Provider\n"
    )
    assert sorted(private_names(source)) == [
        "norq._api",
        "norq.dryrun",
        "norq.executor",
        "norq.request",
    ]
