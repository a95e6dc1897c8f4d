"""Rate limits against a sandbox that enforces Twilio's account limits with 429 / 20429."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from norq_sandbox import SandboxServer

from norq import Norq

from .conftest import twilio_provider

pytestmark = pytest.mark.e2e

COUNT = 300


@pytest.fixture
def limited_sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(step_delay=0.01, rate_limit=200, max_concurrent=20) as server:
        yield server


def _norq(sandbox: SandboxServer, **rate_limits: Any) -> Norq:
    entry = twilio_provider(sandbox.url, retry={"max_retries": 0})
    entry["rate_limits"] = rate_limits
    return Norq.from_dict({"providers": {"twilio": entry}, "routing": {"sms": "twilio"}})


def _recipients() -> list[str]:
    return [f"+1555{index:07d}" for index in range(COUNT)]


def test_the_sandbox_answers_429_20429_past_its_account_rate() -> None:
    # Two a second: twenty unpaced sends would need nine seconds to stay under it.
    with SandboxServer(step_delay=0.01, rate_limit=2) as slow, _norq(slow, max_in_flight=0) as app:
        receipts = list(app.notify_many("sms", _recipients()[:20], body="hi"))
    refused = [r for r in receipts if r.status_code == 429]
    assert refused, "an unpaced run should have gone past 2 per second"
    assert refused[0].error is not None
    assert refused[0].error.provider_code == "20429"


async def test_a_paced_bulk_send_meets_no_429(limited_sandbox: SandboxServer) -> None:
    started = time.monotonic()
    async with _norq(limited_sandbox, requests_per_second=200, max_in_flight=20) as app:
        receipts = [
            r async for r in app.anotify_many("sms", _recipients(), body="hi", concurrency=64)
        ]
    elapsed = time.monotonic() - started
    assert [r for r in receipts if not r.ok] == []
    assert limited_sandbox.state.limits.rejected == 0
    # 300 moments 5 ms apart cannot fit in less than 1.495 s.
    assert elapsed >= (COUNT - 1) / 200


def test_a_paced_sync_send_meets_no_429(limited_sandbox: SandboxServer) -> None:
    with _norq(limited_sandbox, requests_per_second=200) as app:
        receipts = list(app.notify_many("sms", _recipients()[:50], body="hi"))
    assert all(r.ok for r in receipts)
    assert limited_sandbox.state.limits.rejected == 0
