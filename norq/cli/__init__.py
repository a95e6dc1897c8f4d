"""The ``norq`` command line.

Subcommands live in their own modules and are imported only when used, so
``norq --version`` loads nothing but click. Plugins add commands through the
``register_commands`` hook; they are looked up only when a name is not one of
Norq's own, so the built-in commands never wait for plugins to load. Errors
become one line on stderr (``--debug`` adds the traceback) and the exit status
says what happened: 0 every recipient delivered, 1 some failed, 2 a usage or
configuration error.
"""

from __future__ import annotations

import sys
from collections.abc import Collection
from importlib import import_module
from typing import Any

import click

from norq._version import __version__

# name -> "module:attribute"; nothing here is imported until the command runs.
COMMANDS = {
    "send": "norq.cli.send:send",
    "notify": "norq.cli.notify:notify",
    "status": "norq.cli.queries:status",
    "messages": "norq.cli.queries:messages",
    "providers": "norq.cli.installed:providers",
    "plugins": "norq.cli.installed:plugins",
    "config": "norq.cli.check:config",
    "request": "norq.cli.request:request",
    "worker": "norq.cli.worker:worker",
    "jobs": "norq.cli.jobs:jobs",
}

# One line per command for `norq --help`, so listing the commands imports none
# of them: --help stays as light as --version (docs/performance.md).
SUMMARIES = {
    "config": "Check a configuration, or print the JSON Schema of norq.yaml.",
    "jobs": "Follow bulk jobs sent by Celery workers (norq send --queue).",
    "messages": "Query messages sent through a provider.",
    "notify": "Send a multi-channel notification from the config to one person.",
    "plugins": "List the loaded plugins and the hooks they implement.",
    "providers": "List the installed provider types and their config fields.",
    "request": "Send METHOD PATH to a provider's API and print the answer.",
    "sandbox": "Run local stand-ins for Twilio, SendGrid, Vonage, Slack, SMTP.",
    "send": "Send a notification to recipients, one or many (--csv).",
    "status": "Show the current status of one sent message.",
    "worker": "Start a Celery worker that sends queued bulk jobs.",
}

# Commands that Norq's own extras add through the register_commands hook, and how
# to install each. --help lists them (with SUMMARIES) without loading any plugin,
# and running one that is not installed says how to get it.
EXTRA_COMMANDS = {"sandbox": "pip install 'norq[sandbox]'"}

FAILED = 1
USAGE_ERROR = 2
BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a tool killed by it

#: The exit status of every command; docs/cli.md shows this table and a test
#: keeps the two the same.
EXIT_STATUSES = {
    0: "success: every recipient delivered, or the command did what it was asked",
    FAILED: "the command ran and something failed at the provider: a recipient or a row "
    "was not delivered, a status query or an API call was refused",
    USAGE_ERROR: "bad input (an option, an argument such as a malformed --to address, the "
    "config, a CSV header): reported before anything is sent",
    130: "stopped by Ctrl-C; with a --journal, --resume continues",
    BROKEN_PIPE: "the program reading the output stopped early (as `head` does)",
    143: "stopped by SIGTERM; with a --journal, --resume continues",
}


class LazyGroup(click.Group):
    """A group whose subcommands are ``"module:attr"`` strings, imported on first use.

    With ``summaries``, the help listing shows those lines instead of importing
    every command for its own. ``extra_commands`` (name -> install hint) are
    commands plugins add: listed, and found through the ``register_commands``
    hook when run.
    """

    def __init__(
        self,
        *args: Any,
        lazy_commands: dict[str, str],
        summaries: dict[str, str] | None = None,
        extra_commands: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands
        self.summaries = summaries or {}
        self.extra_commands = extra_commands or {}

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        if not self.summaries:
            super().format_commands(ctx, formatter)
            return
        rows = []
        for name in self.list_commands(ctx):
            summary = self.summaries.get(name)
            if summary is None:
                command = self.get_command(ctx, name)
                if command is None or command.hidden:
                    continue
                summary = command.get_short_help_str(formatter.width - 6 - len(name))
            rows.append((name, summary))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands, *self.extra_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands:
            return _load_command(self.lazy_commands[cmd_name])
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        plugin_command = _plugin_command(cmd_name, reserved=self.lazy_commands)
        if plugin_command is not None:
            return plugin_command
        hint = self.extra_commands.get(cmd_name)
        if hint is not None:
            return _unavailable(cmd_name, "no installed plugin provides it", hint)
        return None


def _plugin_command(name: str, reserved: Collection[str]) -> click.Command | None:
    """The command ``name`` a plugin registers, if one does; PluginError if it cannot load."""
    from norq.errors import PluginError
    from norq.plugins import command_registry, get_plugin_manager

    registered = command_registry(get_plugin_manager(), reserved).get(name)
    if registered is None:
        return None
    try:
        return _load_command(registered.target)
    except Exception as exc:
        raise PluginError(
            f"plugin {registered.plugin!r} registered the command {name!r} as "
            f"{registered.target!r}, which does not load: {exc}"
        ) from exc


def _load_command(target: str) -> click.Command:
    module_name, _, attribute = target.partition(":")
    module = import_module(module_name)
    command = getattr(module, attribute, None)
    if not isinstance(command, click.Command):
        raise RuntimeError(f"{target} is not a click command")
    return command


def _unavailable(name: str, why: str, hint: str) -> click.Command:
    """A stand-in for a command an extra adds that is not installed: it says so when run."""
    reason = f"`norq {name}` is not available: {why} ({hint})"

    def fail() -> None:
        raise UsageFailure(reason)

    return click.Command(
        name,
        callback=fail,
        help=reason,
        short_help=f"(not available: {hint})",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )


class NorqGroup(LazyGroup):
    """The top-level group: turns Norq's exceptions into one line and an exit status."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:
            # The reader went away (`norq ... | head`): stop quietly, as a shell tool does.
            _discard_stdout()
            ctx.exit(BROKEN_PIPE)
        except Exception as exc:
            if ctx.params.get("debug"):
                import traceback

                traceback.print_exc()
            raise _as_click_error(exc) from None


class UsageFailure(click.ClickException):
    """A usage or configuration error: one line, exit status 2."""

    exit_code = USAGE_ERROR


class CommandFailed(click.ClickException):
    """The command ran but failed (a delivery, a status query): one line, exit status 1."""

    exit_code = FAILED


def _as_click_error(exc: Exception) -> click.ClickException:
    from norq.errors import ConfigError, MessageError, NorqError, PluginError, UnsupportedOperation

    if isinstance(exc, ConfigError):
        return UsageFailure(config_error_line(exc))
    if isinstance(exc, MessageError | PluginError | UnsupportedOperation):
        return UsageFailure(one_line(str(exc)))
    if isinstance(exc, NorqError):  # a DeliveryError, a failed status query...
        return CommandFailed(one_line(str(exc)))
    detail = f"{type(exc).__name__}: {one_line(str(exc))}" if str(exc) else type(exc).__name__
    return CommandFailed(f"unexpected {detail} (run `norq --debug ...` for the traceback)")


def _discard_stdout() -> None:
    # Without this, the interpreter's final flush of stdout fails again, noisily.
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def config_error_line(exc: Any) -> str:
    """A whole ConfigError on one line: the first problem and how many more there are."""
    problems = [f"{path}: {reason}" if path else reason for path, reason in exc.errors]
    first = one_line(problems[0]) if problems else one_line(str(exc))
    if len(problems) > 1:
        return f"{first} (and {len(problems) - 1} more; `norq config check` lists them all)"
    return first


def one_line(text: str) -> str:
    return " ".join(text.split())


@click.group(
    "norq",
    cls=NorqGroup,
    lazy_commands=COMMANDS,
    summaries=SUMMARIES,
    extra_commands=EXTRA_COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, "-V", "--version", prog_name="norq")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logging.")
def main(debug: bool) -> None:
    """Send notifications through the providers declared in a Norq config.

    The config is --config FILE where a command takes it, else $NORQ_CONFIG,
    else ./norq.yaml, else providers configured from NORQ_<PROVIDER>_* variables.

    Installed plugins may add commands: `norq plugins` lists them.

    Exit status: 0 every recipient delivered, 1 some recipients failed,
    2 usage or configuration error.
    """
    _configure_logging(debug)


def _configure_logging(debug: bool) -> None:
    import logging

    logger = logging.getLogger("norq")
    handler = logging.StreamHandler(sys.stderr)
    if debug:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.setLevel(logging.DEBUG)
    else:
        handler.setFormatter(logging.Formatter("norq: %(levelname)s: %(message)s"))
        logger.setLevel(logging.WARNING)
    logger.handlers = [handler]
