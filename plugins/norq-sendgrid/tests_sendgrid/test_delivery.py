"""Rate limits, failover and async delivery for SendGrid: respx for sync, a sandbox for aiohttp."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx
from norq_sandbox import SandboxServer
from norq_sandbox.settings import DEFAULT_SENDGRID_API_KEY

import norq
from tests_sendgrid.conftest import (
    NOW,
    RECIPIENT,
    SEND_URL,
    MakeNorq,
    Sleeps,
    document,
    sendgrid,
)

BACKUP_URL = "https://backup.sendgrid.test/v3/mail/send"
FAST_RETRY = {"max_retries": 2, "backoff": 0.01, "jitter": 0}


def with_backup() -> dict[str, Any]:
    return document(
        ["sendgrid", "backup"],
        sendgrid=sendgrid(),
        backup=sendgrid(base_url="https://backup.sendgrid.test"),
    )


def refusal(status: int, message: str, field: str | None = None) -> httpx.Response:
    return httpx.Response(status, json={"errors": [{"message": message, "field": field}]})


@respx.mock
def test_429_waits_for_x_ratelimit_reset_then_sends(make_norq: MakeNorq, sleeps: Sleeps) -> None:
    limited = httpx.Response(
        429,
        headers={
            "X-RateLimit-Limit": "600",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(int(NOW) + 3),
        },
        json={"errors": [{"message": "too many requests", "field": None}]},
    )
    route = respx.post(SEND_URL).mock(
        side_effect=[limited, httpx.Response(202, headers={"X-Message-Id": "m2"})]
    )
    receipt = make_norq().notify("email", RECIPIENT, body="hi", subject="s")
    assert (receipt.ok, receipt.message_id, receipt.attempts) == (True, "m2", 2)
    assert route.call_count == 2
    assert sleeps.calls == [3.0]


@respx.mock
@pytest.mark.parametrize(
    "answer",
    [
        refusal(401, "The provided authorization grant is invalid, expired, or revoked"),
        refusal(403, "The from address does not match a verified Sender Identity.", "from"),
        refusal(401, "Maximum credits exceeded"),
    ],
    ids=["credentials", "sender", "credits"],
)
def test_account_problems_fail_over(make_norq: MakeNorq, answer: httpx.Response) -> None:
    respx.post(SEND_URL).mock(return_value=answer)
    backup = respx.post(BACKUP_URL).mock(
        return_value=httpx.Response(202, headers={"X-Message-Id": "b1"})
    )
    receipt = make_norq(with_backup()).notify("email", RECIPIENT, body="hi", subject="s")
    assert (receipt.ok, receipt.provider, receipt.message_id) == (True, "backup", "b1")
    assert backup.call_count == 1


@respx.mock
def test_a_bad_message_is_final_and_keeps_every_error(make_norq: MakeNorq) -> None:
    respx.post(SEND_URL).mock(
        return_value=httpx.Response(
            400,
            json={
                "errors": [
                    {"message": "Invalid type.", "field": "content.0.type"},
                    {"message": "The subject is too long.", "field": "subject"},
                ]
            },
        )
    )
    backup = respx.post(BACKUP_URL)
    with pytest.raises(norq.DeliveryError) as caught:
        make_norq(with_backup()).notify("email", RECIPIENT, body="hi", subject="s")
    error = caught.value.receipt.error
    assert error is not None
    assert (error.code, error.disposition) == ("invalid_message", "final")
    assert "Invalid type. (field content.0.type)" in error.message
    assert "The subject is too long. (field subject)" in error.message
    assert not backup.called


# -- async, on the default transport (aiohttp), against a real loopback sandbox ----


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(step_delay=0.01) as server:
        yield server


def sandboxed(url: str, **config: Any) -> dict[str, Any]:
    settings = {"api_key": DEFAULT_SENDGRID_API_KEY, "base_url": url, **config}
    return {**sendgrid(**settings), "retry": FAST_RETRY}


async def test_async_send_on_aiohttp_reaches_the_sandbox(sandbox: SandboxServer) -> None:
    async with norq.Norq.from_dict(document(sendgrid=sandboxed(sandbox.url)), environ={}) as app:
        receipt = await app.anotify(
            "email", RECIPIENT, body="Shipped", subject="Order 42", html="<b>Shipped</b>"
        )
    assert receipt.ok
    (mail,) = sandbox.outbox("sendgrid")
    assert receipt.message_id == mail.provider_id
    assert (mail.subject, mail.text, mail.html, mail.to) == (
        "Order 42",
        "Shipped",
        "<b>Shipped</b>",
        (RECIPIENT,),
    )


async def test_async_rate_limit_is_waited_out_on_aiohttp(sandbox: SandboxServer) -> None:
    sandbox.faults_for("sendgrid").add("429:0")
    async with norq.Norq.from_dict(document(sendgrid=sandboxed(sandbox.url)), environ={}) as app:
        receipt = await app.anotify("email", RECIPIENT, body="hi", subject="s")
    assert (receipt.ok, receipt.attempts) == (True, 2)


async def test_async_sandbox_mode_validates_without_sending(sandbox: SandboxServer) -> None:
    doc = document(sendgrid=sandboxed(sandbox.url, sandbox_mode=True))
    async with norq.Norq.from_dict(doc, environ={}) as app:
        receipt = await app.anotify("email", RECIPIENT, body="hi", subject="s")
    assert (receipt.ok, receipt.message_id) == (True, None)
    assert sandbox.outbox("sendgrid") == []
    (request,) = sandbox.requests_to("sendgrid")
    assert request.body_json["mail_settings"] == {"sandbox_mode": {"enable": True}}


async def test_async_wrong_key_fails_over_on_aiohttp(sandbox: SandboxServer) -> None:
    doc = document(
        ["sendgrid", "backup"],
        sendgrid=sandboxed(sandbox.url, api_key="SG.wrong"),
        backup=sandboxed(sandbox.url),
    )
    async with norq.Norq.from_dict(doc, environ={}) as app:
        receipt = await app.anotify("email", RECIPIENT, body="hi", subject="s")
    assert (receipt.ok, receipt.provider, receipt.attempts) == (True, "backup", 2)
