"""The group itself: version, help, lazy loading, error lines and exit statuses."""

from __future__ import annotations

from tests.cli.conftest import Run


def test_version_prints_the_package_version(run: Run) -> None:
    from norq import __version__

    result = run("--version")
    assert result.exit_code == 0
    assert result.stdout == f"norq, version {__version__}\n"


def test_help_lists_every_command(run: Run) -> None:
    result = run("--help")
    assert result.exit_code == 0
    for name in ("send", "status", "messages", "providers", "plugins", "config", "sandbox"):
        assert f"  {name} " in result.stdout


def test_send_to_the_console_provider_prints_one_line_per_recipient(
    run: Run, console_config: str
) -> None:
    result = run(
        "send", "chat", "--to", "ann", "--to", "bob", "--body", "hi", "--config", console_config
    )
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.startswith("delivered")]
    assert [line.split()[1] for line in lines] == ["ann", "bob"]
