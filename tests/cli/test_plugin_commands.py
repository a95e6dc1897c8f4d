"""Plugins add ``norq`` subcommands through the ``register_commands`` hook.

The example in docs/plugins.md runs as written; a command's module is imported
only when it runs; names that clash are refused with a PluginError.
"""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pluggy
import pytest

import norq
import norq.plugins
from norq.errors import PluginError
from norq.plugins import command_registry, get_plugin_manager
from tests.cli.conftest import Run

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
MARK = "<!-- run by tests/cli/test_plugin_commands.py -->"


def documented_example() -> tuple[str, str]:
    """The example's Python source and the console session shown after it."""
    text = DOC.read_text(encoding="utf-8")
    found = re.search(
        re.escape(MARK) + r"\n```python\n(.*?)```\n\n(?:<!--[^\n]*-->\n)?```console\n(.*?)```",
        text,
        re.S,
    )
    assert found is not None, "docs/plugins.md lost its register_commands example"
    return found[1], found[2]


@pytest.fixture
def acme_module() -> Iterator[types.ModuleType]:
    """The example, as the module ``acme_norq.cli`` it says it is."""
    source, _ = documented_example()
    package = types.ModuleType("acme_norq")
    module = types.ModuleType("acme_norq.cli")
    sys.modules.update({"acme_norq": package, "acme_norq.cli": module})
    try:
        exec(compile(source, str(DOC), "exec"), module.__dict__)
        yield module
    finally:
        del sys.modules["acme_norq"], sys.modules["acme_norq.cli"]


def use_plugins(monkeypatch: pytest.MonkeyPatch, *plugins: object) -> pluggy.PluginManager:
    """Make the CLI's plugin manager the usual one plus ``plugins``."""
    pm = get_plugin_manager()
    for plugin in plugins:
        pm.register(plugin)
    monkeypatch.setattr(norq.plugins, "get_plugin_manager", lambda **kwargs: pm)
    return pm


class Registers:
    """A throwaway plugin that registers the commands it is given."""

    def __init__(self, *commands: tuple[Any, Any, Any]) -> None:
        self.commands = commands

    @norq.hookimpl
    def register_commands(self, register: norq.RegisterCommand) -> None:
        for name, target, summary in self.commands:
            register(name, target, summary)


def test_the_documented_plugin_command_runs_as_shown(
    run: Run, acme_module: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_plugins(monkeypatch, acme_module.AcmeCommands())
    _, session = documented_example()
    command, expected = session.splitlines()[0], "\n".join(session.splitlines()[1:]) + "\n"

    result = run(*command.removeprefix("$ norq ").split())

    assert result.exit_code == 0, result.output
    assert result.stdout == expected


def test_the_command_module_is_imported_only_when_the_command_runs(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugin = Registers(("later", "norq_test_later_command:later", "Run later."))
    use_plugins(monkeypatch, plugin)

    assert run("--help").exit_code == 0
    registry = command_registry(norq.plugins.get_plugin_manager())
    assert registry["later"].plugin != "unknown"
    assert "norq_test_later_command" not in sys.modules

    result = run("later")
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: plugin {registry['later'].plugin!r} registered the command 'later' as "
        "'norq_test_later_command:later', which does not load: "
        "No module named 'norq_test_later_command'\n"
    )


def test_plugins_lists_the_commands_of_each_plugin(
    run: Run, acme_module: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_plugins(monkeypatch, acme_module.AcmeCommands())

    result = run("plugins")

    assert result.exit_code == 0, result.output
    assert "  commands:\n    acme-balance  Show the Acme credit left.\n" in result.stdout
    assert "    sandbox  Run local stand-ins for Twilio" in result.stdout


def test_a_plugin_cannot_take_a_name_norq_uses(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    use_plugins(monkeypatch, Registers(("send", "acme_norq.cli:balance", "Not Norq's send.")))

    result = run("acme-balance")

    assert result.exit_code == 2
    assert "registered the command 'send', which is Norq's own; choose another name" in (
        result.stderr
    )


def test_two_plugins_cannot_register_one_name(monkeypatch: pytest.MonkeyPatch) -> None:
    pm = use_plugins(
        monkeypatch,
        Registers(("dup", "first_plugin.cli:dup", "One.")),
        Registers(("dup", "second_plugin.cli:dup", "Two.")),
    )
    with pytest.raises(PluginError, match="command 'dup' is registered twice: by "):
        command_registry(pm)


@pytest.mark.parametrize(
    ("name", "target", "summary", "problem"),
    [
        ("Acme Balance", "acme.cli:balance", "x", "use lower-case letters, digits and dashes"),
        ("acme", "acme.cli.balance", "x", "give the click command as 'package.module:attribute'"),
        ("acme", "acme.cli:balance", None, "give one line of text for `norq --help`"),
    ],
)
def test_a_malformed_registration_is_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, target: str, summary: Any, problem: str
) -> None:
    pm = use_plugins(monkeypatch, Registers((name, target, summary)))
    with pytest.raises(PluginError, match=re.escape(problem)):
        command_registry(pm)


def test_an_unknown_command_is_still_a_usage_error(run: Run) -> None:
    result = run("no-such-command")
    assert result.exit_code == 2
    assert "No such command 'no-such-command'" in result.stderr
