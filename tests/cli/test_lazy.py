"""Subcommands load on first use; a command whose extra is missing says how to get it."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from norq.cli import LazyGroup, main
from tests.cli.conftest import Run


def test_sandbox_is_loaded_from_the_sandbox_package(run: Run) -> None:
    result = run("sandbox", "--help")
    assert result.exit_code == 0, result.output
    assert "Usage: norq sandbox" in result.stdout
    assert main.lazy_commands["sandbox"] == "norq.sandbox.cli:sandbox"


def _group_with(target: str) -> click.Group:
    @click.group(cls=LazyGroup, lazy_commands={"extra": target})
    def group() -> None:
        pass

    return group


def test_a_command_with_a_missing_extra_explains_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    import norq.cli

    monkeypatch.setitem(norq.cli.EXTRAS_HINT, "norq_missing_extra", "pip install 'norq[missing]'")
    group = _group_with("norq_missing_extra.cli:command")
    listing = CliRunner().invoke(group, ["--help"])
    assert "extra  (not available: pip install 'norq[missing]')" in listing.stdout
    result = CliRunner().invoke(group, ["extra", "--port", "1"])
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: `norq extra` is not available: No module named 'norq_missing_extra' "
        "(pip install 'norq[missing]')\n"
    )


def test_a_broken_core_command_module_is_not_hidden() -> None:
    result = CliRunner().invoke(_group_with("norq.cli.no_such_module:command"), ["extra"])
    assert isinstance(result.exception, ModuleNotFoundError)


def test_a_target_that_is_not_a_command_is_an_error() -> None:
    result = CliRunner().invoke(_group_with("norq.cli:COMMANDS"), ["extra"])
    assert isinstance(result.exception, RuntimeError)


def test_every_command_has_a_summary_for_the_help_listing(run: Run) -> None:
    from norq.cli import COMMANDS, SUMMARIES

    assert set(SUMMARIES) == set(COMMANDS)
    listing = run("--help").stdout.split("Commands:\n", 1)[1]
    for name, summary in SUMMARIES.items():
        assert f"  {name:<11}{summary}" in listing
