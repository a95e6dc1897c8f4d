"""Multi-channel notifications: a contact, a notifications: entry, one receipt per channel tried."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

import norq

TEMPLATES = {
    "order_shipped": {
        "email": {
            "subject": "Order {{ order }} shipped",
            "body": "Order {{ order }} is on its way.",
        },
        "sms": {"body": "Order {{ order }} shipped"},
        "chat": {"body": "{{ name }}: order {{ order }} shipped"},
    }
}


class FailingChannels:
    """The console transport, refusing the channels in ``failing`` with HTTP 503."""

    def __init__(self, failing: set[str]) -> None:
        self.failing = failing
        self.sent: list[str] = []

    def send(self, request: Any) -> norq.Response:
        channel = request.json["channel"]
        self.sent.append(channel)
        if channel in self.failing:
            return norq.Response(503, {"content-type": "application/json"}, b'{"message": "down"}')
        body = json.dumps({"id": f"{channel}-{len(self.sent)}"}).encode()
        return norq.Response(200, {"content-type": "application/json"}, body)

    async def asend(self, request: Any) -> norq.Response:
        return self.send(request)

    def close(self) -> None:
        """Nothing to release."""

    async def aclose(self) -> None:
        """Nothing to release."""


def build(
    strategy: str = "all",
    channels: tuple[str, ...] = ("email", "sms"),
    failing: set[str] | None = None,
    **extra: Any,
) -> tuple[norq.Norq, FailingChannels]:
    transport = FailingChannels(failing or set())
    document = {
        "providers": {"console": {"type": "console"}},
        "routing": {"email": "console", "sms": "console", "chat": "console"},
        "templates": TEMPLATES,
        "notifications": {
            "order_shipped": {"channels": list(channels), "strategy": strategy, **extra}
        },
    }
    app = norq.Norq.from_dict(document, environ={}, transports={"console": transport})
    return app, transport


ADA = norq.Contact(email="ada@example.com", sms="+15551234567")


def test_a_contact_with_email_and_phone_gets_two_receipts() -> None:
    app, transport = build()
    with app:
        receipts = app.notify(notification="order_shipped", to=ADA, data={"order": 42})
    assert [(r.channel, r.to, r.ok) for r in receipts] == [
        ("email", "ada@example.com", True),
        ("sms", "+15551234567", True),
    ]
    assert transport.sent == ["email", "sms"]


def test_a_mapping_works_as_a_contact() -> None:
    app, _ = build()
    with app:
        receipts = app.notify(
            notification="order_shipped", to={"sms": "+15551234567"}, data={"order": 42}
        )
    assert [r.channel for r in receipts] == ["sms"]


def test_all_goes_on_after_a_failed_channel() -> None:
    app, _transport = build(failing={"email"})
    with app:
        receipts = app.notify(notification="order_shipped", to=ADA, data={"order": 42})
    assert [(r.channel, r.ok) for r in receipts] == [("email", False), ("sms", True)]


def test_first_stops_at_the_first_channel_that_delivers() -> None:
    app, transport = build(strategy="first")
    with app:
        receipts = app.notify(notification="order_shipped", to=ADA, data={"order": 42})
    assert [(r.channel, r.ok) for r in receipts] == [("email", True)]
    assert transport.sent == ["email"]


def test_first_tries_the_next_channel_when_one_fails() -> None:
    app, _transport = build(strategy="first", failing={"email"})
    with app:
        receipts = app.notify(notification="order_shipped", to=ADA, data={"order": 42})
    assert [(r.channel, r.ok) for r in receipts] == [("email", False), ("sms", True)]


def test_channels_the_contact_has_no_address_on_are_skipped() -> None:
    app, _transport = build(channels=("chat", "email", "sms"))
    with app:
        receipts = app.notify(notification="order_shipped", to=ADA, data={"order": 42})
    assert [r.channel for r in receipts] == ["email", "sms"]


def test_the_contacts_own_data_wins() -> None:
    app, _ = build(channels=("chat",))
    stream = io.StringIO()
    app = norq.Norq.from_dict(
        {
            "providers": {"console": {"type": "console"}},
            "routing": {"chat": "console"},
            "templates": TEMPLATES,
            "notifications": {"order_shipped": {"channels": ["chat"]}},
        },
        environ={},
        console_stream=stream,
    )
    contact = norq.Contact(chat="#ops", data={"name": "Ada"})
    with app:
        app.notify(notification="order_shipped", to=contact, data={"order": 7, "name": "x"})
    assert "Ada: order 7 shipped" in stream.getvalue()


def test_a_named_template_can_be_shared() -> None:
    app, _ = build(template="order_shipped")
    assert app.config.notifications["order_shipped"].template == "order_shipped"


@pytest.mark.parametrize(
    ("call", "problem"),
    [
        ({"notification": "nope", "to": ADA}, "unknown notification 'nope'"),
        ({"notification": "order_shipped", "to": {"chat": "#ops"}}, "no address on any channel"),
        (
            {"notification": "order_shipped", "to": {"phone": "+15551234567"}},
            "no address on any channel",
        ),
        ({"notification": "order_shipped", "to": {"sms": "5551234"}}, "E.164"),
        ({"notification": "order_shipped", "to": {"email": "not-an-address"}}, "email address"),
        ({"notification": "order_shipped", "to": "ada@example.com"}, "norq.Contact"),
        ({"notification": "order_shipped", "to": ADA, "body": "hi"}, "body="),
        ({"notification": "order_shipped", "to": ADA}, "needs 'order'"),
    ],
)
def test_bad_calls_are_refused_before_anything_is_sent(call: dict[str, Any], problem: str) -> None:
    app, transport = build()
    with app, pytest.raises(norq.NorqError) as caught:
        app.notify(**call)
    assert problem in str(caught.value)
    assert transport.sent == []


@pytest.mark.parametrize(
    ("contact", "problem"),
    [
        ({}, "at least one address"),
        ({"email": None}, "at least one address"),
        ({"sms": ""}, "non-empty string"),
        ({"email": " ada@example.com"}, "whitespace"),
    ],
)
def test_a_contact_is_checked_when_it_is_built(contact: dict[str, str], problem: str) -> None:
    with pytest.raises(norq.MessageError, match=problem):
        norq.Contact(**contact)


def test_notify_many_sends_to_each_contact_and_reports_a_bad_one() -> None:
    app, transport = build()
    contacts = [ADA, {"email": "bad address"}, {"sms": "+15557654321", "data": {"order": 9}}]
    with app:
        receipts = list(
            app.notify_many(notification="order_shipped", recipients=contacts, data={"order": 1})
        )
    assert [(r.index, r.channel, r.ok) for r in receipts] == [
        (0, "email", True),
        (0, "sms", True),
        (1, "email", False),
        (2, "sms", True),
    ]
    assert receipts[2].error is not None
    assert "not an email address" in receipts[2].error.message
    assert transport.sent == ["email", "sms", "sms"]


async def test_anotify_sends_each_channel() -> None:
    app, _transport = build(strategy="first", failing={"email"})
    async with app:
        receipts = await app.anotify(notification="order_shipped", to=ADA, data={"order": 42})
    assert [(r.channel, r.ok) for r in receipts] == [("email", False), ("sms", True)]


async def test_anotify_many_sends_to_every_contact() -> None:
    app, _transport = build()
    contacts = [norq.Contact(email=f"user{i}@example.com", sms="+15551234567") for i in range(5)]
    async with app:
        receipts = [
            r
            async for r in app.anotify_many(
                notification="order_shipped", recipients=contacts, data={"order": 1}, concurrency=3
            )
        ]
    assert sorted((r.index, r.channel) for r in receipts) == [
        (i, channel) for i in range(5) for channel in ("email", "sms")
    ]
    assert all(r.ok for r in receipts)


def test_prepare_shows_each_channels_request() -> None:
    app, transport = build()
    prepared = app.prepare(notification="order_shipped", to=ADA, data={"order": 42})
    assert [p.message.channel for p in prepared] == ["email", "sms"]
    assert prepared[0].message.fields["subject"] == "Order 42 shipped"
    assert transport.sent == []


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"channels": []}, "notifications.order_shipped.channels"),
        ({"channels": ["fax"]}, "channel 'fax' is not routed"),
        ({"channels": ["email", "email"]}, "more than once"),
        ({"channels": ["email"], "strategy": "some"}, "notifications.order_shipped.strategy"),
        ({"channels": ["email"], "template": "missing"}, "no template 'missing'"),
    ],
)
def test_the_notifications_section_is_checked_at_load(entry: dict[str, Any], problem: str) -> None:
    with pytest.raises(norq.ConfigError) as caught:
        norq.Norq.from_dict(
            {
                "providers": {"console": {"type": "console"}},
                "routing": {"email": "console"},
                "templates": TEMPLATES,
                "notifications": {"order_shipped": entry},
            },
            environ={},
        )
    assert problem in str(caught.value)


def test_every_channel_of_a_notification_must_be_routed_and_templated() -> None:
    with pytest.raises(norq.ConfigError) as caught:
        norq.Norq.from_dict(
            {
                "providers": {"console": {"type": "console"}},
                "routing": {"email": "console", "chat": "console"},
                "templates": {"order_shipped": {"email": {"subject": "s", "body": "b"}}},
                "notifications": {"order_shipped": {"channels": ["email", "sms", "chat"]}},
            },
            environ={},
        )
    text = str(caught.value)
    assert "channel 'sms' is not routed" in text
    assert "template 'order_shipped' has no 'chat' version" in text


def test_the_module_level_notify_sends_a_named_notification(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    config = tmp_path / "norq.yaml"
    config.write_text(
        json.dumps(
            {
                "providers": {"console": {"type": "console"}},
                "routing": {"email": "console", "sms": "console"},
                "templates": TEMPLATES,
                "notifications": {"order_shipped": {"channels": ["email", "sms"]}},
            }
        )
    )
    monkeypatch.setenv("NORQ_CONFIG", str(config))
    norq.close()
    try:
        receipts = norq.notify(notification="order_shipped", to=ADA, data={"order": 42})
    finally:
        norq.close()
    assert [(r.channel, r.ok) for r in receipts] == [("email", True), ("sms", True)]


def test_a_single_contact_is_not_a_list_of_contacts() -> None:
    app, transport = build()
    with pytest.raises(norq.MessageError, match="put it in a list"):
        app.notify_many(notification="order_shipped", recipients={"email": "ada@example.com"})
    assert transport.sent == []
