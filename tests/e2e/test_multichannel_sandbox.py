"""A contact with an email address and a phone number gets two messages, over real sockets.

Email goes over SMTP (the norq-smtp plugin) and SMS through Twilio, both to
the sandbox; one receipt per channel comes back.
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

pytestmark = pytest.mark.e2e

PHONE = "+15558675310"
TEMPLATES = {
    "order_shipped": {
        "email": {
            "subject": "Order {{ order }} shipped",
            "body": "Hi {{ name }}, order {{ order }} is on its way.",
            "html": "<p>Hi {{ name }}, order <b>{{ order }}</b> is on its way.</p>",
        },
        "sms": {"body": "Order {{ order }} shipped"},
    }
}


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(step_delay=0.01) as server:
        yield server


def config(sandbox: SandboxServer, strategy: str) -> dict[str, Any]:
    return {
        "providers": {
            "twilio": {
                "config": {
                    "account_sid": DEFAULT_ACCOUNT_SID,
                    "api_key_sid": DEFAULT_API_KEY_SID,
                    "api_key_secret": DEFAULT_API_KEY_SECRET,
                    "from": "+15005550006",
                    "base_url": sandbox.url,
                }
            },
            "smtp": {
                "config": {
                    "host": sandbox.smtp_host,
                    "port": sandbox.smtp_port,
                    "security": "none",
                    "sender": "shop@example.com",
                    "helo_name": "norq.test",
                },
                "retry": {"max_retries": 0},
            },
        },
        "routing": {"email": "smtp", "sms": "twilio"},
        "templates": TEMPLATES,
        "notifications": {"order_shipped": {"channels": ["email", "sms"], "strategy": strategy}},
    }


ADA = norq.Contact(email="ada@example.com", sms=PHONE, data={"name": "<Ada>"})


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_contact_with_email_and_phone_gets_two_receipts(
    sandbox: SandboxServer, mode: str
) -> None:
    app = norq.Norq.from_dict(config(sandbox, "all"), environ={})
    if mode == "sync":
        with app:
            receipts = app.notify(notification="order_shipped", to=ADA, data={"order": 1042})
    else:
        async with app:
            receipts = await app.anotify(notification="order_shipped", to=ADA, data={"order": 1042})
    assert [(r.channel, r.provider, r.ok) for r in receipts] == [
        ("email", "smtp", True),
        ("sms", "twilio", True),
    ]
    [email] = sandbox.outbox("smtp")
    assert email.to == ("ada@example.com",)
    assert email.subject == "Order 1042 shipped"
    assert email.text is not None
    assert "Hi <Ada>, order 1042" in email.text
    assert email.html is not None
    assert "Hi &lt;Ada&gt;, order <b>1042</b>" in email.html
    assert [m.draft.to for m in sandbox.messages()] == [PHONE]
    assert receipts[0].message_id is not None
    assert receipts[1].message_id == sandbox.messages()[0].sid


def test_first_falls_back_to_sms_when_the_mail_server_refuses(sandbox: SandboxServer) -> None:
    sandbox.faults_for("smtp").add("503")  # 421 4.3.2: retryable, and no retries configured
    with norq.Norq.from_dict(config(sandbox, "first"), environ={}) as app:
        receipts = app.notify(notification="order_shipped", to=ADA, data={"order": 1042})
    assert [(r.channel, r.ok) for r in receipts] == [("email", False), ("sms", True)]
    assert receipts[0].error is not None
    assert receipts[0].error.provider_code == "421"
    assert sandbox.outbox("smtp") == []
