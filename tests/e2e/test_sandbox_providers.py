"""Norq's SendGrid, Vonage and Slack providers (plugins) against the sandbox's emulated APIs."""

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
    for plugin in ("norq_sendgrid", "norq_vonage", "norq_slack"):
        pytest.importorskip(plugin, reason=f"the {plugin} plugin is not installed")


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(step_delay=0.01) as server:
        yield server


def app_for(kind: str, channel: str, config: dict[str, Any]) -> Norq:
    return Norq.from_dict(
        {
            "providers": {
                kind: {
                    "type": kind,
                    "config": config,
                    "retry": {"max_retries": 2, "backoff": 0.01, "jitter": 0},
                }
            },
            "routing": {channel: kind},
        },
        environ={},
        plugin_manager=get_plugin_manager(),
    )


def sendgrid(sandbox: SandboxServer) -> Norq:
    config = {
        "api_key": "SG.sandbox-api-key",
        "from": "alerts@example.com",
        "base_url": sandbox.url,
    }
    return app_for("sendgrid", "email", config)


def vonage(sandbox: SandboxServer) -> Norq:
    config = {
        "api_key": "sandboxkey",
        "api_secret": "sandbox-vonage-secret",
        "from": "Norq",
        "base_url": sandbox.url,
    }
    return app_for("vonage", "sms", config)


def slack(sandbox: SandboxServer) -> Norq:
    return app_for("slack", "chat", {"bot_token": "xoxb-sandbox-token", "base_url": sandbox.url})


def test_sendgrid_sends_an_email_that_lands_with_its_x_message_id(sandbox: SandboxServer) -> None:
    with sendgrid(sandbox) as app:
        receipt = app.notify("email", "ada@example.com", body="92% used", subject="Disk")

    assert receipt.ok, receipt.error
    (email,) = sandbox.outbox("sendgrid")
    assert receipt.message_id == email.provider_id
    assert (email.subject, email.text) == ("Disk", "92% used")


def test_sendgrid_retries_a_rate_limit_with_its_headers(sandbox: SandboxServer) -> None:
    sandbox.faults_for("sendgrid").add("429:0.01")

    with sendgrid(sandbox) as app:
        receipt = app.notify("email", "ada@example.com", body="x", subject="Retried")

    assert receipt.ok, receipt.error
    assert receipt.attempts == 2
    assert [r.status for r in sandbox.requests_to("sendgrid")] == [429, 202]


def test_vonage_sends_an_sms_that_lands_with_its_message_id(sandbox: SandboxServer) -> None:
    with vonage(sandbox) as app:
        receipt = app.notify("sms", "+447700900000", body="Your code is 428913")

    assert receipt.ok, receipt.error
    (sms,) = sandbox.outbox("vonage")
    assert receipt.message_id == sms.provider_id
    assert sms.to == ("447700900000",)


def test_vonage_reads_a_failure_inside_a_200(sandbox: SandboxServer) -> None:
    sandbox.faults_for("vonage").add("body-error", count=3)

    with vonage(sandbox) as app, pytest.raises(DeliveryError) as failed:
        app.notify("sms", "+447700900000", body="x")

    receipt = failed.value.receipt
    assert receipt.error is not None
    assert receipt.error.provider_code == "5"
    assert sandbox.outbox() == []


def test_slack_posts_a_chat_message_that_lands_with_its_ts(sandbox: SandboxServer) -> None:
    with slack(sandbox) as app:
        receipt = app.notify("chat", "#alerts", body="Deploy finished")

    assert receipt.ok, receipt.error
    (chat,) = sandbox.outbox("slack")
    # Slack's plugin names a message by its channel and ts, as chat.update needs both.
    assert receipt.message_id == f"{chat.details['channel_id']}:{chat.provider_id}"
    assert chat.text == "Deploy finished"


def test_slack_reads_ok_false_inside_a_200(sandbox: SandboxServer) -> None:
    sandbox.faults_for("slack").add("body-error", count=3)

    with slack(sandbox) as app, pytest.raises(DeliveryError) as failed:
        app.notify("chat", "#alerts", body="x")

    receipt = failed.value.receipt
    assert receipt.error is not None
    assert "internal_error" in (receipt.error.provider_code or "") + receipt.error.message
    # Slack's internal_error "may have succeeded", and the sandbox's does: the
    # message was posted once, and an unconfirmed answer is not retried.
    assert receipt.error.code == "outcome_unknown"
    assert receipt.attempts == 1
    assert len(sandbox.outbox("slack")) == 1


def slack_webhook(sandbox: SandboxServer) -> Norq:
    url = f"{sandbox.url}/services/T0SANDBOX/B0SANDBOX/sandbox-webhook-secret"
    return app_for("slack_webhook", "chat", {"webhook_url": url})


def test_slack_webhook_posts_a_message_that_lands_in_the_inbox(sandbox: SandboxServer) -> None:
    with slack_webhook(sandbox) as app:
        receipt = app.notify("chat", "#alerts", body="Backup finished")

    assert receipt.ok, receipt.error
    (chat,) = sandbox.outbox("slack-webhook")
    assert chat.text == "Backup finished"
    # An incoming webhook answers a bare "ok": Slack gives no id to report.
    assert receipt.message_id is None


def test_slack_webhook_waits_out_a_rate_limit_and_delivers(sandbox: SandboxServer) -> None:
    sandbox.faults_for("slack").add("429:0.01")

    with slack_webhook(sandbox) as app:
        receipt = app.notify("chat", "#alerts", body="Backup finished")

    assert receipt.ok, receipt.error
    assert receipt.attempts == 2
    assert len(sandbox.outbox("slack-webhook")) == 1


def test_slack_webhook_server_error_is_a_failed_receipt_and_nothing_lands(
    sandbox: SandboxServer,
) -> None:
    sandbox.faults_for("slack").add("body-error", count=3)

    with slack_webhook(sandbox) as app, pytest.raises(DeliveryError) as failed:
        app.notify("chat", "#alerts", body="x")

    receipt = failed.value.receipt
    assert receipt.error is not None
    assert receipt.status_code == 500
    assert "sandbox-webhook-secret" not in str(receipt.to_dict())
    assert sandbox.outbox() == []
