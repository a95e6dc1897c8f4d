"""Rate limits shared by every process through Redis: the :class:`~norq.throttle.LimitStore`
that lets ten workers together respect one account's limits.

Each operation is one Lua script, so it is atomic on the server, and the time
comes from Redis's own clock (``TIME``), so workers on machines whose clocks
disagree still share one timeline.

When Redis cannot be reached (or is full), ``celery.limits_without_store``
decides: ``per_process`` (the default) keeps the limits in this process's
memory meanwhile, with a warning, so sends go on at up to one process's share
per process; ``fail`` refuses to send with :class:`~norq.errors.StoreUnavailable`.
Redis is tried again every few seconds, and a warning says when it is back.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal, TypeVar

import redis
import redis.asyncio

from norq.errors import StoreUnavailable
from norq.jobs.redis_ledger import store_unavailable
from norq.throttle import LocalLimitStore

logger = logging.getLogger("norq")

T = TypeVar("T")
WithoutStore = Literal["per_process", "fail"]
#: Seconds between tries of an unreachable Redis while limits are kept per process.
_RETRY_STORE = 5.0

# KEYS[1]: the timeline; ARGV[1]: seconds between moments. Returns the wait, as
# a string: Lua numbers become integers on their way out of a script.
_RESERVE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local interval = tonumber(ARGV[1])
local start = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
local ttl = math.ceil((start + interval - now) * 1000) + 1000
redis.call('SET', KEYS[1], string.format('%.6f', start + interval), 'PX', ttl)
return string.format('%.6f', start - now)
"""

# KEYS[1]: the leases (a sorted set scored by expiry); ARGV: capacity, lease, token.
_ENTER = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2]) * 1000))
return 1
"""


# KEYS[1]: the leases; KEYS[2..]: timelines. ARGV: capacity, lease, token, then one
# interval per timeline. _ENTER, then _RESERVE on each timeline if a slot was had.
_ENTER_AND_RESERVE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return {0, '0'}
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2]) * 1000))
local wait = 0
for i = 2, #KEYS do
  local interval = tonumber(ARGV[i + 2])
  local start = math.max(now, tonumber(redis.call('GET', KEYS[i]) or '0'))
  local ttl = math.ceil((start + interval - now) * 1000) + 1000
  redis.call('SET', KEYS[i], string.format('%.6f', start + interval), 'PX', ttl)
  wait = math.max(wait, start - now)
end
return {1, string.format('%.6f', wait)}
"""


class RedisLimitStore:
    """Timelines and in-flight leases in Redis; the async forms use ``redis.asyncio``."""

    def __init__(
        self,
        client: redis.Redis,
        url: str | None = None,
        *,
        without_store: WithoutStore = "per_process",
    ) -> None:
        self._client = client
        self._url = url
        self._reserve = client.register_script(_RESERVE)
        self._enter = client.register_script(_ENTER)
        self._both = client.register_script(_ENTER_AND_RESERVE)
        # An asyncio client belongs to the loop it was made on.
        self._async: tuple[asyncio.AbstractEventLoop, Any, Any, Any, Any] | None = None
        self._without_store = without_store
        self._local = LocalLimitStore()
        self._retry_at = 0.0  # while Redis is away: when to try it again
        self._away = False

    @classmethod
    def from_url(cls, url: str, *, without_store: WithoutStore = "per_process") -> RedisLimitStore:
        # A Redis that does not answer must not hold a send for the system's TCP timeout.
        client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=15)
        return cls(client, url, without_store=without_store)

    def reserve(self, key: str, interval: float) -> float:
        return self._guarded(
            lambda: float(self._reserve(keys=[key], args=[repr(interval)])),
            lambda: self._local.reserve(key, interval),
        )

    def try_enter(self, key: str, capacity: int, lease: float) -> str | None:
        token = uuid.uuid4().hex

        def in_redis() -> str | None:
            entered = self._enter(keys=[key], args=[capacity, repr(lease), token])
            return token if entered else None

        return self._guarded(in_redis, lambda: self._local.try_enter(key, capacity, lease))

    def leave(self, key: str, token: str) -> None:
        self._guarded(lambda: self._client.zrem(key, token), lambda: self._local.leave(key, token))

    def enter_and_reserve(
        self, key: str, capacity: int, lease: float, timelines: Sequence[tuple[str, float]]
    ) -> tuple[str | None, float]:
        token = uuid.uuid4().hex
        keys, args = _both_arguments(key, capacity, lease, token, timelines)

        def in_redis() -> tuple[str | None, float]:
            entered, wait = self._both(keys=keys, args=args)
            return (token, float(wait)) if entered else (None, 0.0)

        return self._guarded(
            in_redis, lambda: self._local.enter_and_reserve(key, capacity, lease, timelines)
        )

    async def aenter_and_reserve(
        self, key: str, capacity: int, lease: float, timelines: Sequence[tuple[str, float]]
    ) -> tuple[str | None, float]:
        token = uuid.uuid4().hex
        keys, args = _both_arguments(key, capacity, lease, token, timelines)

        async def in_redis() -> tuple[str | None, float]:
            _, _, _, both = self._async_client()
            entered, wait = await both(keys=keys, args=args)
            return (token, float(wait)) if entered else (None, 0.0)

        return await self._aguarded(
            in_redis, lambda: self._local.aenter_and_reserve(key, capacity, lease, timelines)
        )

    # -- when Redis is away ----------------------------------------------------------

    def _guarded(self, in_redis: Callable[[], T], in_process: Callable[[], T]) -> T:
        if self._away and time.monotonic() < self._retry_at:
            return in_process()
        try:
            result = in_redis()
        except redis.RedisError as exc:
            return self._without(exc, in_process)
        self._back()
        return result

    async def _aguarded(
        self, in_redis: Callable[[], Awaitable[T]], in_process: Callable[[], Awaitable[T]]
    ) -> T:
        if self._away and time.monotonic() < self._retry_at:
            return await in_process()
        try:
            result = await in_redis()
        except redis.RedisError as exc:
            return await self._without(exc, in_process)
        self._back()
        return result

    def _without(self, exc: redis.RedisError, in_process: Callable[[], T]) -> T:
        unavailable = store_unavailable(self._client, exc)
        if self._without_store == "fail":
            raise StoreUnavailable(
                f"{unavailable}; the rate limits shared through it cannot be kept, so nothing "
                "is sent (celery.limits_without_store: fail)"
            ) from None
        if not self._away:
            logger.warning(
                "%s; rate limits are kept per process until it is back "
                "(celery.limits_without_store: per_process)",
                unavailable,
            )
        self._away = True
        self._retry_at = time.monotonic() + _RETRY_STORE
        return in_process()

    def _back(self) -> None:
        if self._away:
            self._away = False
            logger.warning("the Redis store is back: rate limits are shared again")

    def _async_client(self) -> tuple[Any, Any, Any, Any]:
        loop = asyncio.get_running_loop()
        if self._async is None or self._async[0] is not loop:
            if self._url is None:
                raise RuntimeError("async use needs a RedisLimitStore made with from_url()")
            client = redis.asyncio.Redis.from_url(
                self._url, socket_connect_timeout=5, socket_timeout=15
            )
            self._async = (
                loop,
                client,
                client.register_script(_RESERVE),
                client.register_script(_ENTER),
                client.register_script(_ENTER_AND_RESERVE),
            )
        return self._async[1], self._async[2], self._async[3], self._async[4]

    async def areserve(self, key: str, interval: float) -> float:
        async def in_redis() -> float:
            _, reserve, _, _ = self._async_client()
            return float(await reserve(keys=[key], args=[repr(interval)]))

        return await self._aguarded(in_redis, lambda: self._local.areserve(key, interval))

    async def atry_enter(self, key: str, capacity: int, lease: float) -> str | None:
        token = uuid.uuid4().hex

        async def in_redis() -> str | None:
            _, _, enter, _ = self._async_client()
            entered = await enter(keys=[key], args=[capacity, repr(lease), token])
            return token if entered else None

        return await self._aguarded(in_redis, lambda: self._local.atry_enter(key, capacity, lease))

    async def aleave(self, key: str, token: str) -> None:
        async def in_redis() -> None:
            client, _, _, _ = self._async_client()
            await client.zrem(key, token)

        await self._aguarded(in_redis, lambda: self._local.aleave(key, token))

    def close(self) -> None:
        self._client.close()
        # The asyncio client's connections close with their loop; drop the reference.
        self._async = None


def _both_arguments(
    key: str, capacity: int, lease: float, token: str, timelines: Sequence[tuple[str, float]]
) -> tuple[list[str], list[Any]]:
    keys = [key, *(line for line, _ in timelines)]
    args: list[Any] = [capacity, repr(lease), token, *(repr(gap) for _, gap in timelines)]
    return keys, args
