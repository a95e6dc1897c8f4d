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
    its version, channels and config fields, taken from each provider's config
    model: type (with the choices of a fixed set), required or optional,
    default, description, and the NORQ_* environment variable that can set it."""
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
                "type": describe_type(info.annotation) + _bounds(info.metadata),
                "choices": list(literal_choices(info.annotation)) or None,
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
        "recipients": {
            channel: {"format": found.what, "example": found.example}
            for channel, found in sorted(cls.recipient_formats.items())
        },
        "config": fields,
    }


def _provider_text(item: dict[str, Any]) -> str:
    package = item["package"] or "unknown package"
    version = f" {item['version']}" if item["version"] else ""
    lines = [f"{item['type']}  ({package}{version}, plugin {item['plugin']})"]
    if item["description"]:
        lines.append(f"  {item['description']}")
    lines.append(f"  channels: {', '.join(item['channels'])}")
    for channel, shape in item["recipients"].items():
        lines.append(f"  {channel} recipients: {shape['format']}, like {shape['example']}")
    if not item["config"]:
        lines.append("  config: none")
        return "\n".join(lines)
    lines.append("  config:")
    width = max(len(field["name"]) for field in item["config"])
    for field in item["config"]:
        notes = [field["type"], "required" if field["required"] else "optional"]
        if field["default"] is not None:
            notes.append(f"default {_scalar(field['default'])}")
        if field["env"]:
            notes.append(f"env {field['env']}")
        about = f" - {field['description']}" if field["description"] else ""
        lines.append(f"    {field['name']:<{width}}  {', '.join(notes)}{about}")
    return "\n".join(lines)


def _bounds(metadata: list[Any]) -> str:
    """``" (>= 1, <= 14400)"`` from a field's ``ge``/``gt``/``le``/``lt`` constraints."""
    signs = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
    found = [
        f"{sign} {getattr(item, key)}"
        for item in metadata
        for key, sign in signs.items()
        if getattr(item, key, None) is not None
    ]
    return f" ({', '.join(found)})" if found else ""


def _scalar(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def literal_choices(annotation: Any) -> tuple[Any, ...]:
    """The values of a ``Literal`` in ``annotation`` (also inside ``... | None``)."""
    from typing import Literal, get_args, get_origin

    if get_origin(annotation) is Literal:
        return get_args(annotation)
    return tuple(choice for arg in get_args(annotation) for choice in literal_choices(arg))


def describe_type(annotation: Any) -> str:
    """A field's type in words: ``text``, ``integer``, ``one of stdout, stderr``..."""
    import types
    from decimal import Decimal
    from typing import Literal, Union, get_args, get_origin

    from pydantic import BaseModel, SecretBytes, SecretStr

    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return "one of " + ", ".join(_scalar(choice) for choice in args)
    if origin in (Union, types.UnionType):
        return " or ".join(describe_type(arg) for arg in args if arg is not type(None))
    if origin in (list, tuple, set, frozenset):
        return f"list of {describe_type(args[0])}" if args else "list"
    if origin is dict:
        return f"mapping of {describe_type(args[1])}" if len(args) == 2 else "mapping"
    if origin is not None and args:  # Annotated[...] and the like: the type inside
        return describe_type(args[0])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping"
    names: dict[Any, str] = {
        str: "text",
        SecretStr: "secret text",
        SecretBytes: "secret text",
        int: "integer",
        float: "number",
        Decimal: "decimal",
        bool: "true/false",
    }
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))


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
        commands = plugin["commands"]
        if isinstance(commands, list) and commands:
            click.echo("  commands:")
            width = max(len(command["name"]) for command in commands)
            for command in commands:
                click.echo(f"    {command['name']:<{width}}  {command['summary']}")


def _join(names: object) -> str:
    return ", ".join(str(name) for name in names) if isinstance(names, list) else ""
