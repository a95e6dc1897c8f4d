"""One Norq used from several event loops: threads running ``asyncio.run``, and runs in turn.

Each event loop gets its own async client (docs/reliability.md), so a loop
never has its connections torn down by another, and a client whose loop has
ended is never reused. Both async clients are covered: aiohttp (the default)
and httpx (a core-only install). Every send must succeed, and the server must
have seen exactly one request per receipt.
"""

from __future__ import annotations

import asyncio
import threading
import warnings
from collections.abc import Iterator

import pytest

import norq
from norq.plugins import get_plugin_manager
from tests.e2e.loopback import LoopbackServer, serve

CLIENTS = ["aiohttp", "httpx"]
THREADS = 8
PER_THREAD = 40
RUNS = 6
PER_RUN = 20


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with serve() as running:
        running.slow_seconds = 0.02  # keeps requests of different loops in flight together
        yield running


def twilio_norq(base_url: str, client: str) -> norq.Norq:
    document = {
        "providers": {
            "twilio": {
                "config": {
                    "account_sid": "AC" + "0" * 32,
                    "auth_token": "token-for-tests",
                    "from": "+15005550006",
                    "base_url": base_url,
                }
            }
        },
        "routing": {"sms": "twilio"},
        "executor": {"async_transport": client},
    }
    return norq.Norq.from_dict(
        document, environ={}, plugin_manager=get_plugin_manager(load_entry_points=False)
    )


async def send_batch(app: norq.Norq, count: int) -> list[norq.Receipt]:
    recipients = [f"+1555867{n:04d}" for n in range(count)]
    return [r async for r in app.anotify_many("sms", recipients, body="hi", concurrency=10)]


def failures(receipts: list[norq.Receipt]) -> list[str]:
    return [f"{r.to}: {r.error.code if r.error else '?'}" for r in receipts if not r.ok]


@pytest.mark.e2e
@pytest.mark.parametrize("client", CLIENTS)
def test_threads_each_running_their_own_loop_share_one_norq(
    server: LoopbackServer, client: str
) -> None:
    app = twilio_norq(f"{server.url}/slow", client)
    start = threading.Barrier(THREADS)
    results: list[list[norq.Receipt]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait(timeout=30)
            # Two runs per thread: each thread's second loop starts while others are mid-send.
            for _ in range(2):
                results.append(asyncio.run(send_batch(app, PER_THREAD // 2)))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    app.close()
    receipts = [r for batch in results for r in batch]
    assert errors == []
    assert failures(receipts) == []
    assert len(receipts) == THREADS * PER_THREAD
    assert server.requests == THREADS * PER_THREAD


@pytest.mark.e2e
@pytest.mark.parametrize("client", CLIENTS)
def test_one_asyncio_run_after_another_reuses_nothing_from_a_closed_loop(
    server: LoopbackServer, client: str
) -> None:
    app = twilio_norq(f"{server.url}/ok", client)
    receipts: list[norq.Receipt] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        for _ in range(RUNS):
            receipts += asyncio.run(send_batch(app, PER_RUN))
            receipts.append(asyncio.run(app.anotify("sms", "+15558675310", body="one")))
        app.close()
    assert failures(receipts) == []
    assert server.requests == RUNS * (PER_RUN + 1)


@pytest.mark.e2e
@pytest.mark.parametrize("client", CLIENTS)
def test_sync_and_async_sends_from_many_threads_at_once(
    server: LoopbackServer, client: str
) -> None:
    app = twilio_norq(f"{server.url}/ok", client)
    start = threading.Barrier(THREADS)
    receipts: list[norq.Receipt] = []
    lock = threading.Lock()

    def run(use_async: bool) -> None:
        start.wait(timeout=30)
        if use_async:
            got = asyncio.run(send_batch(app, 10))
        else:
            got = list(app.notify_many("sms", [f"+1555867{n:04d}" for n in range(10)], body="x"))
        with lock:
            receipts.extend(got)

    threads = [threading.Thread(target=run, args=(i % 2 == 0,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    app.close()
    assert failures(receipts) == []
    assert len(receipts) == server.requests == THREADS * 10
