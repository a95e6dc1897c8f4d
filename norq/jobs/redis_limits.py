"""Rate limits shared by every process through Redis: the :class:`~norq.throttle.LimitStore`
that lets ten workers together respect one account's limits.

Each operation is one Lua script, so it is atomic on the server, and the time
comes from Redis's own clock (``TIME``), so workers on machines whose clocks
disagree still share one timeline.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

import redis
import redis.asyncio

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

    def __init__(self, client: redis.Redis, url: str | None = None) -> None:
        self._client = client
        self._url = url
        self._reserve = client.register_script(_RESERVE)
        self._enter = client.register_script(_ENTER)
        self._both = client.register_script(_ENTER_AND_RESERVE)
        # An asyncio client belongs to the loop it was made on.
        self._async: tuple[asyncio.AbstractEventLoop, Any, Any, Any, Any] | None = None

    @classmethod
    def from_url(cls, url: str) -> RedisLimitStore:
        return cls(redis.Redis.from_url(url), url)

    def reserve(self, key: str, interval: float) -> float:
        return float(self._reserve(keys=[key], args=[repr(interval)]))

    def try_enter(self, key: str, capacity: int, lease: float) -> str | None:
        token = uuid.uuid4().hex
        entered = self._enter(keys=[key], args=[capacity, repr(lease), token])
        return token if entered else None

    def leave(self, key: str, token: str) -> None:
        self._client.zrem(key, token)

    def enter_and_reserve(
        self, key: str, capacity: int, lease: float, timelines: Sequence[tuple[str, float]]
    ) -> tuple[str | None, float]:
        token = uuid.uuid4().hex
        keys, args = _both_arguments(key, capacity, lease, token, timelines)
        entered, wait = self._both(keys=keys, args=args)
        return (token, float(wait)) if entered else (None, 0.0)

    async def aenter_and_reserve(
        self, key: str, capacity: int, lease: float, timelines: Sequence[tuple[str, float]]
    ) -> tuple[str | None, float]:
        _, _, _, both = self._async_client()
        token = uuid.uuid4().hex
        keys, args = _both_arguments(key, capacity, lease, token, timelines)
        entered, wait = await both(keys=keys, args=args)
        return (token, float(wait)) if entered else (None, 0.0)

    def _async_client(self) -> tuple[Any, Any, Any, Any]:
        loop = asyncio.get_running_loop()
        if self._async is None or self._async[0] is not loop:
            if self._url is None:
                raise RuntimeError("async use needs a RedisLimitStore made with from_url()")
            client = redis.asyncio.Redis.from_url(self._url)
            self._async = (
                loop,
                client,
                client.register_script(_RESERVE),
                client.register_script(_ENTER),
                client.register_script(_ENTER_AND_RESERVE),
            )
        return self._async[1], self._async[2], self._async[3], self._async[4]

    async def areserve(self, key: str, interval: float) -> float:
        _, reserve, _, _ = self._async_client()
        return float(await reserve(keys=[key], args=[repr(interval)]))

    async def atry_enter(self, key: str, capacity: int, lease: float) -> str | None:
        _, _, enter, _ = self._async_client()
        token = uuid.uuid4().hex
        entered = await enter(keys=[key], args=[capacity, repr(lease), token])
        return token if entered else None

    async def aleave(self, key: str, token: str) -> None:
        client, _, _, _ = self._async_client()
        await client.zrem(key, token)

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
