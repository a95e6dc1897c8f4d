"""The built-in ``http`` transport: httpx for sync sends, aiohttp for async ones.

A transport is the only code that talks to the outside world (the contract is
:mod:`norq.transports.base`). It sends one attempt and reports what came back;
retrying, reading the answer, hooks, receipts and failover are the executor's
and the delivery flow's job, the same for every transport.

Async sends use aiohttp, or httpx when aiohttp is missing or with
``async_transport: httpx``. Every client is created lazily and kept for the
life of the transport, so connections are pooled across sends. The
``console`` transport lives with its provider in :mod:`norq.providers.console`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
)
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from norq._version import __version__
from norq.errors import PluginError
from norq.hookspecs import hookimpl
from norq.request import PreparedRequest
from norq.transports.base import (
    AttemptResult,
    Response,
    TransportFactory,
    TransportFailure,
    TransportSettings,
)

if TYPE_CHECKING:
    import asyncio

    import aiohttp
    import httpcore
    import httpx

logger = logging.getLogger("norq")

USER_AGENT = f"norq/{__version__}"

# How much of a body is read at a time, before decompression.
_CHUNK = 64 * 1024


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

    def send(self, request: PreparedRequest) -> AttemptResult:
        return self._sync.send(request.method, request.full_url, *_wire(request))

    async def asend(self, request: PreparedRequest) -> AttemptResult:
        return await self._async.send(request.method, request.full_url, *_wire(request))

    def close(self) -> None:
        self._sync.close()
        self._async.close()

    async def aclose(self) -> None:
        self._sync.close()
        await self._async.aclose()


class Http2Transport(HttpTransport):
    """The ``http2`` transport: HTTP/2 through httpx, sync and async (APNs accepts nothing else).

    httpx speaks HTTP/2 when its ``http2`` extra (the ``h2`` package) is
    installed; over ``https`` it is agreed in the TLS handshake (ALPN), so a
    server that offers only HTTP/1.1 still gets HTTP/1.1. aiohttp has no
    HTTP/2, so async sends use httpx here too.
    """

    def __init__(self, settings: TransportSettings) -> None:
        import importlib.util

        if importlib.util.find_spec("h2") is None:
            raise PluginError(
                "the http2 transport needs httpx's http2 extra: pip install 'httpx[http2]' "
                "(the plugin that sends over HTTP/2 should depend on it)"
            )
        self._sync = HttpxTransport(settings, http2=True)
        self._async = HttpxAsyncTransport(settings, http2=True)


def _wire(request: PreparedRequest) -> tuple[dict[str, str], bytes | None]:
    # The executor picks a transport by the name a request gives; a plugin's
    # request that names "http" by mistake must fail clearly, not half-send.
    if not isinstance(request, PreparedRequest):
        raise TypeError(
            f"the http transport sends a norq.PreparedRequest, got {type(request).__name__}; "
            "set the request's transport to the one registered for it"
        )
    return request.wire_headers(), request.body_bytes()


@hookimpl
def register_transports(register: Callable[[str, TransportFactory], None]) -> None:
    register("http", HttpTransport)
    register("http2", Http2Transport)


class HttpxTransport:
    """Sync HTTP through one pooled ``httpx.HTTPTransport``.

    Requests go straight to httpx's transport: an ``httpx.Client`` would add
    cookie, auth and redirect handling that the executor does not use, which
    costs about a third of a loopback send (docs/performance.md). When proxy
    environment variables are set, an ``httpx.Client`` routes them as usual.
    """

    def __init__(self, settings: TransportSettings, *, http2: bool = False) -> None:
        self._settings = settings
        self._http2 = http2
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
        self._opening = threading.Lock()

    def _open(self) -> _Pool:
        import urllib.request

        import httpx

        with self._opening:
            if self._client is not None:  # another thread opened it meanwhile
                return self._client
            settings = self._settings
            limits = httpx.Limits(
                max_connections=settings.max_connections,
                max_keepalive_connections=settings.max_connections,
            )
            pool: _Pool
            if urllib.request.getproxies():
                client = httpx.Client(
                    timeout=httpx.Timeout(settings.timeout, connect=settings.connect_timeout),
                    limits=limits,
                    follow_redirects=False,
                    http2=self._http2,
                )
                for mounted in [client._transport, *client._mounts.values()]:
                    if mounted is not None:
                        _bound_by_deadline(mounted)
                pool = _ClientTransport(client)
            else:
                transport = httpx.HTTPTransport(limits=limits, http2=self._http2)
                _bound_by_deadline(transport)
                pool = transport
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
        deadline = _DEADLINE.set(time.monotonic() + self._settings.timeout)
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
                # Decoded chunk by chunk, so a compressed answer is counted as it inflates.
                return _capped(
                    response.status_code,
                    response.headers,
                    response.iter_bytes(_CHUNK),
                    self._settings.max_response_bytes,
                )
            finally:
                response.close()
        except httpx.HTTPError as exc:
            return _httpx_failure(exc)
        except Exception as exc:
            return _unexpected_failure(exc)
        finally:
            _DEADLINE.reset(deadline)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


_URL_CACHE_SIZE = 256


def _capped(
    status: int, headers: Mapping[str, str], chunks: Iterable[bytes], limit: int
) -> Response:
    """The answer with its body read from ``chunks``, or flagged once they pass ``limit`` bytes."""
    parts: list[bytes] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > limit:
            # Closing the response then drops the connection instead of draining the rest.
            return Response(status, headers, b"", exceeded_limit=limit)
        parts.append(chunk)
    return Response(status, headers, b"".join(parts))


async def _acapped(
    status: int, headers: Mapping[str, str], chunks: AsyncIterable[bytes], limit: int
) -> Response:
    """Async :func:`_capped`."""
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            return Response(status, headers, b"", exceeded_limit=limit)
        parts.append(chunk)
    return Response(status, headers, b"".join(parts))


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


# When the attempt running in this thread must be over (time.monotonic()).
_DEADLINE: ContextVar[float | None] = ContextVar("norq_deadline", default=None)


def _bound_by_deadline(transport: httpx.BaseTransport) -> None:
    """Make every socket operation of ``transport`` end by the attempt's deadline.

    httpx's timeouts bound each read, not the whole answer: a server that
    sends one byte a second keeps a read timeout of 10 s from ever firing.
    ``executor.timeout`` is a deadline for the attempt, so each connect, read
    and write waits at most the time left. httpx takes no network backend, so
    it is set on its connection pool, which does.
    """
    pool = getattr(transport, "_pool", None)
    if pool is not None and hasattr(pool, "_network_backend"):
        pool._network_backend = _DeadlineBackend(pool._network_backend)


def _time_left(timeout: float | None, expired: type[Exception]) -> float | None:
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise expired("the answer was not complete by the attempt's deadline, executor.timeout")
    return left if timeout is None else min(timeout, left)


class _DeadlineBackend:
    """An httpcore network backend whose streams stop waiting at the attempt's deadline."""

    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> _DeadlineStream:
        import httpcore

        timeout = _time_left(timeout, httpcore.ConnectTimeout)
        stream = self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> _DeadlineStream:
        import httpcore

        timeout = _time_left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _DeadlineStream:
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        import httpcore

        return self._inner.read(max_bytes, _time_left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        import httpcore

        self._inner.write(buffer, _time_left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> _DeadlineStream:
        import httpcore

        timeout = _time_left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


Client = TypeVar("Client")


class _PerLoop(Generic[Client]):
    """One async client per event loop, made on first use in that loop.

    An async client belongs to the loop it was made in. Shared with another
    loop, aiohttp's session is torn down under the first loop's requests, and
    httpx's raises "Event loop is closed" once its loop has ended. So every
    loop gets its own: threads each running ``asyncio.run``, or one
    ``asyncio.run`` after another.

    A client is closed in its own loop when that loop ends (see
    :class:`_LoopClient`), by :meth:`aclose_current`, or, when its loop can
    no longer run anything, dropped without waiting by :meth:`release_all`
    or when the next client is made.
    """

    def __init__(
        self,
        create: Callable[[], Client],
        aclose: Callable[[Client], Awaitable[None]],
        abandon: Callable[[Client], None],
    ) -> None:
        self._create = create
        self._aclose = aclose
        self._abandon = abandon
        self._clients: dict[asyncio.AbstractEventLoop, _LoopClient[Client]] = {}
        self._lock = threading.Lock()

    async def get(self) -> Client:
        import asyncio

        loop = asyncio.get_running_loop()
        entry = self._clients.get(loop)
        if entry is None:
            with self._lock:
                ended = [self._clients.pop(old) for old in list(self._clients) if old.is_closed()]
                entry = self._clients[loop] = _LoopClient(
                    self._create(), self._aclose, self._abandon
                )
            for old_entry in ended:
                old_entry.abandon()
            await entry.close_when_the_loop_ends()
        return entry.client

    async def aclose_current(self) -> None:
        """Close the running loop's client, and drop those of loops that have ended."""
        import asyncio

        with self._lock:
            entry = self._clients.pop(asyncio.get_running_loop(), None)
        self._drop_ended()
        if entry is not None:
            await entry.aclose()

    def release_all(self) -> None:
        """Release every client: in its own loop if that loop runs elsewhere, else at once."""
        import asyncio

        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        with self._lock:
            clients, self._clients = self._clients, {}
        for loop, entry in clients.items():
            if loop is not current and loop.is_running():
                loop.call_soon_threadsafe(_close_later, loop, entry)
            else:
                entry.abandon()

    def _drop_ended(self) -> None:
        with self._lock:
            ended = [self._clients.pop(old) for old in list(self._clients) if old.is_closed()]
        for entry in ended:
            entry.abandon()


class _LoopClient(Generic[Client]):
    """A client and the async generator that closes it when its loop ends.

    ``asyncio.run`` (and any runner that calls ``loop.shutdown_asyncgens()``)
    closes the async generators still suspended when its coroutine returns,
    while the loop still runs. Parking one here per client is how a client
    gets closed in its own loop without the application calling ``aclose``:
    no "Unclosed client session", no sockets left to the garbage collector.
    """

    def __init__(
        self,
        client: Client,
        aclose: Callable[[Client], Awaitable[None]],
        abandon: Callable[[Client], None],
    ) -> None:
        self.client = client
        self._aclose = aclose
        self._abandon = abandon
        self._abandoned = False
        self._closer = self._close_at_loop_end()

    async def close_when_the_loop_ends(self) -> None:
        # The first step registers the generator with the running loop.
        await self._closer.asend(None)

    async def _close_at_loop_end(self) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            if not self._abandoned:
                await self._aclose(self.client)

    async def aclose(self) -> None:
        await self._closer.aclose()

    def abandon(self) -> None:
        """Drop the client without awaiting: its loop has ended or is not ours to run."""
        self._abandoned = True
        self._abandon(self.client)
        # Finish the generator here, so the loop's finaliser is never asked to.
        with contextlib.suppress(StopIteration):
            self._closer.aclose().send(None)


def _close_later(loop: asyncio.AbstractEventLoop, entry: _LoopClient[Any]) -> None:
    loop.create_task(entry.aclose())


class HttpxAsyncTransport:
    """Async HTTP through one ``httpx.AsyncClient`` per event loop: the fallback to aiohttp."""

    def __init__(self, settings: TransportSettings, *, http2: bool = False) -> None:
        self._settings = settings
        self._http2 = http2
        self._clients: _PerLoop[httpx.AsyncClient] = _PerLoop(
            self._new_client, _aclose_httpx, _drop
        )

    def _new_client(self) -> httpx.AsyncClient:
        import httpx

        settings = self._settings
        return httpx.AsyncClient(
            timeout=httpx.Timeout(settings.timeout, connect=settings.connect_timeout),
            limits=httpx.Limits(
                max_connections=settings.max_connections,
                max_keepalive_connections=settings.max_connections,
            ),
            headers={"User-Agent": USER_AGENT},
            http2=self._http2,
            follow_redirects=False,
        )

    async def send(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None
    ) -> AttemptResult:
        import asyncio

        import httpx

        client = await self._clients.get()
        settings = self._settings
        try:
            async with asyncio.timeout(settings.timeout):
                request = client.build_request(method, url, headers=headers, content=body)
                response = await client.send(request, stream=True)
                try:
                    return await _acapped(
                        response.status_code,
                        response.headers,
                        response.aiter_bytes(_CHUNK),
                        settings.max_response_bytes,
                    )
                finally:
                    await response.aclose()
        except httpx.HTTPError as exc:
            return _httpx_failure(exc)
        except TimeoutError:
            return _deadline_failure(settings)
        except Exception as exc:
            return _unexpected_failure(exc)

    async def aclose(self) -> None:
        await self._clients.aclose_current()

    def close(self) -> None:
        self._clients.release_all()


async def _aclose_httpx(client: httpx.AsyncClient) -> None:
    await client.aclose()


def _drop(client: object) -> None:
    # An httpx AsyncClient can only be closed by awaiting it in its own loop;
    # when that loop is gone, dropping it releases its sockets on collection.
    pass


def _httpx_failure(exc: Exception) -> TransportFailure:
    import httpx

    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return TransportFailure("connect", detail)
    if isinstance(exc, httpx.TimeoutException):
        return TransportFailure("timeout", detail)
    return TransportFailure("lost", detail)


def _deadline_failure(settings: TransportSettings) -> TransportFailure:
    return TransportFailure(
        "timeout", f"the answer was not complete within executor.timeout = {settings.timeout:g} s"
    )


def _unexpected_failure(exc: Exception) -> TransportFailure:
    # Whatever else a client library raises (a RuntimeError from a closed
    # loop, an ExceptionGroup from its task group) becomes a receipt, not a
    # crash. The request may have gone out, so it counts as unconfirmed.
    logger.debug("the HTTP client raised", exc_info=exc)
    return TransportFailure("lost", f"{type(exc).__name__}: {exc}")


class AiohttpTransport:
    """Async HTTP through one ``aiohttp.ClientSession`` per event loop.

    aiohttp keeps its throughput as concurrency grows, where httpx's async
    pool falls off (docs/performance.md has the numbers).
    """

    def __init__(self, settings: TransportSettings) -> None:
        self._settings = settings
        self._sessions: _PerLoop[aiohttp.ClientSession] = _PerLoop(
            self._new_session, _aclose_aiohttp, _abandon
        )

    def _new_session(self) -> aiohttp.ClientSession:
        import aiohttp

        settings = self._settings
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=settings.max_connections, ttl_dns_cache=300, enable_cleanup_closed=False
            ),
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=settings.connect_timeout, sock_read=settings.timeout
            ),
            headers={"User-Agent": USER_AGENT},
            auto_decompress=True,
        )

    async def send(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None
    ) -> AttemptResult:
        import asyncio

        import aiohttp

        session = await self._sessions.get()
        settings = self._settings
        try:
            # The deadline covers the whole attempt, body included (executor.timeout).
            async with asyncio.timeout(settings.timeout):
                # aiohttp follows redirects by default: to another host, with the
                # credentials in the body. A 3xx is the executor's to report.
                async with session.request(
                    method, url, headers=headers, data=body, allow_redirects=False
                ) as response:
                    return await _acapped(
                        response.status,
                        response.headers,
                        response.content.iter_chunked(_CHUNK),
                        settings.max_response_bytes,
                    )
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            return TransportFailure("connect", f"{type(exc).__name__}: {exc}")
        except aiohttp.ServerTimeoutError as exc:
            return TransportFailure("timeout", f"{type(exc).__name__}: {exc}")
        except TimeoutError:
            return _deadline_failure(self._settings)
        except aiohttp.ClientError as exc:
            return TransportFailure("lost", f"{type(exc).__name__}: {exc}")
        except Exception as exc:
            return _unexpected_failure(exc)

    async def aclose(self) -> None:
        await self._sessions.aclose_current()

    def close(self) -> None:
        self._sessions.release_all()


async def _aclose_aiohttp(session: aiohttp.ClientSession) -> None:
    await session.close()


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
