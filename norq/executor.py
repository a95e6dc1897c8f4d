"""The one shared executor: sends prepared requests, retries them, reads the answers.

The decision logic (:class:`Attempts`) is pure and shared by the sync and the
async driver, so both retry, back off and read answers identically; only the
waiting and the transport call differ. Which transport sends a request is
the request's ``transport`` name, looked up among the registered transports.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Future
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from norq.error_codes import UNCONFIRMED_CODES, ErrorCode
from norq.errors import PluginError
from norq.observe import AttemptRecord
from norq.receipt import DeliveryFailure, Outcome
from norq.request import UNSEEN, PreparedRequest, Token, TokenSource
from norq.retry import Disposition, RetryPolicy
from norq.send_result import SendResult, read_declared
from norq.transports.base import (
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_RESPONSE_BYTES,
    AttemptResult,
    Prepared,
    Response,
    Transport,
    TransportFactory,
    TransportFailure,
    TransportSettings,
)
from norq.transports.http import HttpTransport

if TYPE_CHECKING:
    from norq.throttle import Throttle

logger = logging.getLogger("norq")

#: Reads one answer: the provider's ``read_send``, or :func:`norq.send_result.read_declared`.
Reader = Callable[[Any, Response], SendResult]
#: Told about every attempt as it ends (see :mod:`norq.observe`).
AttemptObserver = Callable[[AttemptRecord], None]


_FAILURE_CODES = {
    "connect": ErrorCode.CONNECT_ERROR,
    "timeout": ErrorCode.TIMEOUT,
    "lost": ErrorCode.CONNECTION_LOST,
}


class Attempts:
    """Decides, attempt by attempt, whether to retry and how long to wait. Pure."""

    __slots__ = ("_clock", "_read", "_redact", "_rng", "count", "reading", "request", "retry")

    def __init__(
        self,
        request: Prepared,
        read: Reader,
        rng: random.Random,
        clock: Callable[[], float],
        redact: Callable[[str], str] = str,
    ) -> None:
        self.request = request
        self.retry: RetryPolicy = request.retry
        self._read = read
        self._rng = rng
        self._clock = clock
        self._redact = redact
        self.count = 0
        #: What the last attempt's answer (or its absence) meant.
        self.reading: SendResult | None = None

    def record(self, result: AttemptResult) -> float | Outcome:
        """Take one attempt's result: seconds to wait before the next, or the final outcome."""
        self.count += 1
        if isinstance(result, TransportFailure):
            status = None
            read = self._no_answer(result)
        else:
            status = result.status
            read = self._unread(result) or self._read_answer(result)
            if (
                read.error is not None
                and read.error.code in UNCONFIRMED_CODES
                and self.retry.retry_unconfirmed
            ):
                # An answer that cannot say whether the message went out is
                # treated as no answer: retried only when the policy allows.
                read = replace(read, error=replace(read.error, disposition=Disposition.RETRY))
        self.reading = read
        if read.ok:
            return Outcome(True, status, read.message_id, self.count, None, read.data)
        policy = self.retry
        if read.disposition is Disposition.RETRY and self.count <= policy.max_retries:
            wait = self._hinted_wait(read)
            if wait is None:
                return policy.delay(self.count - 1, self._rng)
            if wait <= policy.retry_after_max:
                return wait
        error = read.error or DeliveryFailure(ErrorCode.BAD_RESPONSE, "failed")
        # An answer may quote the request back, credentials included (a
        # server echoing the Authorization header): the receipt must not.
        return Outcome(False, status, None, self.count, error.redacted(self._redact), read.data)

    def _unread(self, response: Response) -> SendResult | None:
        """Why an answer is not given to the reader at all, or ``None`` to read it.

        A body past the size limit was not read. A redirect is never followed:
        the request, credentials and all, would go to another address, and
        that address's answer would count as the provider's. Both fail as
        ``bad_response``: the request arrived, so neither is retried.
        """
        if response.exceeded_limit is not None:
            return SendResult.failed(
                ErrorCode.BAD_RESPONSE,
                f"HTTP {response.status} with an answer larger than executor.max_response_bytes "
                f"({response.exceeded_limit:,} bytes); it was not read, so whether the provider "
                "took the request is unknown",
            )
        if 300 <= response.status < 400 and isinstance(self.request, PreparedRequest):
            location = response.header("location")
            where = f"redirect to {location}" if location else "redirect without a Location"
            return SendResult.failed(
                ErrorCode.BAD_RESPONSE,
                f"HTTP {response.status} {where}: Norq does not follow redirects, which would "
                "send the request and its credentials elsewhere; check the provider's base URL",
            )
        return None

    def _read_answer(self, response: Response) -> SendResult:
        try:
            return self._read(self.request, response)
        except Exception as exc:
            # A provider's reader that trips over an unexpected answer must not
            # crash a bulk run; the answer is reported as unreadable instead.
            logger.exception("reading the answer to %r failed", self.request)
            return SendResult.failed(
                ErrorCode.BAD_RESPONSE,
                f"HTTP {response.status}, but reading the answer failed: "
                f"{type(exc).__name__}: {exc}",
            )

    def _no_answer(self, failure: TransportFailure) -> SendResult:
        retryable = failure.kind == "connect" or self.retry.retry_unconfirmed
        if failure.kind == "connect":
            message = f"could not connect: {failure.detail}"
        elif retryable:
            message = f"no response ({failure.detail})"
        else:
            message = (
                f"no response ({failure.detail}); the provider may or may not have accepted "
                "the request, so it was not retried"
            )
        return SendResult.failed(
            _FAILURE_CODES[failure.kind],
            message,
            disposition=Disposition.RETRY if retryable else Disposition.FINAL,
        )

    def _hinted_wait(self, read: SendResult) -> float | None:
        if read.retry_after is not None:
            return read.retry_after
        if read.retry_at is not None:
            return max(0.0, read.retry_at - self._clock())
        return None


class Executor:
    """Performs prepared requests through their transports, sync or async.

    One executor serves every provider of a :class:`norq.Norq`. Transports are
    built on first use from ``factories`` (name → factory; the built-in
    ``http`` one by default; :class:`norq.Norq` passes every registered
    transport) with the executor's settings; ``transports`` gives ready
    instances by name instead (a :class:`norq.testing.MockTransport`). They are
    closed by :meth:`close` / :meth:`aclose`. ``sleep``, ``async_sleep``,
    ``rng`` and ``clock`` are there so tests can run retries without waiting.
    ``redact`` masks secrets in what an answer says about a failure (a server
    may echo the request's credentials back); :class:`norq.Norq` sets it to its
    redactor's ``text`` when it builds the executor, or is given one without.
    """

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        connect_timeout: float = 5.0,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        async_transport: str = "auto",
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        factories: Mapping[str, TransportFactory] | None = None,
        transports: Mapping[str, Transport] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        async_sleep: Callable[[float], Awaitable[None]] | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
        redact: Callable[[str], str] = str,
    ) -> None:
        self.settings = TransportSettings(
            timeout, connect_timeout, max_connections, async_transport, max_response_bytes
        )
        self._factories: Mapping[str, TransportFactory] = (
            factories if factories is not None else {"http": HttpTransport}
        )
        self._transports: dict[str, Transport] = dict(transports or {})
        self._building = threading.Lock()
        self._sleep = sleep
        self._async_sleep = async_sleep or _sleep_async
        self._rng = rng or random.Random()
        self._clock = clock
        self.redact = redact
        self._tokens = _Tokens(self)

    def transport(self, name: str) -> Transport:
        """The transport registered as ``name``, built on first use (once, across threads)."""
        found = self._transports.get(name)
        if found is None:
            with self._building:
                found = self._transports.get(name)
                if found is None:
                    found = self._transports[name] = self._build(name)
        return found

    def _build(self, name: str) -> Transport:
        factory = self._factories.get(name)
        if factory is None:
            known = ", ".join(sorted({*self._factories, *self._transports}))
            raise PluginError(
                f"a request names transport {name!r}, which no plugin registered "
                f"(registered: {known}); install the plugin that provides it"
            )
        return factory(self.settings)

    def send(
        self,
        request: Prepared,
        read: Reader = read_declared,
        throttle: Throttle | None = None,
        observe: AttemptObserver | None = None,
    ) -> Outcome:
        """Send ``request`` until it succeeds or a retry is pointless; ``read`` reads answers.

        Every attempt, retries included, waits for ``throttle`` (the provider's rate limits)
        and is then reported to ``observe``, if given. A request that names a token source
        carries its token, obtained here (see :class:`norq.TokenSource`); an answer refusing
        the token renews it and sends again, once.
        """
        transport = self.transport(request.transport)
        attempts = Attempts(request, read, self._rng, self._clock, self._tokens.mask)
        described = request if isinstance(request, PreparedRequest) else None
        source = described.token if described is not None else None
        renewed = False
        while True:
            sent: Prepared = request
            if source is not None and described is not None:
                token = self._tokens.get(source)
                if not isinstance(token, Token):
                    return _without_token(token, attempts.count)
                used = token
                sent = source.authorize(described, used)
            # Timed inside the throttle: waiting for a rate-limit slot is not latency.
            if throttle is None:
                started = time.time_ns()
                result = _attempt(transport, sent)
            else:
                with throttle.hold():
                    started = time.time_ns()
                    result = _attempt(transport, sent)
            if source is not None and not renewed and _refused(source, result):
                renewed = True
                attempts.count += 1
                self._tokens.discard(source, used)
                continue
            step = attempts.record(result)
            if observe is not None:
                _report(observe, attempts, result, step, started)
            if isinstance(step, Outcome):
                return step
            _log_retry(request, result, attempts.count, step)
            self._sleep(step)

    async def asend(
        self,
        request: Prepared,
        read: Reader = read_declared,
        throttle: Throttle | None = None,
        observe: AttemptObserver | None = None,
    ) -> Outcome:
        """Async :meth:`send`."""
        transport = self.transport(request.transport)
        attempts = Attempts(request, read, self._rng, self._clock, self._tokens.mask)
        described = request if isinstance(request, PreparedRequest) else None
        source = described.token if described is not None else None
        renewed = False
        while True:
            sent: Prepared = request
            if source is not None and described is not None:
                token = await self._tokens.aget(source)
                if not isinstance(token, Token):
                    return _without_token(token, attempts.count)
                used = token
                sent = source.authorize(described, used)
            if throttle is None:
                started = time.time_ns()
                result = await _aattempt(transport, sent)
            else:
                async with throttle.ahold():
                    started = time.time_ns()
                    result = await _aattempt(transport, sent)
            if source is not None and not renewed and _refused(source, result):
                renewed = True
                attempts.count += 1
                self._tokens.discard(source, used)
                continue
            step = attempts.record(result)
            if observe is not None:
                _report(observe, attempts, result, step, started)
            if isinstance(step, Outcome):
                return step
            _log_retry(request, result, attempts.count, step)
            await self._async_sleep(step)

    def close(self) -> None:
        for transport in self._transports.values():
            transport.close()

    async def aclose(self) -> None:
        for transport in self._transports.values():
            await transport.aclose()


def _refused(source: TokenSource, result: AttemptResult) -> bool:
    return isinstance(result, Response) and source.refused(result)


def _without_token(failure: DeliveryFailure, attempts: int) -> Outcome:
    return Outcome(False, None, None, attempts, failure)


class _Tokens:
    """The executor's tokens, one per :class:`~norq.request.TokenSource`, for every thread and loop.

    One exchange at a time per source: whoever finds the token missing or due
    obtains it, and everyone else, in any thread or event loop, waits for that
    same exchange (a ``concurrent.futures.Future`` can be awaited from any
    loop and waited on from any thread). While a token is being renewed
    before it expires, the old one still serves. A failed exchange is not
    cached: the next send tries again.
    """

    def __init__(self, executor: Executor) -> None:
        self._executor = executor
        self._lock = threading.Lock()
        self._entries: dict[TokenSource, _TokenEntry] = {}
        self._issued: list[str] = []

    def get(self, source: TokenSource) -> Token | DeliveryFailure:
        while True:
            pending, mine = self._claim(source)
            if isinstance(pending, Token):
                return pending
            if not mine:
                waited: Token | DeliveryFailure | None = pending.result()
                if waited is None:
                    continue  # that exchange was abandoned: obtain one here
                return waited
            result: Token | DeliveryFailure | None = None
            try:
                result = self._obtain(source)
            finally:
                self._settle(source, pending, result)
            return result

    async def aget(self, source: TokenSource) -> Token | DeliveryFailure:
        import asyncio

        while True:
            pending, mine = self._claim(source)
            if isinstance(pending, Token):
                return pending
            if not mine:
                waited: Token | DeliveryFailure | None = await asyncio.wrap_future(pending)
                if waited is None:
                    continue  # that exchange was abandoned (cancelled): obtain one here
                return waited
            result: Token | DeliveryFailure | None = None
            try:
                result = await self._aobtain(source)
            finally:
                self._settle(source, pending, result)
            return result

    def discard(self, source: TokenSource, refused: Token) -> None:
        """Forget the ``refused`` token, unless another was obtained meanwhile."""
        with self._lock:
            entry = self._entries.get(source)
            if entry is not None and entry.token is refused:
                entry.token = None

    def mask(self, text: str) -> str:
        """``text`` with the executor's redaction and every token obtained so far masked."""
        text = self._executor.redact(text)
        for value in self._issued:
            text = text.replace(value, UNSEEN)
        return text

    def _claim(self, source: TokenSource) -> tuple[Token | Future[Any], bool]:
        """A token that serves now, or the exchange to wait for and whether it is ours to run."""
        now = self._executor._clock()
        with self._lock:
            entry = self._entries.setdefault(source, _TokenEntry())
            token = entry.token
            if token is not None and now < token.expires_at - source.refresh_margin:
                return token, False
            if entry.pending is not None:
                if token is not None and now < token.expires_at:
                    return token, False
                return entry.pending, False
            entry.pending = Future()
            return entry.pending, True

    def _settle(
        self, source: TokenSource, pending: Future[Any], result: Token | DeliveryFailure | None
    ) -> None:
        with self._lock:
            entry = self._entries[source]
            entry.pending = None
            if isinstance(result, Token):
                entry.token = result
                # A few are enough: a token is renewed about hourly.
                self._issued = [result.value, *self._issued[:7]]
        # None: the exchange ended without a result (cancelled, or it raised); whoever
        # waited for it obtains one itself.
        pending.set_result(result)

    def _obtain(self, source: TokenSource) -> Token | DeliveryFailure:
        now = self._executor._clock()
        prepared = source.prepare_token(now)
        if isinstance(prepared, Token):
            return prepared
        return _token_of(self._executor.send(prepared, _token_reader(source, now)), prepared)

    async def _aobtain(self, source: TokenSource) -> Token | DeliveryFailure:
        now = self._executor._clock()
        prepared = source.prepare_token(now)
        if isinstance(prepared, Token):
            return prepared
        outcome = await self._executor.asend(prepared, _token_reader(source, now))
        return _token_of(outcome, prepared)


class _TokenEntry:
    __slots__ = ("pending", "token")

    def __init__(self) -> None:
        self.token: Token | None = None
        self.pending: Future[Any] | None = None


def _token_reader(source: TokenSource, now: float) -> Reader:
    def read(request: Any, response: Response) -> SendResult:
        found = source.read_token(request, response, now)
        return SendResult.accepted(None, data=found) if isinstance(found, Token) else found

    return read


def _token_of(outcome: Outcome, request: PreparedRequest) -> Token | DeliveryFailure:
    if outcome.ok and isinstance(outcome.data, Token):
        return outcome.data
    error = outcome.error
    why = error.message if error is not None else "no token in the answer"
    # Nothing was sent to the recipient, so another provider may well succeed.
    return DeliveryFailure(
        code=error.code if error is not None else ErrorCode.BAD_RESPONSE,
        message=f"could not obtain an access token from {request.shown_url}: {why}",
        provider_code=error.provider_code if error is not None else None,
        more_info=error.more_info if error is not None else None,
        disposition=Disposition.FAILOVER,
    )


def _report(
    observe: AttemptObserver,
    attempts: Attempts,
    result: AttemptResult,
    step: float | Outcome,
    started: int,
) -> None:
    assert attempts.reading is not None  # record() has just read this attempt
    record = AttemptRecord(
        number=attempts.count,
        status_code=None if isinstance(result, TransportFailure) else result.status,
        reading=attempts.reading,
        retrying=not isinstance(step, Outcome),
        started_ns=started,
        ended_ns=time.time_ns(),
    )
    try:
        observe(record)
    except Exception:
        # Telemetry must not stop a send that has happened.
        logger.exception("an observer failed on an attempt; the send goes on")


def _attempt(transport: Transport, request: Prepared) -> AttemptResult:
    try:
        return transport.send(request)
    except Exception as exc:
        return _raised(request, exc)


async def _aattempt(transport: Transport, request: Prepared) -> AttemptResult:
    try:
        return await transport.asend(request)
    except Exception as exc:
        return _raised(request, exc)


def _raised(request: Prepared, exc: Exception) -> TransportFailure:
    # A transport reports network failures; one that raises instead (a
    # plugin's bug, a client library's surprise) still ends in a receipt.
    # The request may have gone out, so it is unconfirmed, not retried.
    logger.warning(
        "the %r transport raised %s instead of reporting a failure",
        request.transport,
        type(exc).__name__,
        exc_info=logger.isEnabledFor(logging.DEBUG),
    )
    return TransportFailure("lost", f"{type(exc).__name__}: {exc}")


async def _sleep_async(delay: float) -> None:
    # asyncio is imported on first use: importing it costs a dry run ~20 ms.
    import asyncio

    await asyncio.sleep(delay)


def _log_retry(request: Prepared, result: AttemptResult, attempt: int, delay: float) -> None:
    if not logger.isEnabledFor(logging.WARNING):
        return
    if isinstance(request, PreparedRequest):
        # Credentials stay out of URLs (docs/plugins.md), except a URL that is
        # itself the secret, which says so.
        where = f"{request.method} {request.shown_url}"
        answer = "HTTP"
    else:
        where, answer = repr(request), "status"
    why = result.kind if isinstance(result, TransportFailure) else f"{answer} {result.status}"
    logger.warning("%s: %s on attempt %d; retrying in %.2fs", where, why, attempt, delay)
