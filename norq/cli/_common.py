"""What several commands share: finding the config, parsing ``k=v`` data, option checks."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import IO, TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from norq.app import Norq
    from norq.receipt import Receipt

F = TypeVar("F", bound=Callable[..., Any])


def config_option(function: F) -> F:
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        help="Config file (default: $NORQ_CONFIG, else ./norq.yaml, else the environment).",
    )(function)


def data_options(function: F) -> F:
    """``--data KEY=VALUE`` (repeatable) and ``--data-json FILE``: template variables."""
    with_file = click.option(
        "--data-json",
        type=click.File("r", encoding="utf-8"),
        metavar="FILE",
        help="Template variables from a JSON object in FILE ('-' reads stdin).",
    )(function)
    return click.option(
        "--data",
        "data_pairs",
        multiple=True,
        metavar="KEY=VALUE",
        help="A template variable; repeat for more.",
    )(with_file)


def provider_option(help_text: str) -> Callable[[F], F]:
    return click.option("--provider", metavar="NAME", help=help_text)


def json_option(help_text: str) -> Callable[[F], F]:
    return click.option("--json", "as_json", is_flag=True, help=help_text)


def load_norq(config_path: str | None) -> Norq:
    """The configured Norq, found the way the library finds it."""
    from norq.app import Norq
    from norq.cli import UsageFailure, config_error_line
    from norq.config import discover_config_path
    from norq.errors import ConfigError

    path = config_path if config_path is not None else discover_config_path()
    try:
        return Norq.from_yaml(path) if path is not None else Norq.discover()
    except ConfigError as exc:
        line = config_error_line(exc)
        source = str(path) if path is not None else "config from the environment"
        if not line.startswith(source):
            line = f"{source}: {line}"
        raise UsageFailure(line) from None


def parse_pairs(pairs: Iterable[str], option: str) -> dict[str, str]:
    """``("k=v", ...)`` as a dict; a pair without ``=`` is a usage error."""
    data: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise bad_value(option, f"expected KEY=VALUE, got {pair!r}")
        data[key] = value
    return data


def read_json_object(stream: IO[str], option: str) -> dict[str, Any]:
    try:
        value = json.load(stream)
    except json.JSONDecodeError as exc:
        where = f"{stream.name}: not valid JSON: {exc.msg} at line {exc.lineno}"
        raise bad_value(option, where) from None
    if not isinstance(value, dict):
        raise bad_value(
            option, f"{stream.name}: expected a JSON object, got {type(value).__name__}"
        )
    return value


def bad_value(option: str, message: str) -> click.ClickException:
    """A usage error about one option, on one line (click's own adds the usage text)."""
    from norq.cli import UsageFailure

    return UsageFailure(f"invalid value for {option}: {message}")


def given(ctx: click.Context, name: str) -> bool:
    """Whether the user passed the parameter ``name`` (rather than it taking its default)."""
    source = ctx.get_parameter_source(name)
    return source is not None and source not in (
        click.core.ParameterSource.DEFAULT,
        click.core.ParameterSource.DEFAULT_MAP,
    )


def dumps(value: Any) -> str:
    """One JSON line; dates and other non-JSON values as strings."""
    return json.dumps(value, ensure_ascii=False, default=str)


def receipt_text(receipt: Receipt) -> str:
    """One receipt as one line for a person: delivered or failed, to whom, how."""
    attempts = f"{receipt.attempts} attempt" + ("" if receipt.attempts == 1 else "s")
    if receipt.ok:
        return (
            f"delivered {receipt.to} via {receipt.provider}: "
            f"{receipt.message_id or '(no message id)'} ({attempts})"
        )
    error = receipt.error
    why = f"{error.code}: {' '.join(error.message.split())}" if error else "failed"
    return f"failed    {receipt.to} via {receipt.provider}: {why} ({attempts})"
