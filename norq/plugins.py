"""Plugin discovery: one pluggy manager, built-ins first, then the ``norq`` entry points."""

from __future__ import annotations

import importlib
import logging
import os
import sys
from dataclasses import dataclass
from functools import lru_cache
from types import ModuleType
from typing import TYPE_CHECKING, NamedTuple

import pluggy
from pydantic import BaseModel

from norq import hookspecs
from norq.errors import PluginError
from norq.provider import Provider

if TYPE_CHECKING:
    from norq.transports import TransportFactory

logger = logging.getLogger("norq")

ENTRY_POINT_GROUP = "norq"

# Built-in providers and transports are plugins too, registered through the same hooks.
DEFAULT_PLUGINS = ("norq.transports", "norq.providers.console", "norq.providers.twilio")


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
    for entry in _entry_points(ENTRY_POINT_GROUP):
        if allowed is not None and entry.name not in allowed and entry.dist_name not in allowed:
            continue
        try:
            plugin = _load_entry_point(entry.value)
        except Exception as exc:
            raise PluginError(
                f"plugin {entry.name!r} (entry point {entry.value!r}) failed to import: {exc}"
            ) from exc
        loaded.append((entry.name, plugin, entry.dist_name, entry.version))
    return loaded


# --- Entry-point discovery without importlib.metadata -------------------------------
#
# ``importlib.metadata.entry_points(group=...)`` costs 25-40 ms of start-up on every
# ``norq`` command: it imports email, zipfile, csv, pathlib, ... and parses the
# metadata of every installed distribution.  The scanner below reads only what the
# ``norq`` group needs, with importlib.metadata's semantics: sys.path in order,
# ``*.dist-info`` / ``*.egg-info`` children, one distribution per normalized name
# (first on sys.path wins), ``entry_points.txt`` in INI syntax, Name and Version from
# the METADATA / PKG-INFO headers.  Anything it does not handle (a zip or other file
# on sys.path, an ``.egg`` directory, a custom distribution finder on sys.meta_path)
# falls back to importlib.metadata itself.


_INFO_SUFFIXES = (".dist-info", ".egg-info")


class _EntryPoint(NamedTuple):
    name: str
    value: str
    dist_name: str | None
    version: str | None


class _NeedsImportlibMetadata(Exception):
    """The fast scanner met a layout it does not handle."""


def _entry_points(group: str) -> list[_EntryPoint]:
    """The entry points in ``group``, as ``importlib.metadata.entry_points(group=...)``.

    Scanned directly, so that start-up does not pay for importing importlib.metadata.
    """
    try:
        return _scan_entry_points(group)
    except _NeedsImportlibMetadata:
        return _importlib_entry_points(group)


def _importlib_entry_points(group: str) -> list[_EntryPoint]:
    from importlib.metadata import entry_points

    found: list[_EntryPoint] = []
    for entry in entry_points(group=group):
        dist = entry.dist
        found.append(
            _EntryPoint(
                entry.name,
                entry.value,
                dist.name if dist is not None else None,
                dist.version if dist is not None else None,
            )
        )
    return found


def _scan_entry_points(group: str) -> list[_EntryPoint]:
    from importlib.machinery import PathFinder

    # importlib.metadata asks every finder on sys.meta_path; only PathFinder's
    # answer (the sys.path walk below) is reproduced here.
    if any(
        finder is not PathFinder and hasattr(finder, "find_distributions")
        for finder in sys.meta_path
    ):
        raise _NeedsImportlibMetadata
    found: list[_EntryPoint] = []
    seen: set[str] = set()
    for path_entry in sys.path:
        if not isinstance(path_entry, str):
            raise _NeedsImportlibMetadata
        if path_entry.lower().endswith(".egg"):
            raise _NeedsImportlibMetadata  # an unpacked egg: its EGG-INFO counts too
        try:
            with os.scandir(path_entry or ".") as children:
                infos = [c for c in children if c.name.lower().endswith(_INFO_SUFFIXES)]
        except NotADirectoryError:
            raise _NeedsImportlibMetadata from None  # a zip file (or an egg) on sys.path
        except OSError:
            continue  # missing or unreadable: importlib.metadata skips it too
        for info in infos:
            key = _normalize(info.name.lower().rpartition(".")[0].partition("-")[0])
            if key in seen:
                continue
            # A legacy ``name.egg-info`` *file* still claims its name, with no entry points.
            seen.add(key)
            if not info.is_dir():
                continue
            text = _read_text(os.path.join(info.path, "entry_points.txt"))
            if text is None:
                continue
            pairs = _parse_entry_points(text, group)
            if pairs:
                dist_name, version = _distribution_name_version(info.path, info.name)
                found.extend(_EntryPoint(n, v, dist_name, version) for n, v in pairs)
    return found


def _normalize(name: str) -> str:
    """PEP 503: lower case, runs of ``-``, ``_`` and ``.`` become one ``-``."""
    out: list[str] = []
    for char in name.lower():
        if char in "-_.":
            if not out or out[-1] != "-":
                out.append("-")
        else:
            out.append(char)
    return "".join(out)


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as stream:
            return stream.read()
    except (OSError, UnicodeDecodeError):
        return None


def _parse_entry_points(text: str, group: str) -> list[tuple[str, str]]:
    """``name = value`` pairs of the ``[group]`` section of an ``entry_points.txt``.

    Blank lines and ``#`` / ``;`` comments are skipped, names and values stripped;
    a line without ``=`` is ignored (importlib.metadata would raise on it).
    """
    pairs: list[tuple[str, str]] = []
    in_group = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line[0] == "[" and line[-1] == "]":
            in_group = line[1:-1].strip() == group
        elif in_group:
            name, equals, value = line.partition("=")
            if equals:
                pairs.append((name.strip(), value.strip()))
    return pairs


def _distribution_name_version(info_path: str, info_name: str) -> tuple[str, str | None]:
    """Name and Version from the METADATA (or PKG-INFO) headers, else from the directory."""
    headers: dict[str, str] = {}
    for filename in ("METADATA", "PKG-INFO"):
        try:
            with open(os.path.join(info_path, filename), encoding="utf-8") as stream:
                for line in stream:
                    if not line.strip():
                        break  # the headers end at the first blank line; the body follows
                    key, colon, value = line.partition(":")
                    key = key.strip().lower()
                    if colon and key in ("name", "version"):
                        headers.setdefault(key, value.strip())  # the first one counts
        except (OSError, UnicodeDecodeError):
            pass
        if headers:
            break
    fallback_name, _, rest = info_name.rpartition(".")[0].partition("-")
    return (
        headers.get("name") or fallback_name,
        headers.get("version") or rest.partition("-")[0] or None,
    )


def _load_entry_point(value: str) -> object:
    """``module`` or ``module:attr.path``, optionally followed by ``[extras]``."""
    module_name, _, attr_path = value.partition("[")[0].partition(":")
    target: object = importlib.import_module(module_name.strip())
    for attr in attr_path.strip().split("."):
        if attr:
            target = getattr(target, attr)
    return target


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


def transport_registry(pm: pluggy.PluginManager) -> dict[str, TransportFactory]:
    """Ask every plugin for its transports, by name; a name registered twice is an error."""
    registry: dict[str, TransportFactory] = {}
    owners: dict[str, str] = {}
    for impl in pm.hook.register_transports.get_hookimpls():
        plugin_name = impl.plugin_name

        def register(name: str, factory: TransportFactory, _plugin: str = plugin_name) -> None:
            if not isinstance(name, str) or not name or not callable(factory):
                raise PluginError(
                    f"plugin {_plugin!r} called register({name!r}, {factory!r}); expected a "
                    "transport name and a factory taking norq.TransportSettings"
                )
            if name in owners and registry[name] is not factory:
                raise PluginError(
                    f"transport {name!r} is registered twice: by {owners[name]!r} and by "
                    f"{_plugin!r}; uninstall one, or restrict plugins with NORQ_LOAD_PLUGINS"
                )
            registry[name] = factory
            owners[name] = _plugin

        impl.function(register=register)
    return registry


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
