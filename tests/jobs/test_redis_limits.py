"""Rate limits in Redis: several processes share one timeline and one set of slots."""

from __future__ import annotations

import pytest

from norq.jobs.redis_limits import RedisLimitStore


def test_two_stores_on_one_redis_share_a_timeline(redis_url: str) -> None:
    first, second = RedisLimitStore.from_url(redis_url), RedisLimitStore.from_url(redis_url)
    try:
        waits = [store.reserve("norq:rate:t", 5.0) for store in (first, second, first)]
    finally:
        first.close()
        second.close()
    # Booked back to back: each wait is about five seconds more than the one before.
    assert waits[0] == pytest.approx(0.0, abs=0.5)
    assert waits[1] == pytest.approx(5.0, abs=0.5)
    assert waits[2] == pytest.approx(10.0, abs=0.5)


def test_in_flight_slots_are_counted_across_stores(redis_url: str) -> None:
    first, second = RedisLimitStore.from_url(redis_url), RedisLimitStore.from_url(redis_url)
    try:
        token = first.try_enter("norq:inflight:t", 1, lease=30)
        assert token is not None
        assert second.try_enter("norq:inflight:t", 1, lease=30) is None
        first.leave("norq:inflight:t", token)
        assert second.try_enter("norq:inflight:t", 1, lease=30) is not None
    finally:
        first.close()
        second.close()


def test_a_dead_holders_slot_frees_when_its_lease_ends(redis_url: str) -> None:
    store = RedisLimitStore.from_url(redis_url)
    try:
        assert store.try_enter("norq:inflight:t", 1, lease=0.05) is not None
        import time

        time.sleep(0.1)
        assert store.try_enter("norq:inflight:t", 1, lease=30) is not None
    finally:
        store.close()


async def test_the_async_forms_share_the_sync_timeline(redis_url: str) -> None:
    store = RedisLimitStore.from_url(redis_url)
    try:
        assert store.reserve("norq:rate:t", 5.0) == pytest.approx(0.0, abs=0.5)
        assert await store.areserve("norq:rate:t", 5.0) == pytest.approx(5.0, abs=0.5)
        token = await store.atry_enter("norq:inflight:t", 1, lease=30)
        assert token is not None
        assert store.try_enter("norq:inflight:t", 1, lease=30) is None
        await store.aleave("norq:inflight:t", token)
        assert store.try_enter("norq:inflight:t", 1, lease=30) is not None
    finally:
        store.close()


def test_a_slot_and_the_rates_come_in_one_step_and_no_slot_books_no_moment(
    redis_url: str,
) -> None:
    store = RedisLimitStore.from_url(redis_url)
    lines = [("norq:rate:t", 5.0), ("norq:sender:s", 10.0)]
    try:
        token, wait = store.enter_and_reserve("norq:inflight:t", 1, 30, lines)
        assert token is not None
        assert wait == pytest.approx(0.0, abs=0.5)
        assert store.enter_and_reserve("norq:inflight:t", 1, 30, lines) == (None, 0.0)
        store.leave("norq:inflight:t", token)
        # The refused call booked nothing: the next waits one sender interval, not two.
        _, wait = store.enter_and_reserve("norq:inflight:t", 1, 30, lines)
        assert wait == pytest.approx(10.0, abs=0.5)
    finally:
        store.close()
