"""``norq providers`` and ``norq plugins``: what is installed, whatever the config says."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from norq.cli._common import json_option

if TYPE_CHECKING:
    from norq.plugins import RegisteredProvider


@click.command()
@json_option("Print the providers as a JSON list.")
def providers(as_json: bool) -> None:
    """List the installed provider types: the plugin package that provides each,
    its version, channels and config fields (required or optional, with the
    NORQ_* environment variables that can set them)."""
    from norq.plugins import get_plugin_manager, provider_registry

    registry = provider_registry(get_plugin_manager())
    described = [describe_provider(name, entry) for name, entry in sorted(registry.items())]
    if as_json:
        click.echo(json.dumps(described, indent=2))
        return
    for position, item in enumerate(described):
        if position:
            click.echo()
        click.echo(_provider_text(item))


def describe_provider(name: str, entry: RegisteredProvider) -> dict[str, Any]:
    from norq.config import env_var_names
    from norq.provider import is_secret_annotation, is_secret_name

    cls = entry.cls
    env = env_var_names(cls)
    fields = []
    for field_name, info in cls.Config.model_fields.items():
        key = info.alias or field_name
        secret = is_secret_annotation(info.annotation) or is_secret_name(field_name)
        default = None
        if not secret and isinstance(info.default, str | int | float | bool):
            default = info.default if info.default != "" else None
        fields.append(
            {
                "name": key,
                "required": info.is_required(),
                "secret": secret,
                "default": default,
                "env": env.get(key),
                "description": info.description,
            }
        )
    return {
        "type": name,
        "description": cls.description or (cls.__doc__ or "").strip().split("\n")[0],
        "package": entry.distribution,
        "version": entry.version,
        "plugin": entry.plugin,
        "channels": sorted(cls.channels),
        "config": fields,
    }


def _provider_text(item: dict[str, Any]) -> str:
    package = item["package"] or "unknown package"
    version = f" {item['version']}" if item["version"] else ""
    lines = [f"{item['type']}  ({package}{version}, plugin {item['plugin']})"]
    if item["description"]:
        lines.append(f"  {item['description']}")
    lines.append(f"  channels: {', '.join(item['channels'])}")
    if not item["config"]:
        lines.append("  config: none")
        return "\n".join(lines)
    lines.append("  config:")
    width = max(len(field["name"]) for field in item["config"])
    for field in item["config"]:
        notes = ["required" if field["required"] else "optional"]
        if field["secret"]:
            notes.append("secret")
        if field["default"] is not None:
            notes.append(f"default {field['default']}")
        if field["env"]:
            notes.append(f"env {field['env']}")
        lines.append(f"    {field['name']:<{width}}  {', '.join(notes)}")
    return "\n".join(lines)


@click.command()
@json_option("Print the plugins as a JSON list (like `llm plugins`).")
def plugins(as_json: bool) -> None:
    """List the loaded plugins: built-in ones and those installed via the `norq` entry point."""
    from norq.plugins import get_plugin_manager, plugin_listing

    listing = plugin_listing(get_plugin_manager())
    if as_json:
        click.echo(json.dumps(listing, indent=2))
        return
    for plugin in listing:
        package = plugin["package"] or "unknown package"
        version = f" {plugin['version']}" if plugin["version"] else ""
        click.echo(f"{plugin['name']}  ({package}{version})")
        click.echo(f"  hooks: {_join(plugin['hooks']) or 'none'}")
        if plugin["providers"]:
            click.echo(f"  providers: {_join(plugin['providers'])}")


def _join(names: object) -> str:
    return ", ".join(str(name) for name in names) if isinstance(names, list) else ""
