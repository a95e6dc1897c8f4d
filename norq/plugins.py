"""Plugin discovery: one pluggy manager, built-ins first, then the ``norq`` entry points."""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Collection
from dataclasses import dataclass
from types import CodeType, FrameType
from typing import TYPE_CHECKING

import pluggy
from pydantic import BaseModel

from norq import hookspecs
from norq.errors import PluginError
from norq.provider import Provider

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    from norq.transports.base import TransportFactory

ENTRY_POINT_GROUP = "norq"
LOAD_PLUGINS_ENV = "NORQ_LOAD_PLUGINS"

# Built-in providers and transports are plugins too, registered through the same hooks.
DEFAULT_PLUGINS = ("norq.transports.http", "norq.providers.console", "norq.providers.twilio")


@dataclass(frozen=True, slots=True)
class RegisteredProvider:
    """A provider class and the plugin that registered it."""

    cls: type[Provider]
    plugin: str
    distribution: str | None
    version: str | None


def get_plugin_manager(*, load_entry_points: bool = True) -> pluggy.PluginManager:
    """A fresh plugin manager with the built-in plugins and installed entry points.

    ``NORQ_LOAD_PLUGINS`` restricts third-party plugins to a comma-separated
    list of distribution or entry-point names; set it empty to load none.
    """
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    for module_name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(module_name), name=module_name)
    if load_entry_points:
        _load_entry_points(pm, os.environ.get(LOAD_PLUGINS_ENV))
    return pm


def _load_entry_points(pm: pluggy.PluginManager, allowed_env: str | None) -> None:
    try:
        if allowed_env is None:
            pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
            return
        allowed = {_canonical(name) for name in allowed_env.split(",") if name.strip()}
        for entry in _entry_points():
            dist = entry.dist
            if _canonical(entry.name) in allowed or (
                dist is not None and _canonical(dist.name) in allowed
            ):
                pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP, name=entry.name)
    except Exception as exc:
        raise PluginError(_broken_plugin(pm, exc)) from exc


def _entry_points() -> list[EntryPoint]:
    from importlib.metadata import entry_points

    return list(entry_points(group=ENTRY_POINT_GROUP))


def _broken_plugin(pm: pluggy.PluginManager, exc: Exception) -> str:
    """Which entry point failed to load: the first not yet registered that fails again."""
    for entry in _entry_points():
        if pm.has_plugin(entry.name):
            continue
        try:
            entry.load()
        except Exception:
            dist = f" from {entry.dist.name} {entry.dist.version}" if entry.dist else ""
            return (
                f"plugin {entry.name!r} (entry point {entry.value!r}{dist}) failed to import: "
                f"{exc}; uninstall it, or leave it out with {LOAD_PLUGINS_ENV}"
            )
    return f"loading the {ENTRY_POINT_GROUP!r} entry-point plugins failed: {exc}"


def _canonical(name: str) -> str:
    """A distribution or entry-point name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name.strip()).lower()


def provider_registry(pm: pluggy.PluginManager) -> dict[str, RegisteredProvider]:
    """Ask every plugin for its providers; the host records who registered what."""
    registry: dict[str, RegisteredProvider] = {}
    distributions = _distributions(pm)
    plugin_of_code = _plugins_by_code(pm.hook.register_providers)

    def register(cls: type[Provider]) -> None:
        plugin = _calling_plugin(plugin_of_code)
        _check_provider_class(cls, plugin)
        existing = registry.get(cls.name)
        if existing is not None and existing.cls is not cls:
            raise PluginError(
                f"provider type {cls.name!r} is registered twice: by {existing.plugin!r} "
                f"and by {plugin!r}; uninstall one, or restrict plugins with "
                f"{LOAD_PLUGINS_ENV}"
            )
        dist, version = distributions.get(plugin, (None, None))
        registry[cls.name] = RegisteredProvider(cls, plugin, dist, version)

    pm.hook.register_providers(register=register)
    return registry


def transport_registry(pm: pluggy.PluginManager) -> dict[str, TransportFactory]:
    """Ask every plugin for its transports, by name; a name registered twice is an error."""
    registry: dict[str, TransportFactory] = {}
    owners: dict[str, str] = {}
    plugin_of_code = _plugins_by_code(pm.hook.register_transports)

    def register(name: str, factory: TransportFactory) -> None:
        plugin = _calling_plugin(plugin_of_code)
        if not isinstance(name, str) or not name or not callable(factory):
            raise PluginError(
                f"plugin {plugin!r} called register({name!r}, {factory!r}); expected a "
                "transport name and a factory taking norq.TransportSettings"
            )
        if name in owners and registry[name] is not factory:
            raise PluginError(
                f"transport {name!r} is registered twice: by {owners[name]!r} and by "
                f"{plugin!r}; uninstall one, or restrict plugins with {LOAD_PLUGINS_ENV}"
            )
        registry[name] = factory
        owners[name] = plugin

    pm.hook.register_transports(register=register)
    return registry


@dataclass(frozen=True, slots=True)
class RegisteredCommand:
    """A ``norq`` subcommand a plugin added: where its click command lives, and its summary."""

    name: str
    target: str
    summary: str
    plugin: str


_COMMAND_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
_COMMAND_TARGET = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def command_registry(
    pm: pluggy.PluginManager, reserved: Collection[str] = ()
) -> dict[str, RegisteredCommand]:
    """Ask every plugin for its CLI commands, by name. Nothing is imported: a command's
    module loads when it runs. A name in ``reserved`` (Norq's own) or registered twice
    is an error."""
    registry: dict[str, RegisteredCommand] = {}
    plugin_of_code = _plugins_by_code(pm.hook.register_commands)

    def register(name: str, target: str, summary: str) -> None:
        plugin = _calling_plugin(plugin_of_code)
        if not (isinstance(name, str) and _COMMAND_NAME.match(name)):
            raise PluginError(
                f"plugin {plugin!r} registered the command name {name!r}; use lower-case "
                "letters, digits and dashes, starting with a letter"
            )
        if not (isinstance(target, str) and _COMMAND_TARGET.match(target)):
            raise PluginError(
                f"plugin {plugin!r} registered command {name!r} as {target!r}; give the "
                "click command as 'package.module:attribute'"
            )
        if not isinstance(summary, str):
            raise PluginError(
                f"plugin {plugin!r} registered command {name!r} with summary {summary!r}; "
                "give one line of text for `norq --help`"
            )
        if name in reserved:
            raise PluginError(
                f"plugin {plugin!r} registered the command {name!r}, which is Norq's own; "
                "choose another name"
            )
        existing = registry.get(name)
        if existing is not None and existing.target != target:
            raise PluginError(
                f"command {name!r} is registered twice: by {existing.plugin!r} and by "
                f"{plugin!r}; uninstall one, or restrict plugins with {LOAD_PLUGINS_ENV}"
            )
        registry[name] = RegisteredCommand(name, target, " ".join(summary.split()), plugin)

    pm.hook.register_commands(register=register)
    return registry


def _plugins_by_code(hook: pluggy.HookCaller) -> dict[CodeType, str]:
    """The code of each implementation of ``hook`` -> its plugin's name."""
    return {impl.function.__code__: impl.plugin_name for impl in hook.get_hookimpls()}


def _calling_plugin(plugin_of_code: dict[CodeType, str]) -> str:
    """The plugin whose hook implementation is on the stack, calling ``register``."""
    frame: FrameType | None = sys._getframe(2)  # skip register() and this function
    while frame is not None:
        plugin = plugin_of_code.get(frame.f_code)
        if plugin is not None:
            return plugin
        frame = frame.f_back  # a plugin may call register from a helper
    return "unknown"


def _check_provider_class(cls: object, plugin: str) -> None:
    if not (isinstance(cls, type) and issubclass(cls, Provider)):
        raise PluginError(f"plugin {plugin!r} registered {cls!r}, which is not a norq.Provider")
    for attribute in ("name", "channels", "Config"):
        if not hasattr(cls, attribute):
            raise PluginError(
                f"provider {cls.__qualname__} from plugin {plugin!r} has no {attribute!r}; "
                "subclass Provider[YourConfigModel] and set name and channels"
            )
    model = cls.Config
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise PluginError(
            f"provider {cls.__qualname__} from plugin {plugin!r}: Config must be a pydantic "
            "model (subclass norq.ProviderConfig or pydantic.BaseModel); see docs/plugins.md"
        )
    # A forward reference pydantic cannot resolve would fail only at load time,
    # as a bare error; name it here instead.
    if not model.__pydantic_complete__ and not model.model_rebuild(raise_errors=False):
        raise PluginError(
            f"provider {cls.__qualname__} from plugin {plugin!r}: its Config model "
            f"{model.__qualname__} names a type pydantic cannot resolve; define the types "
            "it uses at module level (or call model_rebuild() once they exist)"
        )


def _distributions(pm: pluggy.PluginManager) -> dict[str, tuple[str | None, str | None]]:
    """Plugin name -> (distribution, version), from pluggy's record of what it loaded."""
    from norq._version import __version__

    found: dict[str, tuple[str | None, str | None]] = {
        name: ("norq", __version__) for name in DEFAULT_PLUGINS
    }
    for plugin, dist in pm.list_plugin_distinfo():
        name = pm.get_name(plugin)
        if name is not None:
            found[name] = (dist.project_name, dist.version)
    return found


def plugin_listing(pm: pluggy.PluginManager) -> list[dict[str, object]]:
    """What is installed, as ``norq plugins --json`` prints it."""
    registry = provider_registry(pm)
    commands = command_registry(pm)
    distributions = _distributions(pm)
    listing: list[dict[str, object]] = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or [])
        dist, version = distributions.get(name, (None, None))
        listing.append(
            {
                "name": name,
                "package": dist,
                "version": version,
                "hooks": hooks,
                "providers": sorted(p for p, r in registry.items() if r.plugin == name),
                "commands": [
                    {"name": c.name, "summary": c.summary, "target": c.target}
                    for c in sorted(commands.values(), key=lambda c: c.name)
                    if c.plugin == name
                ],
            }
        )
    return listing
