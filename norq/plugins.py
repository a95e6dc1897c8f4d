"""Plugin discovery: one pluggy manager, built-ins first, then the ``norq`` entry points."""

from __future__ import annotations

import importlib
import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import entry_points
from types import ModuleType

import pluggy

from norq import hookspecs
from norq.errors import PluginError
from norq.provider import Provider

logger = logging.getLogger("norq")

ENTRY_POINT_GROUP = "norq"

# Built-in providers are plugins too, registered through the same hook.
DEFAULT_PLUGINS = ("norq.providers.console", "norq.providers.twilio")


@dataclass(frozen=True, slots=True)
class RegisteredProvider:
    """A provider class and the plugin that registered it."""

    cls: type[Provider]
    plugin: str
    distribution: str | None
    version: str | None


_LoadedPlugin = tuple[str, ModuleType | object, str | None, str | None]


def _load_entry_point_plugins() -> list[_LoadedPlugin]:
    # NORQ_LOAD_PLUGINS restricts third-party plugins to a comma-separated list
    # of distribution or entry-point names; set it empty to load none.
    return _load_entry_point_plugins_cached(os.environ.get("NORQ_LOAD_PLUGINS"))


@lru_cache(maxsize=8)
def _load_entry_point_plugins_cached(allowed_env: str | None) -> list[_LoadedPlugin]:
    # Scanning installed distributions costs milliseconds; do it once per process.
    allowed = None if allowed_env is None else {n.strip() for n in allowed_env.split(",") if n}
    loaded: list[_LoadedPlugin] = []
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        dist = entry.dist
        dist_name = dist.name if dist is not None else None
        if allowed is not None and entry.name not in allowed and dist_name not in allowed:
            continue
        try:
            plugin = entry.load()
        except Exception as exc:
            raise PluginError(
                f"plugin {entry.name!r} (entry point {entry.value!r}) failed to import: {exc}"
            ) from exc
        loaded.append((entry.name, plugin, dist_name, dist.version if dist is not None else None))
    return loaded


def get_plugin_manager(*, load_entry_points: bool = True) -> pluggy.PluginManager:
    """A fresh plugin manager with the built-in plugins and installed entry points."""
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    for module_name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(module_name), name=module_name)
    if load_entry_points:
        for name, plugin, dist_name, version in _load_entry_point_plugins():
            if pm.is_registered(plugin):
                continue
            pm.register(plugin, name=name)
            _distributions[name] = (dist_name, version)
    return pm


# plugin name -> (distribution, version), for `norq providers` and `norq plugins`.
_distributions: dict[str, tuple[str | None, str | None]] = {}


def provider_registry(pm: pluggy.PluginManager) -> dict[str, RegisteredProvider]:
    """Ask every plugin for its providers; the host records who registered what."""
    registry: dict[str, RegisteredProvider] = {}
    for impl in pm.hook.register_providers.get_hookimpls():
        plugin_name = impl.plugin_name

        def register(cls: type[Provider], _plugin: str = plugin_name) -> None:
            _check_provider_class(cls, _plugin)
            existing = registry.get(cls.name)
            if existing is not None and existing.cls is not cls:
                raise PluginError(
                    f"provider type {cls.name!r} is registered twice: by {existing.plugin!r} "
                    f"and by {_plugin!r}; uninstall one, or restrict plugins with "
                    "NORQ_LOAD_PLUGINS"
                )
            dist, version = _distribution_of(_plugin)
            registry[cls.name] = RegisteredProvider(cls, _plugin, dist, version)

        impl.function(register=register)
    return registry


def _check_provider_class(cls: object, plugin: str) -> None:
    if not (isinstance(cls, type) and issubclass(cls, Provider)):
        raise PluginError(f"plugin {plugin!r} registered {cls!r}, which is not a norq.Provider")
    for attribute in ("name", "channels", "Config"):
        if not hasattr(cls, attribute):
            raise PluginError(
                f"provider {cls.__qualname__} from plugin {plugin!r} has no {attribute!r}"
            )


def _distribution_of(plugin: str) -> tuple[str | None, str | None]:
    if plugin.startswith("norq."):
        from norq._version import __version__

        return "norq", __version__
    return _distributions.get(plugin, (None, None))


def plugin_listing(pm: pluggy.PluginManager) -> list[dict[str, object]]:
    """What is installed, as ``norq plugins --json`` prints it."""
    registry = provider_registry(pm)
    listing: list[dict[str, object]] = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or [])
        dist, version = _distribution_of(name)
        listing.append(
            {
                "name": name,
                "package": dist,
                "version": version,
                "hooks": hooks,
                "providers": sorted(p for p, r in registry.items() if r.plugin == name),
            }
        )
    return listing
