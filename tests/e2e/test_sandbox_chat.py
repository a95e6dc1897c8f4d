"""Norq's chat plugins against the sandbox's emulated chat APIs, over real sockets.

Each plugin delivers, reads a refusal the way the provider words it, waits
out flood control, and a chat that cannot be reached hands a multi-channel
notification on to email.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from norq_sandbox import SandboxServer
from norq_sandbox.settings import DEFAULT_TELEGRAM_TOKEN

import norq

pytestmark = pytest.mark.e2e

BLOCKED_CHAT = "403000001"  # a user who blocked the bot (the sandbox's unlucky chats)
TEMPLATES = {
    "order_shipped": {
        "chat": {"body": "Order {{ order }} shipped"},
        "email": {
            "subject": "Order {{ order }}",
            "body": "Hi {{ name }}, order {{ order }} shipped.",
        },
    }
}


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(step_delay=0.01) as server:
        yield server


def telegram(sandbox: SandboxServer, **config: Any) -> dict[str, Any]:
    settings = {"bot_token": DEFAULT_TELEGRAM_TOKEN, "base_url": sandbox.url, **config}
    return {"config": settings, "retry": {"max_retries": 2, "backoff": 0.01, "jitter": 0}}


def smtp(sandbox: SandboxServer) -> dict[str, Any]:
    return {
        "config": {
            "host": sandbox.smtp_host,
            "port": sandbox.smtp_port,
            "security": "none",
            "sender": "shop@example.com",
            "helo_name": "norq.test",
        },
        "retry": {"max_retries": 0},
    }


def app(sandbox: SandboxServer, **telegram_config: Any) -> norq.Norq:
    document = {
        "providers": {"telegram": telegram(sandbox, **telegram_config), "smtp": smtp(sandbox)},
        "routing": {"chat": "telegram", "email": "smtp"},
        "templates": TEMPLATES,
        "notifications": {"order_shipped": {"channels": ["chat", "email"], "strategy": "first"}},
    }
    return norq.Norq.from_dict(document, environ={})


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_telegram_delivers_to_the_chat(sandbox: SandboxServer, mode: str) -> None:
    with app(sandbox, parse_mode="MarkdownV2") as norq_app:
        if mode == "sync":
            receipt = norq_app.notify("chat", "-1001234567890", body="*Deployed* api 1\\.2")
        else:
            receipt = await norq_app.anotify("chat", "-1001234567890", body="*Deployed* api 1\\.2")
            await norq_app.aclose()
    (stored,) = sandbox.outbox("telegram")
    assert (receipt.ok, receipt.provider, receipt.message_id) == (
        True,
        "telegram",
        stored.provider_id,
    )
    assert stored.text == "Deployed api 1.2"


def test_a_telegram_refusal_reads_as_telegram_words_it(sandbox: SandboxServer) -> None:
    with app(sandbox) as norq_app, pytest.raises(norq.DeliveryError) as failed:
        norq_app.notify("chat", BLOCKED_CHAT, body="hi")
    error = failed.value.receipt.error
    assert error is not None
    assert (error.code, error.disposition) == ("recipient_opted_out", "final")
    assert error.provider_code == "Forbidden: bot was blocked by the user"
    assert failed.value.receipt.attempts == 1


def test_telegram_flood_control_is_waited_out(sandbox: SandboxServer) -> None:
    sandbox.faults_for("telegram").add("429:0.05")
    with app(sandbox) as norq_app:
        receipt = norq_app.notify("chat", "42", body="hi")
    assert (receipt.ok, receipt.attempts) == (True, 2)
    assert len(sandbox.outbox("telegram")) == 1


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_chat_that_blocked_the_bot_falls_to_email(
    sandbox: SandboxServer, mode: str
) -> None:
    ada = norq.Contact(chat=BLOCKED_CHAT, email="ada@example.com", data={"name": "Ada"})
    with app(sandbox) as norq_app:
        if mode == "sync":
            receipts = list(
                norq_app.notify(notification="order_shipped", to=ada, data={"order": 7})
            )
        else:
            receipts = list(
                await norq_app.anotify(notification="order_shipped", to=ada, data={"order": 7})
            )
            await norq_app.aclose()
    chat, email = receipts
    assert (chat.channel, chat.ok, chat.provider) == ("chat", False, "telegram")
    assert chat.error is not None
    assert (chat.error.code, chat.error.disposition) == ("recipient_opted_out", "final")
    assert (email.channel, email.ok, email.provider) == ("email", True, "smtp")
    assert sandbox.outbox("telegram") == []
    (mail,) = sandbox.outbox("smtp")
    assert mail.to == ("ada@example.com",)
    assert mail.subject == "Order 7"
