"""Transports put a prepared request on the wire and bring back one answer.

A transport is the only code that talks to the outside world. It sends one
attempt and reports what came back, a :class:`~norq.response.Response` or a
:class:`TransportFailure`; retrying, reading the answer, hooks, receipts and
failover are the executor's and the delivery flow's job, the same for every
transport. Plugins register transports by name with the ``register_transports``
hook; a prepared request names its transport (``PreparedRequest.transport``,
``"http"`` by default). The request may be any object its transport
understands: an HTTP description here, an email message for an SMTP transport.

Built in: ``http``, with httpx for sync sends and aiohttp (or httpx when
aiohttp is missing, or with ``async_transport: httpx``) for async ones. Every
client is created lazily and kept for the life of the transport, so
connections are pooled across sends. The ``console`` transport lives with
its provider in :mod:`norq.providers.console`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from norq._version import __version__
from norq.hookspecs import hookimpl
from norq.response import Response

if TYPE_CHECKING:
    import asyncio

    import aiohttp
    import httpx

USER_AGENT = f"norq/{__version__}"

FailureKind = Literal["connect", "timeout", "lost"]

# Requests in flight per Norq instance, across providers. Twilio's default
# per-account concurrency is about 100 requests, and a bulk run that takes all
# of it makes the application's own sends (OTPs) fail with 429; 64 leaves
# headroom. On loopback more than ~64 in flight buys no throughput and costs
# garbage-collector work per message (docs/performance.md, "Pool size").
DEFAULT_MAX_CONNECTIONS = 64


@dataclass(frozen=True, slots=True)
class TransportFailure:
    """No response. ``connect``: the request never left; otherwise it may have arrived."""

    kind: FailureKind
    detail: str


AttemptResult = Response | TransportFailure


@dataclass(frozen=True, slots=True)
class TransportSettings:
    """The ``executor:`` settings of the config, handed to every transport factory."""

    timeout: float = 10.0
    connect_timeout: float = 5.0
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    async_transport: str = "auto"


class Transport(Protocol):
    """Sends one attempt of a prepared request, sync or async; never retries.

    Network failures are returned as :class:`TransportFailure`, not raised.
    A transport keeps its connections between sends and releases them in
    ``close`` / ``aclose``; either may be called when nothing was opened.
    """

    def send(self, request: Any) -> AttemptResult: ...

    async def asend(self, request: Any) -> AttemptResult: ...

    def close(self) -> None: ...

    async def aclose(self) -> None: ...


#: What a plugin registers: called once per executor with its settings.
TransportFactory = Callable[[TransportSettings], Transport]


class HttpTransport:
    """The ``http`` transport: sends :class:`~norq.request.PreparedRequest` descriptions."""

    def __init__(self, settings: TransportSettings) -> None:
        self._sync = HttpxTransport(settings)
        self._async: AiohttpTransport | HttpxAsyncTransport
        choice = settings.async_transport
        if choice == "aiohttp" or (choice == "auto" and aiohttp_available()):
            self._async = AiohttpTransport(settings)
        else:
            self._async = HttpxAsyncTransport(settings)

    @property
    def async_client_name(self) -> str:
        return type(self._async).__name__

    def send(self, request: Any) -> AttemptResult:
        return self._sync.send(request.method, request.full_url, *_wire(request))

    async def asend(self, request: Any) -> AttemptResult:
        return await self._async.send(request.method, request.full_url, *_wire(request))

    def close(self) -> None:
        self._sync.close()
        self._async.close()

    async def aclose(self) -> None:
        self._sync.close()
        await self._async.aclose()


def _wire(request: Any) -> tuple[dict[str, str], bytes | None]:
    from norq.request import PreparedRequest

    if not isinstance(request, PreparedRequest):
        raise TypeError(
            f"the http transport sends a norq.PreparedRequest, got {type(request).__name__}; "
            "set the request's transport to the one registered for it"
        )
    return request.wire_headers(), request.body_bytes()


@hookimpl
def register_transports(register: Callable[[str, TransportFactory], None]) -> None:
    register("http", HttpTransport)


class HttpxTransport:
    """Sync HTTP through one pooled ``httpx.HTTPTransport``.

    Requests go straight to httpx's transport: an ``httpx.Client`` would add
    cookie, auth and redirect handling that the executor does not use, which
    costs about a third of a loopback send (docs/performance.md). When proxy
    environment variables are set, an ``httpx.Client`` routes them as usual.
    """

    def __init__(self, settings: TransportSettings) -> None:
        self._settings = settings
        self._client: _Pool | None = None
        self._extensions: dict[str, Any] = {
            "timeout": {
                "connect": settings.connect_timeout,
                "read": settings.timeout,
                "write": settings.timeout,
                "pool": settings.timeout,
            }
        }
        self._urls: dict[str, httpx.URL] = {}

    def _open(self) -> _Pool:
        import urllib.request

        import httpx

        settings = self._settings
        limits = httpx.Limits(
            max_connections=settings.max_connections,
            max_keepalive_connections=settings.max_connections,
        )
        pool: _Pool
        if urllib.request.getproxies():
            pool = _ClientTransport(
                httpx.Client(
                    timeout=httpx.Timeout(settings.timeout, connect=settings.connect_timeout),
                    limits=limits,
                    follow_redirects=False,
                )
            )
        else:
            pool = httpx.HTTPTransport(limits=limits)
        self._client = pool
        return pool

    def _url(self, url: str) -> httpx.URL:
        # Providers send to a handful of fixed URLs: parse each once.
        parsed = self._urls.get(url)
        if parsed is None:
            import httpx

            if len(self._urls) >= _URL_CACHE_SIZE:
                self._urls.clear()
            parsed = self._urls[url] = httpx.URL(url)
        return parsed

    def send(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None
    ) -> AttemptResult:
        import httpx

        client = self._client or self._open()
        try:
            request = httpx.Request(
                method,
                self._url(url),
                headers=_with_defaults(headers),
                content=body,
                extensions=self._extensions,
            )
            response = client.handle_request(request)
            try:
                content = response.read()
            finally:
                response.close()
        except httpx.HTTPError as exc:
            return _httpx_failure(exc)
        return Response(response.status_code, response.headers, content)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


_URL_CACHE_SIZE = 256

# What an httpx.Client would add to every request.
_DEFAULT_HEADERS = {
    "Accept": "*/*",
    "Accept-Encoding": "gzip, deflate",
    "Connection": "keep-alive",
    "User-Agent": USER_AGENT,
}
_DEFAULT_NAMES = {name.lower(): name for name in _DEFAULT_HEADERS}


def _with_defaults(headers: dict[str, str]) -> dict[str, str]:
    merged = dict(_DEFAULT_HEADERS)
    for name, value in headers.items():
        default = _DEFAULT_NAMES.get(name.lower())
        if default is not None and default != name:
            del merged[default]
        merged[name] = value
    return merged


class _Pool(Protocol):
    def handle_request(self, request: httpx.Request) -> httpx.Response: ...

    def close(self) -> None: ...


class _ClientTransport:
    """An ``httpx.Client`` behind the transport interface, for proxied environments."""

    def __init__(self, client: httpx.Client) -> None:
        self._client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._client.send(request)

    def close(self) -> None:
        self._client.close()


class HttpxAsyncTransport:
    """Async HTTP through ``httpx.AsyncClient``: the fallback when aiohttp is absent."""

    def __init__(self, settings: TransportSettings) -> None:
        self._settings = settings
        self._client: httpx.AsyncClient | None = None

    async def send(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None
    ) -> AttemptResult:
        import httpx

        if self._client is None:
            settings = self._settings
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(settings.timeout, connect=settings.connect_timeout),
                limits=httpx.Limits(
                    max_connections=settings.max_connections,
                    max_keepalive_connections=settings.max_connections,
                ),
                headers={"User-Agent": USER_AGENT},
            )
        try:
            response = await self._client.request(method, url, headers=headers, content=body)
        except httpx.HTTPError as exc:
            return _httpx_failure(exc)
        return Response(response.status_code, response.headers, response.content)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def close(self) -> None:
        # An AsyncClient can only be closed on a loop; dropping it releases
        # its sockets when it is collected.
        self._client = None


def _httpx_failure(exc: Exception) -> TransportFailure:
    import httpx

    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return TransportFailure("connect", detail)
    if isinstance(exc, httpx.TimeoutException):
        return TransportFailure("timeout", detail)
    return TransportFailure("lost", detail)


class AiohttpTransport:
    """Async HTTP through one ``aiohttp.ClientSession`` per event loop.

    aiohttp keeps its throughput as concurrency grows, where httpx's async
    pool falls off (docs/performance.md has the numbers). A session belongs to
    the loop it was created in, so a new loop (a second ``asyncio.run``) gets a
    new session and the old one is marked closed.
    """

    def __init__(self, settings: TransportSettings) -> None:
        self._settings = settings
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _open(self) -> aiohttp.ClientSession:
        import asyncio

        import aiohttp

        loop = asyncio.get_running_loop()
        if self._session is not None:
            _abandon(self._session)
        self._loop = loop
        settings = self._settings
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=settings.max_connections, ttl_dns_cache=300, enable_cleanup_closed=False
            ),
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=settings.connect_timeout, sock_read=settings.timeout
            ),
            headers={"User-Agent": USER_AGENT},
            auto_decompress=True,
        )
        return self._session

    async def send(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None
    ) -> AttemptResult:
        import asyncio

        import aiohttp

        session = self._session
        if session is None or self._loop is not asyncio.get_running_loop():
            session = self._open()
        try:
            async with session.request(method, url, headers=headers, data=body) as response:
                content = await response.read()
                return Response(response.status, response.headers, content)
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            return TransportFailure("connect", f"{type(exc).__name__}: {exc}")
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            return TransportFailure("timeout", f"{type(exc).__name__}: {exc}")
        except aiohttp.ClientError as exc:
            return TransportFailure("lost", f"{type(exc).__name__}: {exc}")

    async def aclose(self) -> None:
        import asyncio

        if self._session is not None:
            if self._loop is asyncio.get_running_loop():
                await self._session.close()
            else:
                _abandon(self._session)
            self._session = None
            self._loop = None

    def close(self) -> None:
        if self._session is not None:
            _abandon(self._session)
            self._session = None


def _abandon(session: aiohttp.ClientSession) -> None:
    # The session's loop is gone or not ours to run: drop its sockets without
    # awaiting, so no "unclosed session" warning fires at garbage collection.
    connector = session.connector
    if connector is not None and not connector.closed:
        close_now = getattr(connector, "_close", None)
        if close_now is not None:
            close_now()
    session.detach()


def aiohttp_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("aiohttp") is not None
