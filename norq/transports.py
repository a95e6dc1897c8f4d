"""The adapters that put bytes on the wire: httpx (sync), aiohttp or httpx (async), console.

This module and :mod:`norq.executor` are the only places Norq performs I/O.
A transport sends one attempt and reports what came back; retrying and
reading the answer is the executor's job. Every HTTP client is created lazily
and kept for the life of the transport, so connections are pooled across sends.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Literal, Protocol

from norq._version import __version__

if TYPE_CHECKING:
    import asyncio

    import aiohttp
    import httpx

    from norq.request import PreparedRequest

USER_AGENT = f"norq/{__version__}"

FailureKind = Literal["connect", "timeout", "lost"]

# Requests in flight per Norq instance, across providers. Twilio's default
# per-account concurrency is about 100 requests, and a bulk run that takes all
# of it makes the application's own sends (OTPs) fail with 429; 64 leaves
# headroom. On loopback more than ~64 in flight buys no throughput and costs
# garbage-collector work per message (docs/performance.md, "Pool size").
DEFAULT_MAX_CONNECTIONS = 64


@dataclass(frozen=True, slots=True)
class RawResponse:
    """What the server answered. ``headers`` look-ups are case-insensitive."""

    status: int
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class TransportFailure:
    """No response. ``connect``: the request never left; otherwise it may have arrived."""

    kind: FailureKind
    detail: str


AttemptResult = RawResponse | TransportFailure


@dataclass(frozen=True, slots=True)
class Timeouts:
    total: float = 10.0
    connect: float = 5.0


class SyncTransport(Protocol):
    def send(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None
    ) -> AttemptResult: ...

    def close(self) -> None: ...


class AsyncTransport(Protocol):
    async def send(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None
    ) -> AttemptResult: ...

    async def aclose(self) -> None: ...


class HttpxTransport:
    """Sync HTTP through one pooled ``httpx.HTTPTransport``.

    Requests go straight to httpx's transport: an ``httpx.Client`` would add
    cookie, auth and redirect handling that the executor does not use, which
    costs about a third of a loopback send (docs/performance.md). When proxy
    environment variables are set, an ``httpx.Client`` routes them as usual.
    """

    def __init__(self, timeouts: Timeouts, max_connections: int = DEFAULT_MAX_CONNECTIONS) -> None:
        self._timeouts = timeouts
        self._max_connections = max_connections
        self._client: _Pool | None = None
        self._extensions: dict[str, Any] = {
            "timeout": {
                "connect": timeouts.connect,
                "read": timeouts.total,
                "write": timeouts.total,
                "pool": timeouts.total,
            }
        }
        self._urls: dict[str, httpx.URL] = {}

    def _open(self) -> _Pool:
        import urllib.request

        import httpx

        limits = httpx.Limits(
            max_connections=self._max_connections,
            max_keepalive_connections=self._max_connections,
        )
        pool: _Pool
        if urllib.request.getproxies():
            pool = _ClientTransport(
                httpx.Client(
                    timeout=httpx.Timeout(self._timeouts.total, connect=self._timeouts.connect),
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
        return RawResponse(response.status_code, response.headers, content)

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

    def __init__(self, timeouts: Timeouts, max_connections: int = DEFAULT_MAX_CONNECTIONS) -> None:
        self._timeouts = timeouts
        self._max_connections = max_connections
        self._client: httpx.AsyncClient | None = None

    async def send(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None
    ) -> AttemptResult:
        import httpx

        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self._timeouts.total, connect=self._timeouts.connect),
                limits=httpx.Limits(
                    max_connections=self._max_connections,
                    max_keepalive_connections=self._max_connections,
                ),
                headers={"User-Agent": USER_AGENT},
            )
        try:
            response = await self._client.request(method, url, headers=headers, content=body)
        except httpx.HTTPError as exc:
            return _httpx_failure(exc)
        return RawResponse(response.status_code, response.headers, response.content)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
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

    def __init__(self, timeouts: Timeouts, max_connections: int = DEFAULT_MAX_CONNECTIONS) -> None:
        self._timeouts = timeouts
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _open(self) -> aiohttp.ClientSession:
        import asyncio

        import aiohttp

        loop = asyncio.get_running_loop()
        if self._session is not None:
            _abandon(self._session)
        self._loop = loop
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=self._max_connections, ttl_dns_cache=300, enable_cleanup_closed=False
            ),
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=self._timeouts.connect, sock_read=self._timeouts.total
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
                return RawResponse(response.status, response.headers, content)
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


class ConsoleTransport:
    """Prints ``console://`` requests instead of sending them (the console provider)."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream

    def deliver(self, request: PreparedRequest) -> RawResponse:
        default = sys.stderr if request.url == "console://stderr" else sys.stdout
        stream = self._stream or default
        payload: dict[str, Any] = request.json if isinstance(request.json, dict) else {}
        message_id = f"console-{uuid.uuid4().hex[:16]}"
        header = f"[norq console] {payload.get('channel', '?')} -> {payload.get('to', '?')}"
        extras = payload.get("fields") or {}
        lines = [header]
        lines.extend(f"  {key}: {value}" for key, value in sorted(extras.items()))
        lines.append(f"  {payload.get('body') or ''}")
        stream.write("\n".join(lines) + "\n")
        stream.flush()
        return RawResponse(
            200, {"content-type": "application/json"}, json.dumps({"id": message_id}).encode()
        )
