"""One Norq used from several event loops: threads running ``asyncio.run``, and runs in turn.

Each event loop gets its own async client (docs/reliability.md), so a loop
never has its connections torn down by another, and a client whose loop has
ended is never reused. Both async clients are covered: aiohttp (the default)
and httpx (a core-only install). Every send must succeed, and the server must
have seen exactly one request per receipt.
"""

from __future__ import annotations

import asyncio
import time
import warnings
from collections.abc import Iterator

import pytest

import norq
from norq.testing import MockServer, RecordedRequest, json_response
from tests.e2e.loopback import run_in_threads, twilio_norq

CLIENTS = ["aiohttp", "httpx"]
THREADS = 8
PER_THREAD = 40
RUNS = 6
PER_RUN = 20


def accepted(recorded: RecordedRequest) -> norq.Response:
    return json_response(201, {"sid": "SM" + "0" * 32})


def accepted_slowly(recorded: RecordedRequest) -> norq.Response:
    time.sleep(0.02)  # keeps requests of different loops in flight together
    return accepted(recorded)


@pytest.fixture
def server() -> Iterator[MockServer]:
    with MockServer(handler=accepted) as running:
        yield running


@pytest.fixture
def slow_server() -> Iterator[MockServer]:
    with MockServer(handler=accepted_slowly) as running:
        yield running


async def send_batch(app: norq.Norq, count: int) -> list[norq.Receipt]:
    recipients = [f"+1555867{n:04d}" for n in range(count)]
    return [r async for r in app.anotify_many("sms", recipients, body="hi", concurrency=10)]


def failures(receipts: list[norq.Receipt]) -> list[str]:
    return [f"{r.to}: {r.error.code if r.error else '?'}" for r in receipts if not r.ok]


@pytest.mark.e2e
@pytest.mark.parametrize("client", CLIENTS)
def test_threads_each_running_their_own_loop_share_one_norq(
    slow_server: MockServer, client: str
) -> None:
    app = twilio_norq(slow_server.url, async_transport=client)

    def run(_: int) -> list[norq.Receipt]:
        # Two runs per thread: each thread's second loop starts while others are mid-send.
        return [r for _ in range(2) for r in asyncio.run(send_batch(app, PER_THREAD // 2))]

    results = run_in_threads(THREADS, run)
    app.close()
    receipts = [r for batch in results for r in batch]
    assert failures(receipts) == []
    assert len(receipts) == THREADS * PER_THREAD
    assert len(slow_server.requests) == THREADS * PER_THREAD


@pytest.mark.e2e
@pytest.mark.parametrize("client", CLIENTS)
def test_one_asyncio_run_after_another_reuses_nothing_from_a_closed_loop(
    server: MockServer, client: str
) -> None:
    app = twilio_norq(server.url, async_transport=client)
    receipts: list[norq.Receipt] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        for _ in range(RUNS):
            receipts += asyncio.run(send_batch(app, PER_RUN))
            receipts.append(asyncio.run(app.anotify("sms", "+15558675310", body="one")))
        app.close()
    assert failures(receipts) == []
    assert len(server.requests) == RUNS * (PER_RUN + 1)


@pytest.mark.e2e
@pytest.mark.parametrize("client", CLIENTS)
def test_sync_and_async_sends_from_many_threads_at_once(server: MockServer, client: str) -> None:
    app = twilio_norq(server.url, async_transport=client)

    def run(number: int) -> list[norq.Receipt]:
        if number % 2 == 0:
            return asyncio.run(send_batch(app, 10))
        return list(app.notify_many("sms", [f"+1555867{n:04d}" for n in range(10)], body="x"))

    receipts = [r for batch in run_in_threads(THREADS, run) for r in batch]
    app.close()
    assert failures(receipts) == []
    assert len(receipts) == len(server.requests) == THREADS * 10
