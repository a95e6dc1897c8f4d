"""The contract a provider fulfils: describe requests, never send them.

A provider subclass declares its ``name``, the ``channels`` it serves and its
config model: ``class AcmeProvider(Provider[AcmeConfig])`` where ``AcmeConfig``
is a pydantic model. The host validates ``providers.<name>.config`` against that
model once, at load time, and builds the provider with the result, so
``self.config`` is a typed ``AcmeConfig``. After that ``prepare_send`` is
called for every message and must be pure: no I/O, no clock, no environment,
the same request for the same message.
"""

from __future__ import annotations

import abc
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, get_args, get_origin

from pydantic import (
    BaseModel,
    SecretBytes,
    SecretStr,
)
from typing_extensions import TypeVar

from norq.errors import MessageError, UnsupportedOperation
from norq.formats import AddressFormat
from norq.message import EMPTY, Message
from norq.rate_limits import RateLimits
from norq.request import ApiBase, PreparedRequest
from norq.retry import RetryPolicy
from norq.send_result import SendResult, read_declared
from norq.transports.base import Prepared, Response

ANY_CHANNEL = "*"


# With a default, a bare ``Provider`` (a registry of any providers) needs no argument.
ConfigT = TypeVar("ConfigT", bound=BaseModel, default=BaseModel, covariant=True)


@dataclass(frozen=True, slots=True)
class MessageStatus:
    """A message as the provider reports it, with a normalised ``status``.

    ``status`` is one of ``queued``, ``scheduled``, ``sending``, ``sent``,
    ``delivered``, ``undelivered``, ``failed``, ``received``, ``read``,
    ``canceled`` or ``unknown``; ``provider_status`` is the provider's own word.
    """

    message_id: str
    status: str
    provider_status: str | None = None
    to: str | None = None
    sender: str | None = None
    body: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    date_created: dt.datetime | None = None
    date_sent: dt.datetime | None = None
    date_updated: dt.datetime | None = None
    segments: int | None = None
    raw: Mapping[str, Any] = field(default_factory=lambda: EMPTY, repr=False)


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A message someone sent to one of your numbers or addresses."""

    message_id: str
    sender: str
    to: str
    body: str
    media_urls: tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=lambda: EMPTY, repr=False)


@dataclass(frozen=True, slots=True)
class MessageQuery:
    """Filters for listing sent messages; providers map them to their own query."""

    to: str | None = None
    sender: str | None = None
    sent_on: dt.date | None = None
    sent_before: dt.date | None = None
    sent_after: dt.date | None = None
    page_size: int = 50


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a message listing; ``next_request`` fetches the next, if any."""

    items: tuple[MessageStatus, ...]
    next_request: PreparedRequest | None = None


class Provider(abc.ABC, Generic[ConfigT]):
    """Base class for every provider, built-in or from a plugin.

    Subclass it with the config model as its parameter,
    ``class AcmeProvider(Provider[AcmeConfig])``: ``Config`` is then
    ``AcmeConfig`` and ``self.config`` is typed as one.
    """

    #: The provider type, as written in YAML (``type: twilio``).
    name: ClassVar[str]
    #: Channels served; ``{"*"}`` serves any channel.
    channels: ClassVar[frozenset[str]]
    #: The format of a recipient on each channel served (``{"sms": norq.E164}``),
    #: checked before any request is prepared; a channel not listed takes any
    #: non-blank address. ``"*"`` gives the format of every channel not listed.
    recipient_formats: ClassVar[Mapping[str, AddressFormat]] = EMPTY
    #: The pydantic model ``providers.<instance>.config`` is validated against;
    #: set from the class parameter (``Provider[AcmeConfig]``) unless given.
    Config: ClassVar[type[BaseModel]]
    #: With a prefix such as ``"TWILIO"``, an undeclared provider is configured
    #: from ``NORQ_TWILIO_<FIELD>`` environment variables.
    env_prefix: ClassVar[str | None] = None
    #: Retry defaults, overridable per instance with ``retry:`` in YAML.
    default_retry: ClassVar[RetryPolicy] = RetryPolicy()
    #: One line for ``norq providers``.
    description: ClassVar[str] = ""
    #: Per-message options (``notify(..., media_urls=[...])``) this provider
    #: understands; ``{"*"}`` accepts any. Anything else is rejected up front.
    message_fields: ClassVar[frozenset[str]] = frozenset()
    #: Rate limits that apply unless ``rate_limits:`` in YAML overrides them
    #: (see :mod:`norq.rate_limits`); the provider's documented account limits.
    default_rate_limits: ClassVar[RateLimits] = RateLimits()
    #: Per-message options that supply the content in place of a body: a
    #: template stored at the provider (SendGrid's ``template_id``). A message
    #: with one of them needs no body.
    content_fields: ClassVar[frozenset[str]] = frozenset()
    #: Whether the API answers each send with an id. While true, a send that
    #: ``read_send`` accepts without one fails as ``bad_response``; an API that
    #: issues none (Slack's incoming webhooks) sets it false, and its receipts
    #: have ``message_id`` ``None``. Set it per instance in ``__init__`` when
    #: the config decides (SendGrid's sandbox mode validates without an id).
    issues_message_ids: bool = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "Config" in cls.__dict__:
            return
        for base in getattr(cls, "__orig_bases__", ()):
            if get_origin(base) is Provider:
                (model,) = get_args(base)
                if isinstance(model, type) and issubclass(model, BaseModel):
                    cls.Config = model

    def __init__(
        self, config: ConfigT, *, instance: str | None = None, retry: RetryPolicy | None = None
    ) -> None:
        self.config: ConfigT = config
        self.instance = instance or self.name
        self.retry = retry if retry is not None else self.default_retry
        #: The limits in force for this instance: the defaults, or the YAML's.
        self.rate_limits = self.default_rate_limits

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.instance!r}>"

    @classmethod
    def supports(cls, channel: str) -> bool:
        return ANY_CHANNEL in cls.channels or channel in cls.channels

    @classmethod
    def recipient_format(cls, channel: str) -> AddressFormat | None:
        """The format of recipients on ``channel``, or ``None`` if any address goes."""
        formats = cls.recipient_formats
        return formats.get(channel) or formats.get(ANY_CHANNEL)

    def check_message(self, message: Message) -> None:
        """Raise :class:`norq.MessageError` if this provider cannot send ``message``.

        Called before any request is prepared. The default requires a body,
        unless one of :attr:`content_fields` is given; override to add
        provider limits (and call ``super()`` if they apply).
        """
        if not message.body and not self.content_fields.intersection(message.fields):
            instead = "".join(f", or {name}=" for name in sorted(self.content_fields))
            raise MessageError(
                f"{message.channel} message to {message.to} has an empty body: pass body= "
                f"or a template that renders one{instead}",
                code="invalid_message",
            )

    @abc.abstractmethod
    def prepare_send(self, message: Message) -> Prepared:
        """Describe the request that sends ``message``. Pure: no I/O, no clock.

        Usually a :class:`norq.PreparedRequest`; any description works whose
        ``transport`` names a registered transport that sends it, and which
        has a ``retry`` policy.
        """

    def read_send(self, request: Any, response: Response) -> SendResult:
        """What the answer to a ``prepare_send`` request means. Pure.

        The default reads what the request declares (``success_statuses``,
        ``message_id_path`` or ``message_id_header``, ``errors``). Override it
        for an API that reports failure inside a success answer, and return
        :meth:`SendResult.failed` with a normalised code and, if the default
        table's does not fit, a disposition.
        """
        return read_declared(request, response)

    def text_escape(self, fields: Mapping[str, Any]) -> Callable[[str], str] | None:
        """How data a template inserts into the body is escaped for this provider's markup.

        ``None`` (the default): the body is plain text and goes as rendered.
        A provider whose text is markup returns the function that makes any
        text appear literally in it (Slack: ``&``, ``<``, ``>`` as entities),
        so template data cannot inject mentions, links or formatting. Given
        the message's options, for an API whose markup an option chooses
        (Telegram's ``parse_mode``). Pure; return the same function for the
        same markup, so a chain of such providers renders the template once.
        """
        return None

    def describe(self, message: Message) -> Mapping[str, str]:
        """Extra facts for a dry run (for SMS, the segment count)."""
        return {}

    @property
    def sender(self) -> str | None:
        """Who this instance sends as (a number, an address), for per-sender rate limits."""
        return None

    def documented_sender_rate(self) -> float | None:
        """Messages per second the provider documents for this instance's sender, if any."""
        return None

    def secret_values(self) -> list[str]:
        """Every secret in this provider's config, so output can redact it."""
        return [value for value in secrets_in(self.config) if value]

    def api_base(self) -> ApiBase | None:
        """Where raw requests go and how they authenticate; ``None``: no raw requests.

        Override it to let ``Norq.raw_request`` and ``norq request`` reach any
        endpoint of the provider's API with the instance's base URL and
        credentials.
        """
        return None

    # Status queries: optional. Providers that offer them override all four.

    def prepare_status(self, message_id: str) -> PreparedRequest:
        """Describe the request that fetches one message by its id."""
        raise UnsupportedOperation(f"provider {self.instance!r} does not support status queries")

    def read_status(self, data: Any) -> MessageStatus:
        """Turn the provider's message resource into a :class:`MessageStatus`."""
        raise UnsupportedOperation(f"provider {self.instance!r} does not support status queries")

    def prepare_list(self, query: MessageQuery) -> PreparedRequest:
        """Describe the request that fetches the first page of a listing."""
        raise UnsupportedOperation(f"provider {self.instance!r} does not support listing messages")

    def read_page(self, data: Any) -> Page:
        """Turn one page of a listing into a :class:`Page`."""
        raise UnsupportedOperation(f"provider {self.instance!r} does not support listing messages")


# Text fields whose name ends in one of these words hold credentials even when a
# plugin forgot to type them SecretStr (``password``, ``api_secret``,
# ``bot_token``, ``api_key``): they are redacted all the same.
_SECRET_WORDS = frozenset(
    {"password", "passwd", "secret", "token", "key", "apikey", "credential", "credentials"}
)


def is_secret_name(name: str) -> bool:
    return name.lower().replace("-", "_").rsplit("_", 1)[-1] in _SECRET_WORDS or (
        name.lower() == "authorization"
    )


def is_secret_annotation(annotation: Any) -> bool:
    """Whether a field's type holds a ``SecretStr``/``SecretBytes`` anywhere."""
    if annotation in (SecretStr, SecretBytes):
        return True
    return any(is_secret_annotation(arg) for arg in get_args(annotation))


def secrets_in(value: Any, name: str = "") -> list[str]:
    """Every secret inside a config model, however deeply nested, for redaction.

    A secret is a ``SecretStr``/``SecretBytes`` anywhere (in nested models,
    lists, tuples and mappings), or text held by a field whose name says it is a
    credential (``password``, ``api_secret``, ``bot_token``...).
    """
    if isinstance(value, SecretStr):
        return [value.get_secret_value()]
    if isinstance(value, SecretBytes):
        return [value.get_secret_value().decode("utf-8", "replace")]
    if isinstance(value, str):
        return [value] if name and is_secret_name(name) else []
    if isinstance(value, BaseModel):
        return [
            secret
            for field in type(value).model_fields
            for secret in secrets_in(getattr(value, field), field)
        ]
    if isinstance(value, list | tuple | set | frozenset):
        return [secret for item in value for secret in secrets_in(item, name)]
    if isinstance(value, Mapping):
        return [secret for key, item in value.items() for secret in secrets_in(item, str(key))]
    return []
