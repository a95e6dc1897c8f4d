"""``GET /_sandbox/messages``: a page at a time, searched and filtered on the server."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from norq_sandbox import SandboxServer
from norq_sandbox.outbox import OutboxMessage
from norq_sandbox.twilio_resources import MessageDraft


def add_sms(sandbox: SandboxServer, to: str, body: str) -> str:
    draft = MessageDraft(to, "+15005550006", body, None, None)
    return sandbox.records.create_message(draft).sid


def add_email(sandbox: SandboxServer, n: int, api: str = "sendgrid") -> str:
    sandbox.records.deliver(
        OutboxMessage(
            id=f"email-{n}",
            api=api,
            channel="email",
            at=sandbox.records.clock.now(),
            sender="alerts@example.com",
            to=(f"user{n}@example.com",),
            provider_id=f"provider-{n}",
            subject=f"Receipt {n}",
            text=f"Order {n} shipped",
        )
    )
    return f"email-{n}"


def page(sandbox: SandboxServer, **params: Any) -> dict[str, Any]:
    response = httpx.get(f"{sandbox.url}/_sandbox/messages", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ids(answer: dict[str, Any]) -> list[str]:
    return [message["id"] for message in answer["messages"]]


def test_pages_follow_next_newest_first_to_the_last(sandbox: SandboxServer) -> None:
    made = [add_email(sandbox, n) for n in range(7)]

    first = page(sandbox, limit=3)
    second = page(sandbox, limit=3, before=first["next"])
    last = page(sandbox, limit=3, before=second["next"])

    assert ids(first) + ids(second) + ids(last) == made[::-1]
    assert last["next"] is None
    assert first["matching"] == 7


def test_search_finds_a_recipient_text_or_id_ignoring_case(sandbox: SandboxServer) -> None:
    sid = add_sms(sandbox, "+15558675310", "Your code is 428913")
    add_sms(sandbox, "+15550000000", "Something else")
    add_email(sandbox, 4)

    assert ids(page(sandbox, q="+15558675310")) == [sid]
    assert ids(page(sandbox, q="CODE IS")) == [sid]
    assert ids(page(sandbox, q=sid.lower())) == [sid]
    assert ids(page(sandbox, q="user4@example.com")) == ["email-4"]
    assert ids(page(sandbox, q="provider-4")) == ["email-4"]
    assert ids(page(sandbox, q="receipt 4")) == ["email-4"]
    assert page(sandbox, q="nobody")["matching"] == 0


def test_filters_by_channel_provider_and_status(sandbox: SandboxServer) -> None:
    sid = add_sms(sandbox, "+15558675310", "hi")
    add_email(sandbox, 1, api="sendgrid")
    add_email(sandbox, 2, api="smtp")

    assert ids(page(sandbox, channel="sms")) == [sid]
    assert ids(page(sandbox, api="smtp")) == ["email-2"]
    assert ids(page(sandbox, status="pending")) == [sid]  # queued
    assert ids(page(sandbox, status="delivered")) == ["email-2", "email-1"]
    assert ids(page(sandbox, channel="email", status="failed")) == []


def test_counts_cover_the_whole_inbox_whatever_the_filters(sandbox: SandboxServer) -> None:
    add_sms(sandbox, "+15558675310", "hi")
    add_email(sandbox, 1)

    counts = page(sandbox, channel="chat", limit=1)["counts"]

    assert counts == {
        "all": 2,
        "sms": 1,
        "email": 1,
        "chat": 0,
        "push": 0,
        "delivered": 1,
        "pending": 1,
        "failed": 0,
    }


@pytest.mark.parametrize("limit", ["0", "501", "ten"])
def test_a_limit_out_of_range_is_a_400(sandbox: SandboxServer, limit: str) -> None:
    response = httpx.get(f"{sandbox.url}/_sandbox/messages", params={"limit": limit})
    assert response.status_code == 400
    assert "limit must be a whole number from 1 to 500" in response.json()["error"]
