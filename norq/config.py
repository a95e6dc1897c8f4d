"""Loading and validating a Norq configuration: YAML in, live providers out.

Every check happens here, once, at load time: YAML syntax, ``${VAR}``
interpolation, unknown keys, each provider's own config model, routing and
templates. All problems are collected and raised together as one
:class:`norq.ConfigError` whose lines start with the dotted path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml

from norq import schema
from norq.errors import ConfigError
from norq.interpolation import InterpolationError, interpolate
from norq.plugins import RegisteredProvider
from norq.provider import Provider
from norq.templates import Templates, load_template_dir

CONFIG_ENV = "NORQ_CONFIG"
DEFAULT_CONFIG_FILE = "norq.yaml"


@dataclass(frozen=True)
class RetrySettings:
    """``providers.<name>.retry``: overrides of the provider's retry defaults."""

    max_retries: int | None = field(default=None, metadata=schema.setting(ge=0, le=20))
    backoff: float | None = field(default=None, metadata=schema.setting(ge=0, le=300))
    multiplier: float | None = field(default=None, metadata=schema.setting(ge=1, le=10))
    max_backoff: float | None = field(default=None, metadata=schema.setting(ge=0, le=3600))
    jitter: float | None = field(default=None, metadata=schema.setting(ge=0, le=1))
    retry_after_max: float | None = field(default=None, metadata=schema.setting(ge=0, le=3600))
    retry_statuses: list[int] | None = None
    retry_unconfirmed: bool | None = None

    def overrides(self) -> dict[str, Any]:
        """The keys the YAML set, for :meth:`norq.RetryPolicy.with_overrides`."""
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class ProviderSettings:
    """``providers.<name>``: one configured provider instance."""

    type: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    retry: RetrySettings | None = None


@dataclass(frozen=True)
class ExecutorSettings:
    """``executor``: how requests go out."""

    timeout: float = field(default=10.0, metadata=schema.setting(gt=0, le=600))
    connect_timeout: float = field(default=5.0, metadata=schema.setting(gt=0, le=600))
    # transports.DEFAULT_MAX_CONNECTIONS; not imported, to keep a dry run light.
    max_connections: int = field(default=64, metadata=schema.setting(ge=1, le=10_000))
    async_transport: Literal["auto", "aiohttp", "httpx"] = "auto"


def _public_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"{value!r} is not an http(s) URL; give the URL Twilio requests, "
            "such as https://hooks.example.com/twilio"
        )
    if parts.query or parts.fragment:
        raise ValueError(f"{value!r} must not have a query or fragment; the request adds its own")
    return value.rstrip("/")


@dataclass(frozen=True)
class WebhookSettings:
    """``webhooks``: how the webhook apps see themselves from outside."""

    # The URL at which the provider reaches the webhook app's root, when a
    # proxy or tunnel makes it differ from what the app sees; signatures cover it.
    public_url: str | None = field(default=None, metadata=schema.setting(check=_public_url))


@dataclass(frozen=True)
class _Document:
    providers: dict[str, ProviderSettings] = field(default_factory=dict)
    routing: dict[str, str | list[str]] = field(default_factory=dict)
    templates: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    templates_dir: str | None = None
    executor: ExecutorSettings = field(default_factory=ExecutorSettings)
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)


TOP_LEVEL_KEYS = tuple(schema.keys(_Document))


@dataclass
class NorqConfig:
    """A validated configuration: provider instances, routes, templates."""

    providers: dict[str, Provider]
    routing: dict[str, tuple[str, ...]]
    templates: Templates
    executor: ExecutorSettings
    registry: dict[str, RegisteredProvider]
    source: str = "<dict>"
    from_env: tuple[str, ...] = field(default=())
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)

    def secret_values(self) -> list[str]:
        return [secret for p in self.providers.values() for secret in p.secret_values()]


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that rejects duplicate keys instead of keeping the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path) -> Any:
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(f"{where}: YAML syntax error: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: YAML error: {exc}") from None


def discover_config_path(environ: Mapping[str, str] | None = None) -> Path | None:
    """``$NORQ_CONFIG`` if set, else ``./norq.yaml`` if it exists, else ``None``."""
    environ = os.environ if environ is None else environ
    explicit = environ.get(CONFIG_ENV)
    if explicit:
        return Path(explicit)
    candidate = Path(DEFAULT_CONFIG_FILE)
    return candidate if candidate.is_file() else None


def load_config(
    document: Any,
    registry: dict[str, RegisteredProvider],
    *,
    environ: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
    source: str = "<dict>",
) -> NorqConfig:
    """Validate a parsed document against the registered providers."""
    environ = os.environ if environ is None else environ
    errors: list[tuple[str, str]] = []
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ConfigError(
            f"{source}: the top level must be a mapping with keys "
            + ", ".join(TOP_LEVEL_KEYS)
            + f"; got {type(document).__name__}"
        )
    document = _interpolate_tree(document, environ, "", errors)
    # Report unknown top-level keys alongside everything else, not instead of it.
    for key in [k for k in document if k not in TOP_LEVEL_KEYS]:
        errors.append((str(key), f"unknown top-level key; allowed: {', '.join(TOP_LEVEL_KEYS)}"))
        del document[key]
    try:
        parsed = schema.validate(_Document, document)
    except schema.Invalid as exc:
        errors.extend(exc.errors)
        raise ConfigError.collect(errors) from None

    providers: dict[str, Provider] = {}
    for instance, settings in parsed.providers.items():
        provider = _build_provider(instance, settings, registry, errors)
        if provider is not None:
            providers[instance] = provider

    from_env = _providers_from_env(parsed, registry, environ, providers, errors)
    routing = _resolve_routing(parsed.routing, providers, registry, from_env, parsed, errors)

    sources: dict[str, Any] = {k: dict(v) for k, v in parsed.templates.items()}
    if parsed.templates_dir is not None:
        directory = Path(parsed.templates_dir)
        if not directory.is_absolute() and base_dir is not None:
            directory = base_dir / directory
        for name, channels in load_template_dir(directory, errors).items():
            for channel, parts in channels.items():
                if channel in sources.get(name, {}):
                    errors.append(
                        (
                            f"templates.{name}.{channel}",
                            f"defined both in the YAML and in {directory}; keep one",
                        )
                    )
                    continue
                sources.setdefault(name, {})[channel] = parts
    templates = Templates.compile(sources, errors)

    if errors:
        raise ConfigError.collect(errors)
    return NorqConfig(
        providers=providers,
        routing=routing,
        templates=templates,
        executor=parsed.executor,
        registry=registry,
        source=source,
        from_env=tuple(from_env),
        webhooks=parsed.webhooks,
    )


def _interpolate_tree(
    value: Any, environ: Mapping[str, str], path: str, errors: list[tuple[str, str]]
) -> Any:
    if isinstance(value, str):
        try:
            return interpolate(value, environ)
        except InterpolationError as exc:
            errors.append((path, str(exc)))
            return value
    if isinstance(value, dict):
        return {
            key: _interpolate_tree(item, environ, f"{path}.{key}" if path else str(key), errors)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [
            _interpolate_tree(item, environ, f"{path}[{i}]", errors) for i, item in enumerate(value)
        ]
    return value


def _build_provider(
    instance: str,
    settings: ProviderSettings,
    registry: dict[str, RegisteredProvider],
    errors: list[tuple[str, str]],
) -> Provider | None:
    type_name = settings.type or instance
    registered = registry.get(type_name)
    path = f"providers.{instance}"
    if registered is None:
        known = ", ".join(sorted(registry)) or "none"
        where = f"{path}.type" if settings.type else path
        errors.append(
            (
                where,
                f"unknown provider type {type_name!r}; installed types: {known}. "
                "Set `type:` to one of them or install the plugin that provides it",
            )
        )
        return None
    cls = registered.cls
    try:
        config = schema.validate(cls.Config, settings.config, f"{path}.config")
    except schema.Invalid as exc:
        errors.extend(exc.errors)
        return None
    retry = cls.default_retry
    if settings.retry is not None:
        try:
            retry = retry.with_overrides(settings.retry.overrides())
        except ValueError as exc:
            errors.append((f"{path}.retry", str(exc)))
            return None
    try:
        return cls(config, instance=instance, retry=retry)
    except (ValueError, ConfigError) as exc:
        errors.append((f"{path}.config", str(exc)))
        return None


def env_var_names(cls: type[Provider]) -> dict[str, str]:
    """Config field alias -> ``NORQ_<PREFIX>_<FIELD>`` for a provider with an env prefix."""
    if cls.env_prefix is None:
        return {}
    return {
        item.key: f"NORQ_{cls.env_prefix}_{item.key.upper()}" for item in schema.fields(cls.Config)
    }


def _providers_from_env(
    parsed: _Document,
    registry: dict[str, RegisteredProvider],
    environ: Mapping[str, str],
    providers: dict[str, Provider],
    errors: list[tuple[str, str]],
) -> list[str]:
    """Register undeclared providers from ``NORQ_<PREFIX>_*`` variables (seed 000)."""
    registered = []
    declared_types = {s.type or name for name, s in parsed.providers.items()}
    for type_name, entry in sorted(registry.items()):
        cls = entry.cls
        if cls.env_prefix is None or type_name in parsed.providers or type_name in declared_types:
            continue
        names = env_var_names(cls)
        required = {item.key for item in schema.fields(cls.Config) if item.required}
        # Optional variables alone (say NORQ_TWILIO_BASE_URL) do not configure
        # a provider; any required one does, and then the rest must be valid.
        if not any(environ.get(names[key]) for key in required):
            continue
        data = {key: environ[var] for key, var in names.items() if environ.get(var)}
        try:
            config = schema.validate(cls.Config, data)
        except schema.Invalid as exc:
            for path, reason in exc.errors:
                key = path.split(".")[0]
                where = f"env {names[key]}" if key in names else f"env NORQ_{cls.env_prefix}_*"
                errors.append((where, reason))
            continue
        try:
            providers[type_name] = cls(config, instance=type_name, retry=cls.default_retry)
        except (ValueError, ConfigError) as exc:
            errors.append((f"env NORQ_{cls.env_prefix}_*", str(exc)))
            continue
        registered.append(type_name)
    return registered


def _resolve_routing(
    routing: dict[str, str | list[str]],
    providers: dict[str, Provider],
    registry: dict[str, RegisteredProvider],
    from_env: list[str],
    parsed: _Document,
    errors: list[tuple[str, str]],
) -> dict[str, tuple[str, ...]]:
    resolved: dict[str, tuple[str, ...]] = {}
    for channel, target in routing.items():
        path = f"routing.{channel}"
        chain = [target] if isinstance(target, str) else list(target)
        if not chain:
            errors.append((path, "an empty list routes nowhere; name at least one provider"))
            continue
        if len(set(chain)) != len(chain):
            errors.append((path, "a provider is listed twice in the failover order"))
            continue
        ok = True
        for instance in chain:
            provider = providers.get(instance)
            if provider is None:
                if instance in parsed.providers:
                    ok = False  # its own error is already reported
                    continue
                known = ", ".join(sorted(providers)) or "none are configured"
                errors.append(
                    (path, f"routes to {instance!r}, which is not a configured provider ({known})")
                )
                ok = False
            elif not provider.supports(channel):
                served = ", ".join(sorted(provider.channels))
                errors.append(
                    (
                        path,
                        f"provider {instance!r} (type {provider.name}) does not support channel "
                        f"{channel!r}; it serves: {served}",
                    )
                )
                ok = False
        if ok:
            resolved[channel] = tuple(chain)
    # A provider configured from the environment serves its channels unless the
    # YAML routes them elsewhere: with no YAML at all, env vars alone suffice.
    for instance in from_env:
        for channel in sorted(providers[instance].channels):
            if channel != "*" and channel not in routing:
                resolved[channel] = (instance,)
    return resolved
