"""Norq's SMTP provider (the norq-smtp plugin) against the sandbox's SMTP server, with faults.

Real loopback SMTP both ways: the plugin's transport (smtplib sync, aiosmtplib
async) talks to the sandbox's aiosmtpd server, and each email is checked where
it lands, in the sandbox's inbox.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from norq_sandbox import SandboxServer

from norq import DeliveryError, Norq
from norq.plugins import get_plugin_manager

pytestmark = pytest.mark.e2e

if os.environ.get("CI") != "true":
    pytest.importorskip("norq_smtp", reason="the norq-smtp plugin is not installed")

RECIPIENT = "ada@example.com"


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(step_delay=0.01) as server:
        yield server


def mail_app(sandbox: SandboxServer, **config: Any) -> Norq:
    settings: dict[str, Any] = {
        "host": sandbox.smtp_host,
        "port": sandbox.smtp_port,
        "security": "none",
        "sender": "alerts@example.com",
        "sender_name": "Acme Alerts",
        **config,
    }
    return Norq.from_dict(
        {
            "providers": {
                "mail": {
                    "type": "smtp",
                    "config": settings,
                    "retry": {"max_retries": 2, "backoff": 0.01, "jitter": 0},
                }
            },
            "routing": {"email": "mail"},
        },
        environ={},
        plugin_manager=get_plugin_manager(),
    )


def test_an_email_lands_in_the_inbox_with_its_parts(sandbox: SandboxServer) -> None:
    with mail_app(sandbox) as app:
        receipt = app.notify(
            "email", RECIPIENT, body="92% used", subject="Disk almost full", html="<p>92%</p>"
        )

    assert receipt.ok, receipt.error
    (email,) = sandbox.outbox("smtp")
    assert email.subject == "Disk almost full"
    assert email.sender == "Acme Alerts <alerts@example.com>"
    assert email.to == (RECIPIENT,)
    assert (email.text or "").strip() == "92% used"
    assert (email.html or "").strip() == "<p>92%</p>"
    assert email.details["message_id"] == receipt.message_id


async def test_an_async_send_lands_too(sandbox: SandboxServer) -> None:
    app = mail_app(sandbox)
    try:
        receipt = await app.anotify("email", RECIPIENT, body="async", subject="Async")
    finally:
        await app.aclose()

    assert receipt.ok, receipt.error
    assert [e.subject for e in sandbox.outbox("smtp")] == ["Async"]


def test_a_rate_limit_reply_is_retried_and_then_delivered(sandbox: SandboxServer) -> None:
    sandbox.faults_for("smtp").add("429", count=2)

    with mail_app(sandbox) as app:
        receipt = app.notify("email", RECIPIENT, body="hello", subject="Retried")

    assert receipt.ok, receipt.error
    assert receipt.attempts == 3
    assert [r.status for r in sandbox.requests_to("smtp")] == [451, 451, 250]
    assert len(sandbox.outbox("smtp")) == 1


def test_a_server_that_stays_unavailable_fails_after_its_retries(sandbox: SandboxServer) -> None:
    sandbox.faults_for("smtp").add("503", count=3)

    with mail_app(sandbox) as app, pytest.raises(DeliveryError) as failed:
        app.notify("email", RECIPIENT, body="hello", subject="Down")

    receipt = failed.value.receipt
    assert receipt.attempts == 3
    assert receipt.error is not None
    assert receipt.error.provider_code == "421"
    assert sandbox.outbox() == []


def test_a_dropped_connection_is_reported_not_resent(sandbox: SandboxServer) -> None:
    sandbox.faults_for("smtp").add("accept-drop")

    with mail_app(sandbox) as app, pytest.raises(DeliveryError) as failed:
        app.notify("email", RECIPIENT, body="hello", subject="Lost answer")

    receipt = failed.value.receipt
    assert receipt.error is not None
    assert receipt.error.code == "connection_lost"
    # The server kept the mail although its answer was lost: a blind re-send would duplicate it.
    assert len(sandbox.outbox("smtp")) == 1
    assert len(sandbox.requests_to("smtp")) == 1


def test_auth_with_the_configured_user_is_accepted() -> None:
    with SandboxServer(step_delay=0.01, smtp_username="mailer", smtp_password="s3cret") as sandbox:
        with mail_app(sandbox, username="mailer", password="s3cret") as app:
            receipt = app.notify("email", RECIPIENT, body="hello", subject="Authenticated")

        assert receipt.ok, receipt.error
        assert sandbox.requests_to("smtp")[0].username == "mailer"


def test_a_wrong_password_is_refused_as_invalid_credentials() -> None:
    with SandboxServer(step_delay=0.01, smtp_username="mailer", smtp_password="s3cret") as sandbox:
        with (
            mail_app(sandbox, username="mailer", password="wrong") as app,
            pytest.raises(DeliveryError) as failed,
        ):
            app.notify("email", RECIPIENT, body="hello", subject="Refused")

        receipt = failed.value.receipt
        assert receipt.error is not None
        assert receipt.error.code == "invalid_credentials"
        assert sandbox.outbox() == []
