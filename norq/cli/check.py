"""``norq config check``: validate a config and show what it resolves to, secrets hidden."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from norq.cli import USAGE_ERROR

if TYPE_CHECKING:
    from norq.config import NorqConfig
    from norq.provider import Provider
    from norq.redaction import Redactor


@click.group()
def config() -> None:
    """Inspect a Norq configuration."""


@config.command()
@click.argument("file", required=False, type=click.Path(dir_okay=False))
def check(file: str | None) -> None:
    """Validate FILE (default: $NORQ_CONFIG, else ./norq.yaml, else the
    environment) and print the resolved providers, routing, templates,
    notifications and celery settings with secrets shown as ***. On an invalid
    config, list every problem as `path: reason` and exit with status 2; a
    config that routes no channel (it can send nothing) exits 2 too, saying
    where Norq looked and which NORQ_* variables it found."""
    from norq.app import Norq
    from norq.config import discover_config_path
    from norq.errors import ConfigError, problem_line

    path = file if file is not None else discover_config_path()
    try:
        norq = Norq.from_yaml(path) if path is not None else Norq.discover()
    except ConfigError as exc:
        where = path if path is not None else "the environment"
        count = len(exc.errors)
        click.echo(f"Error: {where}: {count} problem{'s' if count != 1 else ''}", err=True)
        for error_path, reason in exc.errors:
            line = problem_line(error_path, reason, exc.locations.get(error_path))
            click.echo(f"  {line}", err=True)
        click.get_current_context().exit(USAGE_ERROR)
    with norq:
        config = norq.config
        for note in config.environment.notes():
            click.echo(f"norq: warning: {note}", err=True)
        if not config.routing:
            # Valid, but every send would fail: say where Norq looked instead of "valid".
            click.echo(
                f"Error: this config can send nothing: no channel is routed. {config.origin()}",
                err=True,
            )
            click.get_current_context().exit(USAGE_ERROR)
        source = str(path) if path is not None else "no config file; the environment only"
        click.echo(f"{source}: valid")
        click.echo(norq.redactor.text(describe_config(config, norq.redactor)))


@config.command()
def schema() -> None:
    """Print the JSON Schema of norq.yaml for the installed providers.

    Save it and point your editor at it, for completion and checking as you
    type: `norq config schema > norq.schema.json`, then put
    `# yaml-language-server: $schema=norq.schema.json` at the top of norq.yaml."""
    import json

    from norq.config_schema import config_json_schema
    from norq.plugins import get_plugin_manager, provider_registry

    click.echo(json.dumps(config_json_schema(provider_registry(get_plugin_manager())), indent=2))


def describe_config(config: NorqConfig, redactor: Redactor) -> str:
    lines = ["providers:"]
    if not config.providers:
        lines.append("  (none)")
    for instance, provider in config.providers.items():
        origin = "  (from environment variables)" if instance in config.from_env else ""
        lines.append(f"  {instance}: type {provider.name}{origin}")
        for key, value in _config_values(provider):
            lines.append(f"    {key}: {value}")
        lines.append(f"    retry: {_retry_text(provider)}")
    lines.append("routing:")
    if not config.routing:
        lines.append("  (none)")
    for channel, chain in config.routing.items():
        lines.append(f"  {channel}: {' -> '.join(chain)}")
    names = config.templates.names()
    lines.append("templates:")
    if not names:
        lines.append("  (none)")
    for name in names:
        lines.append(f"  {name}: {', '.join(sorted(config.templates.channels_of(name)))}")
    lines.append("notifications:")
    if not config.notifications:
        lines.append("  (none)")
    for name, settings_of in config.notifications.items():
        template = settings_of.template or name
        lines.append(
            f"  {name}: {', '.join(settings_of.channels)} ({settings_of.strategy}), "
            f"template {template}"
        )
    if config.celery is not None:
        lines.append("celery:")
        for key, value in config.celery.model_dump(mode="json").items():
            lines.append(f"  {key}: {value}")
    settings = config.executor
    lines.append(
        f"executor: timeout {settings.timeout}s, connect timeout {settings.connect_timeout}s, "
        f"max connections {settings.max_connections}, async transport {settings.async_transport}"
    )
    return "\n".join(redactor.text(line) for line in lines)


def _config_values(provider: Provider) -> list[tuple[str, str]]:
    from norq.provider import secrets_in

    values = []
    config = provider.config
    for name, info in type(config).model_fields.items():
        value: Any = getattr(config, name)
        if value is None:
            continue
        # Anything holding a secret is masked whole; the redactor is the second net.
        shown = "***" if secrets_in(value, name) else str(value)
        values.append((info.alias or name, shown))
    return values


def _retry_text(provider: Provider) -> str:
    policy = provider.retry
    return (
        f"max {policy.max_retries} retries, backoff {policy.backoff}s x{policy.multiplier} "
        f"(at most {policy.max_backoff}s), Retry-After honoured up to {policy.retry_after_max}s"
    )
