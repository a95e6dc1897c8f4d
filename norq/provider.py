"""The contract a provider fulfils: describe requests, never send them.

A provider subclass declares its ``name``, the ``channels`` it serves and a
``Config`` dataclass (see :mod:`norq.schema`). The host validates the YAML
config against that schema once, at load time, and builds the provider with the result; after that
``prepare_send`` is called for every message and must be pure: no I/O, no
clock, no environment, the same request for the same message.
"""

from __future__ import annotations

import abc
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from norq.errors import MessageError, UnsupportedOperation
from norq.message import EMPTY, Message
from norq.request import Prepared, PreparedRequest
from norq.response import Response, SendResult, read_declared
from norq.retry import RetryPolicy
from norq.schema import secrets_in

ANY_CHANNEL = "*"


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


class Provider(abc.ABC):
    """Base class for every provider, built-in or from a plugin."""

    #: The provider type, as written in YAML (``type: twilio``).
    name: ClassVar[str]
    #: Channels served; ``{"*"}`` serves any channel.
    channels: ClassVar[frozenset[str]]
    #: The dataclass that ``providers.<instance>.config`` is validated against
    #: (:mod:`norq.schema`); the provider receives an instance of it.
    Config: ClassVar[type[Any]]
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

    def __init__(
        self, config: Any, *, instance: str | None = None, retry: RetryPolicy | None = None
    ) -> None:
        self.config = config
        self.instance = instance or self.name
        self.retry = retry if retry is not None else self.default_retry

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.instance!r}>"

    @classmethod
    def supports(cls, channel: str) -> bool:
        return ANY_CHANNEL in cls.channels or channel in cls.channels

    def check_message(self, message: Message) -> None:
        """Raise :class:`norq.MessageError` if this provider cannot send ``message``.

        Called before any request is prepared. The default requires a body;
        override to add provider limits (and call ``super()`` if they apply).
        """
        if not message.body:
            raise MessageError(
                f"{message.channel} message to {message.to} has an empty body: pass body= "
                "or a template that renders one",
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

    def describe(self, message: Message) -> Mapping[str, str]:
        """Extra facts for a dry run (for SMS, the segment count)."""
        return {}

    def secret_values(self) -> list[str]:
        """Every secret in this provider's config, so output can redact it."""
        return [value for value in secrets_in(self.config) if value]

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
