"""The one shared executor: sends prepared requests, retries them, reads the answers.

The decision logic (:class:`Attempts`) is pure and shared by the sync and the
async driver, so both retry, back off and extract identically; only the
waiting and the transport call differ.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import IO, Any

from norq.extract import extract, parse_json
from norq.receipt import DeliveryFailure, ErrorCode, code_for_status
from norq.request import PreparedRequest
from norq.retry import parse_retry_after
from norq.transports import (
    DEFAULT_MAX_CONNECTIONS,
    AiohttpTransport,
    AsyncTransport,
    AttemptResult,
    ConsoleTransport,
    HttpxAsyncTransport,
    HttpxTransport,
    RawResponse,
    SyncTransport,
    Timeouts,
    TransportFailure,
    aiohttp_available,
)

logger = logging.getLogger("norq")

CONSOLE_SCHEME = "console:"
_ERROR_SNIPPET = 200


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of executing one prepared request, retries included.

    ``data`` is the decoded JSON of the final response (used by status
    queries); ``error.transient`` says whether failing over may help.
    """

    ok: bool
    status_code: int | None
    message_id: str | None
    attempts: int
    error: DeliveryFailure | None = None
    data: Any = None


class Attempts:
    """Decides, attempt by attempt, whether to retry and how long to wait. Pure."""

    __slots__ = ("_clock", "_rng", "count", "request")

    def __init__(
        self, request: PreparedRequest, rng: random.Random, clock: Callable[[], float]
    ) -> None:
        self.request = request
        self._rng = rng
        self._clock = clock
        self.count = 0

    def record(self, result: AttemptResult) -> float | Outcome:
        """Take one attempt's result: seconds to wait before the next, or the final outcome."""
        self.count += 1
        request = self.request
        policy = request.retry
        retries_left = self.count <= policy.max_retries
        if isinstance(result, RawResponse):
            if result.status in request.success_statuses:
                return self._success(result)
            if result.status in policy.retry_statuses and retries_left:
                wait = parse_retry_after(result.headers.get("retry-after"), self._clock())
                if wait is None:
                    return policy.delay(self.count - 1, self._rng)
                if wait <= policy.retry_after_max:
                    return wait
            return self._failure(result)
        retryable = result.kind == "connect" or policy.retry_unconfirmed
        if retryable and retries_left:
            return policy.delay(self.count - 1, self._rng)
        code = {
            "connect": ErrorCode.CONNECT_ERROR,
            "timeout": ErrorCode.TIMEOUT,
            "lost": ErrorCode.CONNECTION_LOST,
        }[result.kind]
        if result.kind == "connect":
            message = f"could not connect: {result.detail}"
        else:
            message = (
                f"no response ({result.detail}); the provider may or may not have accepted "
                "the request, so it was not retried"
                if not policy.retry_unconfirmed
                else f"no response ({result.detail})"
            )
        return Outcome(
            ok=False,
            status_code=None,
            message_id=None,
            attempts=self.count,
            error=DeliveryFailure(code=code, message=message, transient=retryable),
        )

    def _success(self, response: RawResponse) -> Outcome:
        request = self.request
        data = None
        message_id = None
        if request.message_id_header is not None:
            message_id = response.headers.get(request.message_id_header)
        content_type = response.headers.get("content-type", "")
        if response.body and ("json" in content_type or request.message_id_path is not None):
            data = parse_json(response.body)
        if message_id is None and request.message_id_path is not None:
            found = extract(data, request.message_id_path)
            message_id = None if found is None else str(found)
            if message_id is None:
                logger.warning(
                    "%s %s answered %s but no message id at %s",
                    request.method,
                    request.url,
                    response.status,
                    request.message_id_path,
                )
        return Outcome(True, response.status, message_id, self.count, None, data)

    def _failure(self, response: RawResponse) -> Outcome:
        formats = self.request.errors
        data = parse_json(response.body)
        provider_code = message = more_info = None
        if data is not None:
            if formats.code_path:
                raw_code = extract(data, formats.code_path)
                provider_code = None if raw_code is None else str(raw_code)
            if formats.message_path:
                raw_message = extract(data, formats.message_path)
                message = None if raw_message is None else str(raw_message)
            if formats.more_info_path:
                raw_info = extract(data, formats.more_info_path)
                more_info = None if raw_info is None else str(raw_info)
        if message is None:
            snippet = response.body[:_ERROR_SNIPPET].decode("utf-8", "replace").strip()
            message = f"HTTP {response.status}" + (f": {snippet}" if snippet else "")
        code = (formats.code_map.get(provider_code) if provider_code else None) or code_for_status(
            response.status
        )
        transient = response.status in self.request.retry.retry_statuses
        return Outcome(
            ok=False,
            status_code=response.status,
            message_id=None,
            attempts=self.count,
            error=DeliveryFailure(code, message, provider_code, more_info, transient),
            data=data,
        )


class Executor:
    """Performs prepared requests over pooled connections, sync or async.

    One executor serves every provider of a :class:`norq.Norq`; its clients are
    opened on first use and closed by :meth:`close` / :meth:`aclose`.
    ``sleep``, ``async_sleep``, ``rng`` and ``clock`` are there so tests can
    run retries without waiting.
    """

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        connect_timeout: float = 5.0,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        async_transport: str = "auto",
        transport: SyncTransport | None = None,
        atransport: AsyncTransport | None = None,
        console_stream: IO[str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        async_sleep: Callable[[float], Awaitable[None]] | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        timeouts = Timeouts(total=timeout, connect=connect_timeout)
        self._transport: SyncTransport = transport or HttpxTransport(timeouts, max_connections)
        if atransport is None:
            use_aiohttp = async_transport == "aiohttp" or (
                async_transport == "auto" and aiohttp_available()
            )
            atransport = (
                AiohttpTransport(timeouts, max_connections)
                if use_aiohttp
                else HttpxAsyncTransport(timeouts, max_connections)
            )
        self._atransport: AsyncTransport = atransport
        self._console = ConsoleTransport(console_stream)
        self._sleep = sleep
        self._async_sleep = async_sleep or _sleep_async
        self._rng = rng or random.Random()
        self._clock = clock

    @property
    def async_transport_name(self) -> str:
        return type(self._atransport).__name__

    def send(self, request: PreparedRequest) -> Outcome:
        attempts = Attempts(request, self._rng, self._clock)
        if request.url.startswith(CONSOLE_SCHEME):
            return self._print(request, attempts)
        url, headers, body = request.full_url, request.wire_headers(), request.body_bytes()
        while True:
            result = self._transport.send(request.method, url, headers, body)
            step = attempts.record(result)
            if isinstance(step, Outcome):
                return step
            _log_retry(request, result, attempts.count, step)
            self._sleep(step)

    async def asend(self, request: PreparedRequest) -> Outcome:
        attempts = Attempts(request, self._rng, self._clock)
        if request.url.startswith(CONSOLE_SCHEME):
            return self._print(request, attempts)
        url, headers, body = request.full_url, request.wire_headers(), request.body_bytes()
        while True:
            result = await self._atransport.send(request.method, url, headers, body)
            step = attempts.record(result)
            if isinstance(step, Outcome):
                return step
            _log_retry(request, result, attempts.count, step)
            await self._async_sleep(step)

    def _print(self, request: PreparedRequest, attempts: Attempts) -> Outcome:
        # The console transport always answers, so one attempt is final.
        step = attempts.record(self._console.deliver(request))
        assert isinstance(step, Outcome)
        return step

    def close(self) -> None:
        self._transport.close()
        close = getattr(self._atransport, "close", None)
        if close is not None:
            close()

    async def aclose(self) -> None:
        self._transport.close()
        await self._atransport.aclose()


async def _sleep_async(delay: float) -> None:
    # asyncio is imported on first use: importing it costs a dry run ~20 ms.
    import asyncio

    await asyncio.sleep(delay)


def _log_retry(request: PreparedRequest, result: AttemptResult, attempt: int, delay: float) -> None:
    if not logger.isEnabledFor(logging.WARNING):
        return
    why: str = result.kind if isinstance(result, TransportFailure) else f"HTTP {result.status}"
    logger.warning(
        "%s %s: %s on attempt %d; retrying in %.2fs",
        request.method,
        request.url,
        why,
        attempt,
        delay,
    )
