"""The throttle: holding each request to its provider's rate limits.

The limits themselves are values (:class:`~norq.rate_limits.RateLimits`). A
rate is kept by *scheduling*, not by refusing: each request reserves the next
free moment on a timeline whose moments are ``1 / rate`` apart and sleeps
until it (the generic cell rate algorithm with no burst). A bulk send therefore runs
at the allowed rate instead of bursting into 429s, and the same arithmetic runs
on one process's memory (:class:`LocalLimitStore`) or in Redis, where one
script makes every worker share one timeline (:mod:`norq.jobs.redis_limits`).
A slot in flight is a lease, so a process killed mid-request frees its slot
when the lease runs out instead of holding it forever.

No library does this: ``limits`` (the obvious candidate) answers "may I, now?"
with fixed or moving windows, so a sender would poll and send in bursts at each
window's start, which is what a provider's own limiter punishes.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

from norq.rate_limits import RateLimits

if TYPE_CHECKING:
    from norq.provider import Provider

# How long a waiting request sleeps between looks at a full in-flight limit:
# starts short (a slot usually frees within one round trip), grows to the cap.
_FIRST_POLL = 0.001
_MAX_POLL = 0.05


class LimitStore(Protocol):
    """Where the timelines and the in-flight leases live: this process, or Redis.

    ``reserve`` books the next moment on ``key``'s timeline (moments
    ``interval`` seconds apart) and returns how many seconds from now it is.
    ``try_enter`` takes one of ``capacity`` slots for ``lease`` seconds and
    returns its token, or ``None`` when all are taken; ``leave`` gives it back.
    ``enter_and_reserve`` does both at once (one round trip to Redis): a
    slot, then a moment on every timeline; no reservation when no slot.
    """

    def reserve(self, key: str, interval: float) -> float: ...

    def try_enter(self, key: str, capacity: int, lease: float) -> str | None: ...

    def leave(self, key: str, token: str) -> None: ...

    def enter_and_reserve(
        self, key: str, capacity: int, lease: float, timelines: Sequence[tuple[str, float]]
    ) -> tuple[str | None, float]: ...

    async def aenter_and_reserve(
        self, key: str, capacity: int, lease: float, timelines: Sequence[tuple[str, float]]
    ) -> tuple[str | None, float]: ...

    async def areserve(self, key: str, interval: float) -> float: ...

    async def atry_enter(self, key: str, capacity: int, lease: float) -> str | None: ...

    async def aleave(self, key: str, token: str) -> None: ...

    def close(self) -> None: ...


class LocalLimitStore:
    """Timelines and leases in this process's memory, shared by its threads and event loops."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._next_free: dict[str, float] = {}
        self._leases: dict[str, dict[str, float]] = {}

    def reserve(self, key: str, interval: float) -> float:
        with self._lock:
            now = self._clock()
            start = max(now, self._next_free.get(key, now))
            self._next_free[key] = start + interval
            return start - now

    def try_enter(self, key: str, capacity: int, lease: float) -> str | None:
        with self._lock:
            now = self._clock()
            held = self._leases.setdefault(key, {})
            for token in [t for t, expiry in held.items() if expiry <= now]:
                del held[token]
            if len(held) >= capacity:
                return None
            token = uuid.uuid4().hex
            held[token] = now + lease
            return token

    def leave(self, key: str, token: str) -> None:
        with self._lock:
            self._leases.get(key, {}).pop(token, None)

    def enter_and_reserve(
        self, key: str, capacity: int, lease: float, timelines: Sequence[tuple[str, float]]
    ) -> tuple[str | None, float]:
        token = self.try_enter(key, capacity, lease)
        if token is None:
            return None, 0.0
        return token, max((self.reserve(line, gap) for line, gap in timelines), default=0.0)

    async def aenter_and_reserve(
        self, key: str, capacity: int, lease: float, timelines: Sequence[tuple[str, float]]
    ) -> tuple[str | None, float]:
        return self.enter_and_reserve(key, capacity, lease, timelines)

    # Nothing here waits on I/O, so the async forms are the sync ones.
    async def areserve(self, key: str, interval: float) -> float:
        return self.reserve(key, interval)

    async def atry_enter(self, key: str, capacity: int, lease: float) -> str | None:
        return self.try_enter(key, capacity, lease)

    async def aleave(self, key: str, token: str) -> None:
        self.leave(key, token)

    def close(self) -> None:
        return None


class Throttle:
    """One provider instance's limits, held around each request it sends.

    A slot in flight is taken first and the rates are waited for while holding
    it, so requests leave at the paced moments: waiting for the rate first
    would let requests that queued for a slot leave together, in a burst.
    """

    def __init__(
        self,
        instance: str,
        limits: RateLimits,
        store: LimitStore,
        *,
        sender: str | None = None,
        lease: float = 60.0,
    ) -> None:
        self.limits = limits
        self._store = store
        self._lease = lease
        self._slots_key = f"norq:inflight:{instance}"
        self._timelines: list[tuple[str, float]] = []
        if limits.requests_per_second is not None:
            self._timelines.append((f"norq:rate:{instance}", 1.0 / limits.requests_per_second))
        if limits.sender_per_second is not None and sender is not None:
            self._timelines.append((f"norq:sender:{sender}", 1.0 / limits.sender_per_second))

    @contextmanager
    def hold(self) -> Iterator[None]:
        token, wait = self._enter()
        try:
            if wait > 0:
                time.sleep(wait)
            yield
        finally:
            if token is not None:
                self._store.leave(self._slots_key, token)

    @asynccontextmanager
    async def ahold(self) -> AsyncIterator[None]:
        import asyncio  # here: a dry run imports this module and never waits

        token, wait = await self._aenter()
        try:
            if wait > 0:
                await asyncio.sleep(wait)
            yield
        finally:
            if token is not None:
                await self._store.aleave(self._slots_key, token)

    def _enter(self) -> tuple[str | None, float]:
        """A slot in flight (if limited) and the wait for the rates' next moments."""
        store, capacity = self._store, self.limits.max_in_flight
        if capacity is None:
            return None, max((store.reserve(k, gap) for k, gap in self._timelines), default=0.0)
        poll = _FIRST_POLL
        while True:
            token, wait = store.enter_and_reserve(
                self._slots_key, capacity, self._lease, self._timelines
            )
            if token is not None:
                return token, wait
            time.sleep(poll)
            poll = min(poll * 2, _MAX_POLL)

    async def _aenter(self) -> tuple[str | None, float]:
        import asyncio

        store, capacity = self._store, self.limits.max_in_flight
        if capacity is None:
            wait = 0.0
            for key, gap in self._timelines:
                wait = max(wait, await store.areserve(key, gap))
            return None, wait
        poll = _FIRST_POLL
        while True:
            token, wait = await store.aenter_and_reserve(
                self._slots_key, capacity, self._lease, self._timelines
            )
            if token is not None:
                return token, wait
            await asyncio.sleep(poll)
            poll = min(poll * 2, _MAX_POLL)


class Throttles:
    """Each provider instance's throttle, built on its first request; ``None`` without limits.

    The store is opened with the first throttle, so a config without rate
    limits never opens one (nor connects to Redis).
    """

    def __init__(self, open_store: Callable[[], LimitStore], *, lease: float) -> None:
        self._open_store = open_store
        self._store: LimitStore | None = None
        self._lease = lease
        self._throttles: dict[tuple[str, bool], Throttle | None] = {}

    def of(self, provider: Provider, *, query: bool = False) -> Throttle | None:
        """``provider``'s throttle, or ``None`` if it has no limits.

        A ``query`` (status, listing, raw request) counts against the
        instance's limits but not its sender's: it sends no message.
        """
        key = (provider.instance, query)
        try:
            return self._throttles[key]
        except KeyError:
            pass
        limits = provider.rate_limits
        if query:
            limits = replace(limits, sender_per_second=None)
        throttle = None
        if limits.active:
            throttle = Throttle(
                provider.instance,
                limits,
                self._store_now(),
                sender=provider.sender,
                lease=self._lease,
            )
        self._throttles[key] = throttle
        return throttle

    def _store_now(self) -> LimitStore:
        if self._store is None:
            self._store = self._open_store()
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
