"""``executor.timeout`` is a deadline for each attempt, not a limit on each read.

The loopback server drips a valid answer one byte every 0.1 s, in the headers
or in the body: every read returns well within a 0.5 s read timeout, so only
a deadline ends the attempt. Without one the answer completes after about
4 s and is reported as delivered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

import norq
from norq.executor import Executor
from norq.receipt import Outcome
from norq.request import PreparedRequest
from tests.e2e.loopback import DRIP_BYTES, LoopbackServer, serve, twilio_norq

DEADLINE = 0.5
DRIPS = ["drip-headers", "drip-body"]
ASYNC_CLIENTS = ["aiohttp", "httpx"]


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with serve() as running:
        yield running


def post(url: str) -> PreparedRequest:
    return PreparedRequest(
        method="POST", url=url, form=(("To", "+15551234567"),), message_id_path="$.sid"
    )


def assert_deadline_hit(outcome: Outcome, server: LoopbackServer) -> None:
    assert not outcome.ok
    assert outcome.error is not None
    assert outcome.error.code == "timeout"
    assert outcome.attempts == 1  # a timeout after sending is unconfirmed: not retried
    assert server.dripped < DRIP_BYTES  # the client stopped listening before the end


@pytest.mark.e2e
@pytest.mark.parametrize("drip", DRIPS)
def test_sync_attempt_ends_at_the_deadline(server: LoopbackServer, drip: str) -> None:
    executor = Executor(timeout=DEADLINE)
    try:
        outcome = executor.send(post(f"{server.url}/{drip}"))
    finally:
        executor.close()
    assert_deadline_hit(outcome, server)


@pytest.mark.e2e
@pytest.mark.parametrize("client", ASYNC_CLIENTS)
@pytest.mark.parametrize("drip", DRIPS)
def test_async_attempt_ends_at_the_deadline(server: LoopbackServer, drip: str, client: str) -> None:
    executor = Executor(timeout=DEADLINE, async_transport=client)

    async def send() -> Outcome:
        try:
            return await executor.asend(post(f"{server.url}/{drip}"))
        finally:
            await executor.aclose()

    outcome = asyncio.run(send())
    assert_deadline_hit(outcome, server)
    assert outcome.error is not None
    assert "executor.timeout" in outcome.error.message


@pytest.mark.e2e
def test_a_fast_answer_after_a_dripping_one_still_succeeds(server: LoopbackServer) -> None:
    # The deadline belongs to one attempt: the next send on the same pool starts afresh.
    executor = Executor(timeout=DEADLINE)
    try:
        dripping = executor.send(post(f"{server.url}/drip-body"))
        fast = executor.send(post(f"{server.url}/ok"))
    finally:
        executor.close()
    assert not dripping.ok
    assert fast.ok


@pytest.mark.e2e
def test_notify_with_the_yaml_timeout_gives_a_timeout_receipt(server: LoopbackServer) -> None:
    with (
        twilio_norq(f"{server.url}/drip-body", timeout=DEADLINE) as app,
        pytest.raises(norq.DeliveryError) as caught,
    ):
        app.notify("sms", "+15558675310", body="hi")
    assert caught.value.receipt.error is not None
    assert caught.value.receipt.error.code == "timeout"


@pytest.mark.e2e
@pytest.mark.parametrize("client", ASYNC_CLIENTS)
def test_anotify_with_the_yaml_timeout_gives_a_timeout_receipt(
    server: LoopbackServer, client: str
) -> None:
    async def send() -> norq.Receipt:
        async with twilio_norq(
            f"{server.url}/drip-headers", timeout=DEADLINE, async_transport=client
        ) as app:
            with pytest.raises(norq.DeliveryError) as caught:
                await app.anotify("sms", "+15558675310", body="hi")
            return caught.value.receipt

    receipt = asyncio.run(send())
    assert receipt.error is not None
    assert receipt.error.code == "timeout"
