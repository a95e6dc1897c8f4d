"""Keep the ``--help`` blocks of ``docs/cli.md`` in sync with the commands.

Each block sits between ``<!-- norq-help: norq send -->`` and
``<!-- /norq-help -->``; everything around the blocks is hand-written and kept.
Regenerate with ``python tools/cli_help.py`` from the repository root
(``--check`` only compares); ``tests/cli/test_docs.py`` fails when they drift.
A development tool: it lives in the repository, not in the installed package.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click
from click.testing import CliRunner

from norq.cli import main

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
WIDTH = 80
_BLOCK = re.compile(r"<!-- norq-help: (?P<command>[^>]+?) -->\n.*?<!-- /norq-help -->", re.DOTALL)


def command_names(group: click.Group = main, prefix: tuple[str, ...] = ()) -> list[str]:
    """``norq``, ``norq send``, ``norq config check``... every command, depth first."""
    names = [" ".join(("norq", *prefix))]
    context = click.Context(group, info_name="norq")
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        if isinstance(command, click.Group):
            names.extend(command_names(command, (*prefix, name)))
        elif command is not None:
            names.append(" ".join(("norq", *prefix, name)))
    return names


def help_text(command: str) -> str:
    args = [*command.split()[1:], "--help"]
    result = CliRunner().invoke(main, args, prog_name="norq", terminal_width=WIDTH)
    if result.exit_code != 0:
        raise RuntimeError(f"`{command} --help` failed: {result.output}")
    return result.stdout.rstrip() + "\n"


def block(command: str) -> str:
    return f"<!-- norq-help: {command} -->\n```text\n{help_text(command)}```\n<!-- /norq-help -->"


def update(text: str) -> str:
    """``text`` with every help block regenerated."""
    return _BLOCK.sub(lambda match: block(match["command"]), text)


def documented(text: str) -> list[str]:
    return [match["command"] for match in _BLOCK.finditer(text)]


def run(argv: list[str]) -> int:
    current = DOC.read_text("utf-8")
    fresh = update(current)
    missing = sorted(set(command_names()) - set(documented(current)))
    if missing:
        print(f"{DOC}: no help block for: {', '.join(missing)}", file=sys.stderr)
    if "--check" in argv:
        stale = fresh != current
        if stale:
            print(f"{DOC} is out of date: run `python tools/cli_help.py`", file=sys.stderr)
        return 1 if stale or missing else 0
    if fresh != current:
        DOC.write_text(fresh, "utf-8")
        print(f"updated {DOC}")
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(run(sys.argv[1:]))
