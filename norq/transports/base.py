"""The transport contract: what a request declares, what comes back, how a transport is made.

A provider's ``prepare_send`` describes a request (:class:`Prepared`: any
object naming its transport and its retry policy; for HTTP a
:class:`norq.PreparedRequest`). The executor hands it to the transport
registered under that name, which sends one attempt and returns what came
back: a :class:`Response`, or a :class:`TransportFailure` when nothing did.
Nothing here performs I/O; the implementations live beside this module
(:mod:`norq.transports.http`) and in plugins.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from typing_extensions import TypeVar

from norq.retry import RetryPolicy

# Requests in flight per Norq instance, across providers. Twilio's default
# per-account concurrency is about 100 requests, and a bulk run that takes all
# of it makes the application's own sends (OTPs) fail with 429; 64 leaves
# headroom. On loopback more than ~64 in flight buys no throughput and costs
# garbage-collector work per message (docs/performance.md, "Pool size").
DEFAULT_MAX_CONNECTIONS = 64

# The most a provider's answer may hold once decompressed. Answers are JSON of
# a few kilobytes (a page of 1,000 Twilio messages is about 1 MB); without a
# cap, a 1 MB gzip answer inflating to 1 GB costs 2 GB of memory per send.
DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024


class Prepared(Protocol):
    """What every prepared request has, whatever transport sends it."""

    @property
    def transport(self) -> str:
        """The name of the registered transport that sends it."""

    @property
    def retry(self) -> RetryPolicy:
        """How the executor retries it."""


@dataclass(frozen=True, slots=True)
class Response:
    """What came back for one attempt.

    An HTTP transport fills in the status, headers and body; a non-HTTP
    transport maps its own answer onto them (an SMTP reply code and text).
    Read headers with :meth:`header`, which ignores case whatever mapping
    the transport gave. ``exceeded_limit`` is set when the body, decompressed,
    was longer than that many bytes (``executor.max_response_bytes``): the
    transport stopped reading and ``body`` is empty.
    """

    status: int
    headers: Mapping[str, str]
    body: bytes
    exceeded_limit: int | None = None

    def header(self, name: str) -> str | None:
        """The value of header ``name``, in any case; ``None`` if absent."""
        value = self.headers.get(name)
        if value is None and type(self.headers) is dict:
            # httpx and aiohttp headers ignore case already; a plain dict does not.
            wanted = name.lower()
            for key, found in self.headers.items():
                if key.lower() == wanted:
                    return str(found)
        return value


#: ``connect``: the request never left. ``timeout`` and ``lost``: it may have arrived.
FailureKind = Literal["connect", "timeout", "lost"]


@dataclass(frozen=True, slots=True)
class TransportFailure:
    """No response. ``connect``: the request never left; otherwise it may have arrived."""

    kind: FailureKind
    detail: str


#: What one attempt comes back as.
AttemptResult = Response | TransportFailure


@dataclass(frozen=True, slots=True)
class TransportSettings:
    """The ``executor:`` settings of the config, handed to every transport factory.

    An HTTP transport reads at most ``max_response_bytes`` of an answer's
    body, counted after decompression; past that it stops and returns the
    :class:`Response` with ``exceeded_limit`` set. It never follows a
    redirect: a 3xx is returned as it came, for the executor to refuse.
    """

    timeout: float = 10.0
    connect_timeout: float = 5.0
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    async_transport: str = "auto"
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES


#: The requests a transport sends; a bare ``Transport`` sends whatever it is given.
RequestT = TypeVar("RequestT", contravariant=True, default=Any)


class Transport(Protocol[RequestT]):
    """Sends one attempt of a prepared request, sync or async; never retries.

    Network failures are returned as :class:`TransportFailure`, not raised.
    A transport keeps its connections between sends and releases them in
    ``close`` / ``aclose``; either may be called when nothing was opened.
    """

    def send(self, request: RequestT) -> AttemptResult: ...

    async def asend(self, request: RequestT) -> AttemptResult: ...

    def close(self) -> None: ...

    async def aclose(self) -> None: ...


#: What a plugin registers: called once per executor with its settings.
TransportFactory = Callable[[TransportSettings], Transport]
