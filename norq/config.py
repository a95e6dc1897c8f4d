"""Loading and validating a Norq configuration: YAML in, live providers out.

Every check happens here, once, at load time: YAML syntax, ``${VAR}``
interpolation, unknown keys, each provider's own config model, routing and
templates. :class:`NorqDocument` is the shape of the whole file, and every
section goes through it, but on its own, so a broken ``executor:`` or a
misspelt ``retry:`` does not hide the problems elsewhere; all of them are
raised together as one :class:`norq.ConfigError` whose lines start with the
dotted path (and, for a YAML file, ``file:line:col``). What needs more than
one section (routes to configured providers, templates for each routed
channel) is checked after.

The sections are pydantic models; :func:`problems` turns pydantic's errors into
plain sentences that never repeat the rejected value (it may be a secret typed
into the wrong key).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args
from urllib.parse import parse_qs, urlsplit

import yaml
from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator

from norq._files import NotUtf8, read_utf8
from norq.errors import ConfigError
from norq.formats import BASE_URL
from norq.interpolation import InterpolationError, interpolate
from norq.plugins import RegisteredProvider
from norq.provider import Provider
from norq.provider_config import ProviderConfig
from norq.rate_limits import RateLimits
from norq.retry import RetryPolicy
from norq.templates import Templates, load_template_dir

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

CONFIG_ENV = "NORQ_CONFIG"
DEFAULT_CONFIG_FILE = "norq.yaml"
#: The ``source`` of a config that discovery found no file for.
NO_CONFIG_FILE = "<no config file>"
# Variables Norq reads besides the providers' NORQ_<PREFIX>_<FIELD> ones.
_OTHER_VARIABLES = frozenset({CONFIG_ENV, "NORQ_LOAD_PLUGINS"})

Problems = list[tuple[str, str]]


class _Section(ProviderConfig):
    """The core sections follow the same rules Norq recommends for provider configs."""


class RateLimitSettings(_Section):
    """``providers.<name>.rate_limits``: overrides of the provider's documented limits.

    ``0`` turns a limit off; ``sender_per_second: auto`` asks the provider for the
    documented rate of its sender's kind (Twilio: long code 1, toll-free 3, short code 100).
    """

    requests_per_second: float | None = Field(
        default=None, ge=0, description="Requests per second of this instance (0: no limit)"
    )
    max_in_flight: int | None = Field(
        default=None, ge=0, description="Requests in flight at once (0: no limit)"
    )
    sender_per_second: float | Literal["auto"] | None = Field(
        default=None, description="Messages per second from one sender, or auto (0: no limit)"
    )

    @field_validator("sender_per_second", mode="before")
    @classmethod
    def _rate_or_auto(cls, value: Any) -> Any:
        if value is None or value == "auto":
            return value
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            raise ValueError(
                f"{value!r} is not a rate: write messages per second as a number (0 for no "
                "limit), or auto for the provider's documented rate for the sender's kind"
            )
        return float(value)


class ProviderSettings(_Section):
    """``providers.<name>``: one configured provider instance."""

    type: str | None = Field(default=None, description="Provider type; defaults to the name")
    config: dict[str, Any] = Field(default_factory=dict, description="The provider's settings")
    retry: RetryPolicy | None = Field(
        default=None, description="Overrides of the provider's retry defaults"
    )
    rate_limits: RateLimitSettings | None = None


class ExecutorSettings(_Section):
    """``executor``: how requests go out."""

    timeout: float = Field(default=10.0, gt=0, le=600, description="Seconds per attempt")
    connect_timeout: float = Field(default=5.0, gt=0, le=600, description="Seconds to connect")
    # transports.DEFAULT_MAX_CONNECTIONS; not imported, to keep a dry run light.
    max_connections: int = Field(default=64, ge=1, le=10_000, description="Connection pool size")
    async_transport: Literal["auto", "aiohttp", "httpx"] = Field(
        default="auto", description="HTTP client for async sends"
    )
    # transports.DEFAULT_MAX_RESPONSE_BYTES, for the same reason.
    max_response_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1024,
        le=1024**3,
        description="Largest answer body read, in bytes after decompression; larger is "
        "bad_response",
    )


class WebhookSettings(_Section):
    """``webhooks``: how the webhook apps see themselves from outside."""

    # The URL at which the provider reaches the webhook app's root, when a
    # proxy or tunnel makes it differ from what the app sees; signatures cover it.
    public_url: str | None = Field(
        default=None,
        description="URL at which the provider reaches the webhook app's root, as it signs "
        "it; set it behind a reverse proxy or tunnel",
    )

    @field_validator("public_url")
    @classmethod
    def _absolute_http_url(cls, value: str | None) -> str | None:
        return None if value is None else BASE_URL.validate(value)


class TelemetrySettings(_Section):
    """``telemetry``: spans and metrics for every send (norq.contrib.opentelemetry)."""

    opentelemetry: bool = Field(
        default=False,
        description="Report each notification and attempt through the OpenTelemetry API "
        "(pip install 'norq[otel]')",
    )
    recipient_hash_salt: SecretStr | None = Field(
        default=None,
        min_length=16,
        description="When set, spans carry norq.recipient.hash, a salted SHA-256 of the "
        "recipient; recipients are never in telemetry otherwise",
    )

    def secret_values(self) -> list[str]:
        salt = self.recipient_hash_salt
        return [] if salt is None else [salt.get_secret_value()]


class CelerySettings(_Section):
    """``celery``: bulk jobs on Celery workers, with Redis as broker and store (norq.jobs)."""

    broker_url: str = Field(description="Redis URL of the Celery broker")
    redis_url: str | None = Field(
        default=None,
        description="Redis for receipts, the ledger and shared limits (default: broker_url)",
    )
    queue: str = Field(default="norq", description="Celery queue the jobs go to")
    chunk_size: int = Field(default=100, ge=1, le=10_000, description="Recipients per task")
    rows_in_flight: int | None = Field(
        default=None,
        ge=1,
        le=1024,
        description="Rows in flight per worker process (default: the provider's in-flight "
        "limit, at most executor.max_connections)",
    )
    resend_unconfirmed: bool = Field(
        default=False, description="Re-send rows a dead worker left unanswered, unasked"
    )
    store_patience: float = Field(
        default=300.0,
        gt=0,
        le=86_400,
        description="Seconds a worker waits for an unavailable Redis before it stops",
    )
    limits_without_store: Literal["per_process", "fail"] = Field(
        default="per_process",
        description="While Redis is unreachable: keep rate limits per process (with a "
        "warning), or fail the send",
    )
    visibility_timeout: float = Field(
        default=3600.0, gt=0, description="Seconds before a dead worker's task is redelivered"
    )
    result_ttl: float = Field(
        default=7 * 24 * 3600.0, gt=0, description="Seconds a job's receipts are kept"
    )
    options: dict[str, Any] = Field(default_factory=dict, description="More Celery settings")

    @field_validator("broker_url", "redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(
                "is not a Redis URL: write it like redis://127.0.0.1:6379/0 "
                "(rediss:// for TLS, unix:///path/redis.sock for a socket)"
            )
        return value

    @property
    def store_url(self) -> str:
        return self.redis_url or self.broker_url

    def secret_values(self) -> list[str]:
        """The passwords inside the Redis URLs, so output can redact them.

        redis-py and Celery read one from the URL's user part or its
        ``?password=`` parameter (the only way for a ``unix://`` socket).
        """
        found: list[str] = []
        for url in (self.broker_url, self.redis_url):
            if not url:
                continue
            parts = urlsplit(url)
            candidates = [parts.password, *parse_qs(parts.query).get("password", [])]
            found.extend(password for password in candidates if password)
        return found

    def __repr__(self) -> str:
        return f"<CelerySettings queue={self.queue!r} chunk_size={self.chunk_size}>"

    __str__ = __repr__


class NotificationSettings(_Section):
    """``notifications.<name>``: one notification, sent to a contact on several channels."""

    # Any channel a configured provider serves: load_config checks each is routed.
    channels: list[Annotated[str, Field(min_length=1)]] = Field(
        min_length=1, description="The channels to use, in order"
    )
    strategy: Literal["all", "first"] = Field(
        default="all",
        description="all: every channel the contact has; first: in order until one delivers",
    )
    template: str | None = Field(
        default=None, min_length=1, description="The template (default: the notification's name)"
    )

    @field_validator("channels")
    @classmethod
    def _each_once(cls, channels: list[str]) -> list[str]:
        repeated = sorted({channel for channel in channels if channels.count(channel) > 1})
        if repeated:
            raise ValueError(f"{', '.join(repeated)} listed more than once")
        return channels


class NorqDocument(_Section):
    """The whole of ``norq.yaml``: what :func:`load_config` validates each section against.

    ``routing:`` is read by hand first, for messages that say what a channel
    name must be; the JSON Schema (``norq config schema``) comes from here too.
    """

    providers: dict[str, ProviderSettings] = Field(
        default_factory=dict, description="Provider instances by name"
    )
    routing: dict[str, str | list[str]] = Field(
        default_factory=dict, description="Channel -> provider, or a failover list"
    )
    templates: dict[str, dict[str, dict[str, str]]] = Field(
        default_factory=dict, description="name -> channel -> part -> Jinja2 source"
    )
    templates_dir: str | None = Field(
        default=None, description="Directory of NAME.CHANNEL[.PART].j2 files"
    )
    notifications: dict[str, NotificationSettings] = Field(
        default_factory=dict, description="Multi-channel notifications by name"
    )
    executor: ExecutorSettings = Field(default_factory=ExecutorSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
    celery: CelerySettings | None = None


TOP_LEVEL_KEYS = tuple(NorqDocument.model_fields)


@dataclass(frozen=True)
class EnvironmentScan:
    """The ``NORQ_*`` variables seen while loading: those a provider reads, and the
    ones that look like a misspelling of one (``NORQ_TWILO_ACCOUNT_SID``)."""

    variables: tuple[str, ...] = ()
    near_misses: tuple[tuple[str, str], ...] = ()

    def notes(self) -> list[str]:
        return [f"{typed} looks like {meant}" for typed, meant in self.near_misses]


def scan_environment(
    environ: Mapping[str, str], registry: Mapping[str, RegisteredProvider]
) -> EnvironmentScan:
    """Names only, never values: what is set, and what was probably meant."""
    import difflib

    known = {
        variable
        for entry in registry.values()
        if entry.cls.env_prefix is not None
        for variable in env_var_names(entry.cls).values()
    }
    present = sorted(name for name in environ if name.startswith("NORQ_"))
    near = []
    for name in present:
        if name in known or name in _OTHER_VARIABLES:
            continue
        close = difflib.get_close_matches(name, known | _OTHER_VARIABLES, n=1, cutoff=0.85)
        if close:
            near.append((name, close[0]))
    return EnvironmentScan(tuple(n for n in present if n in known), tuple(near))


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
    celery: CelerySettings | None = None
    notifications: dict[str, NotificationSettings] = field(default_factory=dict)
    telemetry: TelemetrySettings = field(default_factory=TelemetrySettings)
    environment: EnvironmentScan = field(default_factory=EnvironmentScan)

    def read_from(self) -> str:
        """Which config this is: the file read, or why there was none."""
        if self.source == NO_CONFIG_FILE:
            return (
                f"no config file (${CONFIG_ENV} is not set and there is no ./{DEFAULT_CONFIG_FILE})"
            )
        if self.source == "<dict>":
            return "the config passed as a dict"
        return f"the config file {self.source}"

    def origin(self) -> str:
        """Where Norq looked, for an error a wrong or missing config may cause."""
        found = ", ".join(self.environment.variables) or "none"
        lines = [f"Norq read {self.read_from()}", f"NORQ_<PROVIDER>_* variables set: {found}"]
        lines += self.environment.notes()
        if not self.from_env:
            lines.append("`norq providers` lists the variables that configure each provider")
        return "; ".join(lines)

    def secret_values(self) -> list[str]:
        found = [secret for p in self.providers.values() for secret in p.secret_values()]
        found.extend(self.telemetry.secret_values())
        if self.celery is not None:
            found.extend(self.celery.secret_values())
        return found


#: Deepest nesting a config may have. Real ones are a few levels deep; without
#: a bound, a file of ``[[[[...`` exhausts the parser's stack.
MAX_DEPTH = 64
#: Most values a config may hold once every alias is expanded. Real ones hold
#: hundreds; YAML's "billion laughs" turns 400 bytes into gigabytes.
MAX_VALUES = 100_000


class _TooLarge(Exception):
    """The document exceeds MAX_DEPTH or MAX_VALUES; ``mark`` is where, if known."""

    def __init__(self, problem: str, mark: yaml.Mark | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.mark = mark


def _too_deep() -> str:
    return (
        f"nested more than {MAX_DEPTH} levels deep; a config is a few levels deep, "
        "so check the file for brackets that never close"
    )


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that rejects duplicate keys and nesting beyond :data:`MAX_DEPTH`."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        # Composing recurses once per level: stop before Python's stack does.
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _TooLarge(_too_deep(), self.peek_event().start_mark)  # type: ignore[no-untyped-call]
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

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


class YamlDocument(dict[Any, Any]):
    """A parsed YAML mapping that remembers where each dotted path was written."""

    def __init__(self, data: dict[Any, Any], source: str, marks: dict[str, str]) -> None:
        super().__init__(data)
        self.source = source
        self.marks = marks


def read_yaml(path: Path) -> Any:
    try:
        text = read_utf8(path)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from None
    except NotUtf8 as exc:
        raise ConfigError(str(exc)) from None
    loader = _UniqueKeyLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_expanded_size(node)
        data = loader.construct_document(node) if node is not None else None
    except _TooLarge as exc:
        where = f"{path}:{exc.mark.line + 1}:{exc.mark.column + 1}" if exc.mark else str(path)
        raise ConfigError(f"{where}: {exc.problem}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(f"{where}: YAML syntax error: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: YAML error: {exc}") from None
    finally:
        loader.dispose()
    if node is None or not isinstance(data, dict):
        return data
    marks: dict[str, str] = {}
    _record_marks(node, "", str(path), marks)
    return YamlDocument(data, str(path), marks)


def _check_expanded_size(root: yaml.Node) -> None:
    """Refuse a document whose aliases, expanded, nest too deep or hold too many values.

    PyYAML shares an aliased node instead of copying it, but every walk over
    the data (interpolation, validation, locating errors) visits each alias
    in full. So each node's expanded size and depth are counted once, from
    its children's, without expanding anything.
    """
    sizes: dict[int, tuple[int, int] | None] = {}

    def measure(node: yaml.Node) -> tuple[int, int]:
        key = id(node)
        if key in sizes:
            known = sizes[key]
            if known is None:
                raise _TooLarge("an alias refers to a node that contains it", node.start_mark)
            return known
        sizes[key] = None  # being measured: meeting it again is a cycle
        children: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        count, depth = 1, 1
        for child in children:
            child_count, child_depth = measure(child)
            count += child_count
            depth = max(depth, child_depth + 1)
        if depth > MAX_DEPTH:
            raise _TooLarge(_too_deep() + " once its aliases are expanded", node.start_mark)
        if count > MAX_VALUES:
            raise _TooLarge(
                f"holds more than {MAX_VALUES:,} values once its aliases are expanded; "
                "a config holds far fewer, so check what its aliases (*name) refer to"
            )
        sizes[key] = (count, depth)
        return count, depth

    measure(root)


def _record_marks(node: yaml.Node, path: str, source: str, marks: dict[str, str]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = _join(path, key_node.value)
            mark = key_node.start_mark
            marks[key] = f"{source}:{mark.line + 1}:{mark.column + 1}"
            _record_marks(value_node, key, source, marks)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            key = f"{path}[{index}]"
            mark = item.start_mark
            marks[key] = f"{source}:{mark.line + 1}:{mark.column + 1}"
            _record_marks(item, key, source, marks)


def _where(path: str, marks: Mapping[str, str]) -> str | None:
    """The position of ``path`` in the file, or of its nearest written ancestor."""
    while path:
        if path in marks:
            return marks[path]
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return None


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
    marks = document.marks if isinstance(document, YamlDocument) else {}
    errors: Problems = []
    if document is None:
        document = {}
    if not isinstance(document, Mapping):
        raise ConfigError(
            f"{source}: the top level must be a mapping with keys "
            + ", ".join(TOP_LEVEL_KEYS)
            + f"; got {_kind(document)}"
        )
    try:
        document = _interpolate_tree(dict(document), environ, "", errors)
    except _TooLarge as exc:
        raise ConfigError(f"{source}: {exc.problem}") from None
    for key in [k for k in document if k not in TOP_LEVEL_KEYS]:
        errors.append((str(key), f"unknown top-level key; allowed: {', '.join(TOP_LEVEL_KEYS)}"))

    # Each section goes through the one model of the whole file, NorqDocument,
    # but on its own (a provider entry alone), so that one broken section does
    # not hide the problems of the others.
    settings = _validated(
        {key: document[key] for key in _SETTINGS if document.get(key) is not None}, errors
    )
    entries = _provider_entries(document.get("providers"), errors)
    providers: dict[str, Provider] = {}
    for instance, raw in entries.items():
        provider = _build_provider(instance, raw, registry, errors)
        if provider is not None:
            providers[instance] = provider
    from_env = _providers_from_env(entries, registry, environ, providers, errors)
    declared_routes = _routing_section(document.get("routing"), errors)
    routing = _resolve_routing(declared_routes, providers, from_env, entries, errors)
    templates = _templates(document, base_dir, errors)
    # A channel whose routing is already reported (say its provider has a bad
    # type) is not reported again as "not routed" by the notifications using it.
    reported = set(declared_routes).difference(routing)
    notifications = _notifications(
        document.get("notifications"), routing, reported, templates, errors
    )

    environment = scan_environment(environ, registry)
    if errors:
        for typed, meant in environment.near_misses:
            errors.append((f"env {typed}", f"not a variable Norq reads; did you mean {meant}?"))
        raise ConfigError.collect(errors, {p: w for p, _ in errors if (w := _where(p, marks))})
    assert settings is not None  # no errors, so the sections validated
    return NorqConfig(
        providers=providers,
        routing=routing,
        templates=templates,
        executor=settings.executor,
        registry=registry,
        source=source,
        from_env=tuple(from_env),
        webhooks=settings.webhooks,
        celery=settings.celery,
        notifications=notifications,
        environment=environment,
        telemetry=settings.telemetry,
    )


#: The sections that hold settings, validated together: nothing else refers to them.
_SETTINGS = ("executor", "webhooks", "telemetry", "celery")


def _validated(sections: Mapping[str, Any], errors: Problems) -> NorqDocument | None:
    """``sections`` of a config as a :class:`NorqDocument` (the rest left at their
    defaults), or ``None`` with every problem added to ``errors``."""
    try:
        return NorqDocument.model_validate(sections)
    except ValidationError as exc:
        errors.extend(problems(exc, "", NorqDocument))
        return None


def _interpolate_tree(
    value: Any, environ: Mapping[str, str], path: str, errors: Problems, depth: int = 1
) -> Any:
    if isinstance(value, str):
        try:
            return interpolate(value, environ)
        except InterpolationError as exc:
            errors.append((path, str(exc)))
            return value
    if depth > MAX_DEPTH:
        # A document built in Python has no parser to stop it: this walk does.
        raise _TooLarge(_too_deep())
    if isinstance(value, dict):
        return {
            key: _interpolate_tree(item, environ, _join(path, key), errors, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [
            _interpolate_tree(item, environ, f"{path}[{i}]", errors, depth + 1)
            for i, item in enumerate(value)
        ]
    return value


def _provider_entries(raw: Any, errors: Problems) -> dict[str, Any]:
    """``providers:`` as instance name -> its (not yet validated) mapping."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        errors.append(("providers", f"expected a mapping of provider names, got {_kind(raw)}"))
        return {}
    entries: dict[str, Any] = {}
    for instance, entry in raw.items():
        if not isinstance(instance, str):
            errors.append((f"providers.{instance}", f"names must be text; quote {instance!r}"))
            continue
        entries[instance] = {} if entry is None else entry
    return entries


def _build_provider(
    instance: str, raw: Any, registry: dict[str, RegisteredProvider], errors: Problems
) -> Provider | None:
    path = f"providers.{instance}"
    count = len(errors)
    entry = _validated({"providers": {instance: raw}}, errors)
    settings = entry.providers[instance] if entry is not None else None
    # Even when the entry itself is broken (a misspelt `retry:`), its config
    # is checked, so one mistake does not hide the next.
    declared_type = raw.get("type") if isinstance(raw, Mapping) else None
    type_name = declared_type if isinstance(declared_type, str) else instance
    registered = registry.get(type_name)
    if registered is None:
        known = ", ".join(sorted(registry)) or "none"
        where = f"{path}.type" if isinstance(declared_type, str) else path
        errors.append(
            (
                where,
                f"unknown provider type {type_name!r}; installed types: {known}. "
                "Set `type:` to one of them or install the plugin that provides it",
            )
        )
        return None
    cls = registered.cls
    raw_config = raw.get("config", {}) if isinstance(raw, Mapping) else None
    config = None
    if isinstance(raw_config, Mapping):
        config = validate_provider_config(cls, raw_config, f"{path}.config", errors)
    if settings is None or config is None or len(errors) > count:
        return None
    retry = cls.default_retry
    if settings.retry is not None:
        retry = retry.overridden(settings.retry)
    try:
        provider = cls(config, instance=instance, retry=retry)
    except (ValueError, ConfigError) as exc:
        errors.append((f"{path}.config", str(exc)))
        return None
    if settings.rate_limits is not None:
        try:
            provider.rate_limits = _rate_limits(provider, settings.rate_limits)
        except ValueError as exc:
            errors.append((f"{path}.rate_limits", str(exc)))
            return None
    return provider


def _rate_limits(provider: Provider, settings: RateLimitSettings) -> RateLimits:
    """The provider's documented limits with the YAML's overrides; 0 turns one off."""
    defaults = provider.rate_limits

    def chosen(name: str) -> Any:
        value = getattr(settings, name)
        if value is None:
            return getattr(defaults, name)
        return None if value == 0 else value

    sender_rate = chosen("sender_per_second")
    if sender_rate == "auto":
        sender_rate = provider.documented_sender_rate()
        if sender_rate is None:
            raise ValueError(
                f"sender_per_second: auto, but provider {provider.instance!r} (type "
                f"{provider.name}) documents no rate for its sender; write a number instead"
            )
    max_in_flight = chosen("max_in_flight")
    return RateLimits(
        requests_per_second=chosen("requests_per_second"),
        max_in_flight=None if max_in_flight is None else int(max_in_flight),
        sender_per_second=sender_rate,
    )


def validate_provider_config(
    cls: type[Provider], data: Mapping[str, Any], path: str, errors: Problems
) -> BaseModel | None:
    """``data`` as ``cls.Config``, or ``None`` with every problem added to ``errors``."""
    model = cls.Config
    count = len(errors)
    # A plain BaseModel ignores unknown keys; Norq reports them for every provider.
    allowed = field_keys(model)
    for key in data:
        if key not in allowed and key not in model.model_fields:
            errors.append((_join(path, key), f"unknown key; allowed keys: {', '.join(allowed)}"))
    try:
        config = model.model_validate(dict(data))
    except ValidationError as exc:
        errors.extend(problem for problem in problems(exc, path, model) if problem not in errors)
        return None
    except (TypeError, AttributeError, LookupError, ArithmeticError) as exc:
        # A validator that raises something other than ValueError is a bug in
        # the provider's model; say whose, without the message (it may hold a value).
        errors.append(
            (
                path,
                f"the {cls.name!r} provider's config model failed with {type(exc).__name__} "
                f"(a bug in {cls.__module__}); report it to the plugin's authors",
            )
        )
        return None
    return config if len(errors) == count else None


def field_keys(model: type[BaseModel]) -> list[str]:
    """The keys a YAML mapping may use for ``model``: each field's alias, else its name."""
    return [info.alias or name for name, info in model.model_fields.items()]


def env_var_names(cls: type[Provider]) -> dict[str, str]:
    """Config key -> ``NORQ_<PREFIX>_<KEY>`` for a provider with an env prefix."""
    if cls.env_prefix is None:
        return {}
    return {key: f"NORQ_{cls.env_prefix}_{key.upper()}" for key in field_keys(cls.Config)}


def _providers_from_env(
    entries: dict[str, Any],
    registry: dict[str, RegisteredProvider],
    environ: Mapping[str, str],
    providers: dict[str, Provider],
    errors: Problems,
) -> list[str]:
    """Register undeclared providers from ``NORQ_<PREFIX>_*`` variables (seed 000)."""
    registered = []
    declared_types = set(entries) | {
        entry["type"]
        for entry in entries.values()
        if isinstance(entry, Mapping) and isinstance(entry.get("type"), str)
    }
    for type_name, entry in sorted(registry.items()):
        cls = entry.cls
        if cls.env_prefix is None or type_name in declared_types:
            continue
        names = env_var_names(cls)
        required = {
            info.alias or name
            for name, info in cls.Config.model_fields.items()
            if info.is_required()
        }
        # Optional variables alone (say NORQ_TWILIO_BASE_URL) do not configure
        # a provider; any required one does, and then the rest must be valid.
        if not any(environ.get(names[key]) for key in required):
            continue
        data = {key: environ[var] for key, var in names.items() if environ.get(var)}
        found: Problems = []
        config = validate_provider_config(cls, data, "", found)
        for path, reason in found:
            key = path.split(".")[0].split("[")[0]
            where = f"env {names[key]}" if key in names else f"env NORQ_{cls.env_prefix}_*"
            errors.append((where, reason))
        if config is None:
            continue
        try:
            providers[type_name] = cls(config, instance=type_name, retry=cls.default_retry)
        except (ValueError, ConfigError) as exc:
            errors.append((f"env NORQ_{cls.env_prefix}_*", str(exc)))
            continue
        registered.append(type_name)
    return registered


def _routing_section(raw: Any, errors: Problems) -> dict[str, list[str]]:
    """``routing:`` as channel -> failover chain; a bad entry is reported and skipped."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        errors.append(("routing", f"expected a mapping of channels, got {_kind(raw)}"))
        return {}
    routing: dict[str, list[str]] = {}
    for channel, target in raw.items():
        path = f"routing.{channel}"
        if not isinstance(channel, str):
            errors.append((path, f"channel names must be text; quote {channel!r}"))
        elif isinstance(target, str):
            routing[channel] = [target]
        elif isinstance(target, list) and all(isinstance(item, str) for item in target):
            routing[channel] = list(target)
        else:
            errors.append(
                (path, f"expected a provider name or a list of them, got {_kind(target)}")
            )
    return routing


def _resolve_routing(
    routing: dict[str, list[str]],
    providers: dict[str, Provider],
    from_env: list[str],
    entries: dict[str, Any],
    errors: Problems,
) -> dict[str, tuple[str, ...]]:
    resolved: dict[str, tuple[str, ...]] = {}
    for channel, chain in routing.items():
        path = f"routing.{channel}"
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
                if instance in entries:
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


def _templates(document: Mapping[str, Any], base_dir: Path | None, errors: Problems) -> Templates:
    raw = {key: document[key] for key in ("templates", "templates_dir") if document.get(key)}
    parsed = _validated(raw, errors)
    if parsed is None:
        return Templates.compile({}, errors)
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
    return Templates.compile(sources, errors)


def _notifications(
    raw: Any,
    routing: Mapping[str, tuple[str, ...]],
    reported: set[str],
    templates: Templates,
    errors: Problems,
) -> dict[str, NotificationSettings]:
    """``notifications:``, each channel routed and templated: checked now, not at send time."""
    if not raw:
        return {}
    document = _validated({"notifications": raw}, errors)
    if document is None:
        return {}
    parsed = document.notifications
    known = templates.names()
    for name, settings in parsed.items():
        path = f"notifications.{name}"
        template = settings.template or name
        if template not in known:
            errors.append(
                (
                    path,
                    f"no template {template!r}: add templates.{template} with a version for "
                    "each channel, or name one with template:",
                )
            )
        for channel in settings.channels:
            if channel not in routing and channel not in reported:
                errors.append(
                    (
                        f"{path}.channels",
                        f"channel {channel!r} is not routed; "
                        f"add routing: {{{channel}: <provider>}}",
                    )
                )
            if template in known and channel not in templates.channels_of(template):
                errors.append(
                    (
                        path,
                        f"template {template!r} has no {channel!r} version; add "
                        f"templates.{template}.{channel}",
                    )
                )
    return parsed


# -- pydantic's errors as plain sentences --------------------------------------------


def problems(exc: ValidationError, prefix: str, model: type[BaseModel]) -> Problems:
    """Each error of ``exc`` as ``(dotted path, reason)``; no reason repeats the input."""
    found: Problems = []
    for error in exc.errors(include_url=False, include_context=True, include_input=True):
        loc = list(error["loc"])
        path = prefix
        for part in loc:
            path = f"{path}[{part}]" if isinstance(part, int) else _join(path, part)
        found.append((path, _reason(error, model, loc)))
    return found


_TYPE_NAMES = {
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "string": "a string",
    "decimal": "a decimal number",
    "dict": "a mapping",
    "model": "a mapping",
    "model_attributes": "a mapping",
    "mapping": "a mapping",
    "list": "a list",
    "tuple": "a list",
    "set": "a list",
    "frozen_set": "a list",
    "finite_number": "a finite number",
}

_BOUNDS = {
    "greater_than_equal": ("ge", "greater than or equal to"),
    "greater_than": ("gt", "greater than"),
    "less_than_equal": ("le", "less than or equal to"),
    "less_than": ("lt", "less than"),
}


def _reason(error: ErrorDetails, model: type[BaseModel], loc: list[int | str]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "required, but missing"
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, loc[:-1])
        return "unknown key" + (f"; allowed keys: {', '.join(allowed)}" if allowed else "")
    if kind in _BOUNDS:
        key, words = _BOUNDS[kind]
        return f"must be {words} {ctx.get(key)}"
    if kind == "literal_error":
        return f"must be {ctx.get('expected')}"
    if kind in ("value_error", "assertion_error"):
        message = str(ctx.get("error", error["msg"]))
        return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    base = kind.removesuffix("_type").removesuffix("_parsing").removesuffix("_from_float")
    expected = _TYPE_NAMES.get(base)
    if expected is not None:
        return f"expected {expected}, got {_kind(error.get('input'))}"
    return error["msg"]


def _allowed_keys(model: type[BaseModel], loc: list[int | str]) -> list[str]:
    # Walk the model along the error location to list the keys allowed there.
    current: Any = model
    for part in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(str(part))
            if info is None:
                info = next((f for f in current.model_fields.values() if f.alias == part), None)
            if info is None:
                return []
            current = info.annotation
        else:
            current = _inner_model(current) or (get_args(current) or (None,))[-1]
    model_found = current if _is_model(current) else _inner_model(current)
    return field_keys(model_found) if model_found is not None else []


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    return next((arg for arg in get_args(annotation) if _is_model(arg)), None)


def _kind(value: Any) -> str:
    """What kind of value was given, never the value itself."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, str):
        return "text"
    if isinstance(value, int | float | Decimal):
        return "a number"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)
