"""Subcommands load on first use; a command whose extra is missing says how to get it."""

from __future__ import annotations

import click
from click.testing import CliRunner

from norq.cli import LazyGroup, main
from norq.plugins import command_registry, get_plugin_manager
from tests.cli.conftest import Run


def test_sandbox_is_loaded_from_the_sandbox_package(run: Run) -> None:
    result = run("sandbox", "--help")
    assert result.exit_code == 0, result.output
    assert "Usage: norq sandbox" in result.stdout
    # Not one of Norq's own: the norq-sandbox distribution registers it through the hook.
    assert "sandbox" not in main.lazy_commands
    registered = command_registry(get_plugin_manager())["sandbox"]
    assert registered.target == "norq_sandbox.cli:sandbox"


def _group_with(target: str) -> click.Group:
    @click.group(cls=LazyGroup, lazy_commands={"extra": target})
    def group() -> None:
        pass

    return group


def test_a_command_with_a_missing_extra_explains_itself() -> None:
    # No installed plugin registers "missing": the extra that adds it is not installed.
    @click.group(
        cls=LazyGroup, lazy_commands={}, extra_commands={"missing": "pip install 'norq[missing]'"}
    )
    def group() -> None:
        pass

    listing = CliRunner().invoke(group, ["--help"])
    assert "missing  (not available: pip install 'norq[missing]')" in listing.stdout
    result = CliRunner().invoke(group, ["missing", "--port", "1"])
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: `norq missing` is not available: no installed plugin provides it "
        "(pip install 'norq[missing]')\n"
    )


def test_the_help_listing_of_an_extra_command_is_the_plugins_own_summary() -> None:
    from norq.cli import EXTRA_COMMANDS, SUMMARIES

    registry = command_registry(get_plugin_manager())
    for name in EXTRA_COMMANDS:
        assert SUMMARIES[name] == registry[name].summary


def test_a_broken_core_command_module_is_not_hidden() -> None:
    result = CliRunner().invoke(_group_with("norq.cli.no_such_module:command"), ["extra"])
    assert isinstance(result.exception, ModuleNotFoundError)


def test_a_target_that_is_not_a_command_is_an_error() -> None:
    result = CliRunner().invoke(_group_with("norq.cli:COMMANDS"), ["extra"])
    assert isinstance(result.exception, RuntimeError)


def test_every_command_has_a_summary_for_the_help_listing(run: Run) -> None:
    from norq.cli import COMMANDS, EXTRA_COMMANDS, SUMMARIES

    assert set(SUMMARIES) == set(COMMANDS) | set(EXTRA_COMMANDS)
    listing = run("--help").stdout.split("Commands:\n", 1)[1]
    for name, summary in SUMMARIES.items():
        assert f"  {name:<11}{summary}" in listing
