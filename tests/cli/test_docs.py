"""docs/cli.md holds every command's --help text, as the commands print it today."""

from __future__ import annotations

from tools.cli_help import DOC, command_names, documented, run, update


def test_help_blocks_in_docs_cli_md_are_up_to_date() -> None:
    current = DOC.read_text("utf-8")
    assert update(current) == current, "docs/cli.md is stale: run `python tools/cli_help.py`"


def test_every_command_has_a_help_block() -> None:
    assert set(command_names()) - set(documented(DOC.read_text("utf-8"))) == set()


def test_check_mode_reports_success_without_writing() -> None:
    before = DOC.stat().st_mtime_ns
    assert run(["--check"]) == 0
    assert DOC.stat().st_mtime_ns == before
