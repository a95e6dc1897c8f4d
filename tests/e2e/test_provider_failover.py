"""Failover across providers of different plugins, driven by dispositions, over real sockets.

The sandbox stands in for Twilio, Vonage, SendGrid and an SMTP server;
``norq.testing.MockServer`` gives the answers the sandbox cannot be made to
give (a Vonage or SendGrid refusal of the message itself). A ``retry``
failure is retried, then the next provider delivers; a ``final`` one stops
there and the next provider never hears of the message.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from norq_sandbox import (
    DEFAULT_ACCOUNT_SID,
    DEFAULT_API_KEY_SECRET,
    DEFAULT_API_KEY_SID,
    SandboxServer,
)

import norq
from norq.testing import MockServer, json_response

pytestmark = pytest.mark.e2e

FAST_RETRY = {"max_retries": 1, "backoff": 0, "jitter": 0}
PHONE = "+15558675310"


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(step_delay=0.01) as server:
        yield server


def providers(sandbox: SandboxServer, **urls: str) -> dict[str, Any]:
    """Every provider pointed at the sandbox, or at ``urls[name]`` where given."""
    return {
        "twilio": {
            "config": {
                "account_sid": DEFAULT_ACCOUNT_SID,
                "api_key_sid": DEFAULT_API_KEY_SID,
                "api_key_secret": DEFAULT_API_KEY_SECRET,
                "from": "+15005550006",
                "base_url": urls.get("twilio", sandbox.url),
            },
            "retry": FAST_RETRY,
        },
        "vonage": {
            "config": {
                "api_key": "sandboxkey",
                "api_secret": "sandbox-vonage-secret",
                "from": "Norq",
                "base_url": urls.get("vonage", sandbox.url),
            },
            "retry": FAST_RETRY,
        },
        "sendgrid": {
            "config": {
                "api_key": "SG.sandbox-api-key",
                "from": "alerts@example.com",
                "base_url": urls.get("sendgrid", sandbox.url),
            },
            "retry": FAST_RETRY,
        },
        "smtp": {
            "config": {
                "host": sandbox.smtp_host,
                "port": sandbox.smtp_port,
                "security": "none",
                "sender": "alerts@example.com",
                "helo_name": "norq.test",
            },
            "retry": FAST_RETRY,
        },
    }


def build(sandbox: SandboxServer, routing: dict[str, list[str]], **urls: str) -> norq.Norq:
    return norq.Norq.from_dict(
        {"providers": providers(sandbox, **urls), "routing": routing}, environ={}
    )


def delivered_by(sandbox: SandboxServer, api: str) -> list[str]:
    return [to for message in sandbox.outbox(api) for to in message.to]


async def send(app: norq.Norq, mode: str, channel: str, to: str, **options: Any) -> norq.Receipt:
    options.setdefault("body", "Your order shipped")
    if channel == "email":
        options.setdefault("subject", "Order shipped")
    if mode == "sync":
        with app:
            return app.notify(channel, to, **options)
    async with app:
        return await app.anotify(channel, to, **options)


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_sms_twilio_then_vonage_fails_over_on_a_retryable_failure(
    sandbox: SandboxServer, mode: str
) -> None:
    sandbox.faults_for("twilio").add("503", count=2)
    app = build(sandbox, {"sms": ["twilio", "vonage"]})
    receipt = await send(app, mode, "sms", PHONE)
    assert receipt.ok
    assert receipt.provider == "vonage"
    assert receipt.attempts == 3  # two on Twilio, one on Vonage
    assert delivered_by(sandbox, "vonage") == ["15558675310"]


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_sms_vonage_then_twilio_fails_over_on_a_retryable_failure(
    sandbox: SandboxServer, mode: str
) -> None:
    sandbox.faults_for("vonage").add("body-error", count=2)  # status 5, Internal Error
    app = build(sandbox, {"sms": ["vonage", "twilio"]})
    receipt = await send(app, mode, "sms", PHONE)
    assert receipt.ok
    assert receipt.provider == "twilio"
    assert [m.draft.to for m in sandbox.messages()] == [PHONE]


def test_sms_twilio_then_vonage_stops_at_a_final_failure(sandbox: SandboxServer) -> None:
    app = build(sandbox, {"sms": ["twilio", "vonage"]})
    with app, pytest.raises(norq.DeliveryError) as caught:
        app.notify("sms", "+15005550001", body="hi")  # Twilio: 21211, invalid 'To' number
    error = caught.value.receipt.error
    assert error is not None
    assert (error.disposition, caught.value.receipt.provider) == ("final", "twilio")
    assert sandbox.requests_to("vonage") == []


def test_sms_vonage_then_twilio_stops_at_a_final_failure(sandbox: SandboxServer) -> None:
    refusal = {"message-count": "1", "messages": [{"status": "3", "error-text": "Invalid to"}]}
    with MockServer(json_response(200, refusal)) as vonage:
        app = build(sandbox, {"sms": ["vonage", "twilio"]}, vonage=vonage.url)
        with app, pytest.raises(norq.DeliveryError) as caught:
            app.notify("sms", PHONE, body="hi")
    receipt = caught.value.receipt
    assert receipt.error is not None
    assert (receipt.error.disposition, receipt.provider) == ("final", "vonage")
    assert len(vonage.requests) == 1
    assert sandbox.requests_to("twilio") == []


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_email_sendgrid_then_smtp_fails_over_on_a_retryable_failure(
    sandbox: SandboxServer, mode: str
) -> None:
    sandbox.faults_for("sendgrid").add("503", count=2)
    app = build(sandbox, {"email": ["sendgrid", "smtp"]})
    receipt = await send(app, mode, "email", "ada@example.com")
    assert receipt.ok
    assert receipt.provider == "smtp"
    assert receipt.message_id is not None
    assert receipt.message_id.endswith("@example.com>")
    assert delivered_by(sandbox, "smtp") == ["ada@example.com"]
    assert delivered_by(sandbox, "sendgrid") == []


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_email_smtp_then_sendgrid_fails_over_on_a_retryable_failure(
    sandbox: SandboxServer, mode: str
) -> None:
    sandbox.faults_for("smtp").add("503", count=2)  # 421 4.3.2
    app = build(sandbox, {"email": ["smtp", "sendgrid"]})
    receipt = await send(app, mode, "email", "ada@example.com")
    assert receipt.ok
    assert receipt.provider == "sendgrid"
    assert delivered_by(sandbox, "sendgrid") == ["ada@example.com"]


def test_email_sendgrid_then_smtp_stops_at_a_final_failure(sandbox: SandboxServer) -> None:
    refusal = {"errors": [{"message": "Does not contain a valid address.", "field": "x"}]}
    with MockServer(json_response(400, refusal)) as sendgrid:
        app = build(sandbox, {"email": ["sendgrid", "smtp"]}, sendgrid=sendgrid.url)
        with app, pytest.raises(norq.DeliveryError) as caught:
            app.notify("email", "ada@example.com", body="hi", subject="s")
    receipt = caught.value.receipt
    assert receipt.error is not None
    assert (receipt.error.disposition, receipt.provider) == ("final", "sendgrid")
    assert len(sendgrid.requests) == 1
    assert sandbox.requests_to("smtp") == []


def test_a_contact_gets_email_over_smtp_and_sms_over_twilio(sandbox: SandboxServer) -> None:
    document = {
        "providers": providers(sandbox),
        "routing": {"email": ["sendgrid", "smtp"], "sms": ["twilio", "vonage"]},
        "templates": {
            "order_shipped": {
                "email": {"subject": "Order {{ order }} shipped", "body": "It is on its way."},
                "sms": {"body": "Order {{ order }} shipped"},
            }
        },
        "notifications": {"order_shipped": {"channels": ["email", "sms"]}},
    }
    sandbox.faults_for("sendgrid").add("503", count=2)
    with norq.Norq.from_dict(document, environ={}) as app:
        receipts = app.notify(
            notification="order_shipped",
            to=norq.Contact(email="ada@example.com", sms=PHONE),
            data={"order": 1042},
        )
    assert [(r.channel, r.provider, r.ok) for r in receipts] == [
        ("email", "smtp", True),
        ("sms", "twilio", True),
    ]
