"""The request norq-apns sends: POST /3/device/<token> with the apns-* headers, as documented."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

import norq
from norq.testing import MockTransport
from tests_apns.conftest import DEVICE, HOST, TOPIC, Apple, apns_app


def sent(ec_key: ec.EllipticCurvePrivateKey, **send: Any) -> tuple[dict[str, str], Any, str]:
    mock = MockTransport(handler=Apple(ec_key))
    with apns_app(ec_key, mock) as app:
        receipt = app.notify("push", DEVICE, **send)
    assert receipt.message_id == "00000000-0000-4000-8000-000000000001"
    (request,) = mock.requests
    assert request.method == "POST"
    assert request.url == f"{HOST}/3/device/{DEVICE}"
    assert request.prepared.transport == "http2"
    return request.headers, request.json(), request.url


def test_an_alert(ec_key: ec.EllipticCurvePrivateKey) -> None:
    headers, body, _ = sent(ec_key, body="Your order is on its way", title="Order shipped")
    assert {k: v for k, v in headers.items() if k.startswith("apns-")} == {
        "apns-topic": TOPIC,
        "apns-push-type": "alert",
        "apns-priority": "10",
    }
    assert headers["content-type"] == "application/json"
    assert body == {
        "aps": {"alert": {"title": "Order shipped", "body": "Your order is on its way"}}
    }


def test_every_option(ec_key: ec.EllipticCurvePrivateKey) -> None:
    headers, body, _ = sent(
        ec_key,
        body="On its way",
        title="Order 42",
        subtitle="Shipped today",
        badge=3,
        sound="default",
        thread_id="orders",
        category="ORDER",
        interruption_level="time-sensitive",
        mutable_content=True,
        priority=5,
        expiration=1_900_000_000,
        collapse_id="order-42",
        app_data={"order": 42},
    )
    assert {k: v for k, v in headers.items() if k.startswith("apns-")} == {
        "apns-topic": TOPIC,
        "apns-push-type": "alert",
        "apns-priority": "5",
        "apns-expiration": "1900000000",
        "apns-collapse-id": "order-42",
    }
    assert body == {
        "aps": {
            "alert": {"title": "Order 42", "subtitle": "Shipped today", "body": "On its way"},
            "badge": 3,
            "sound": "default",
            "thread-id": "orders",
            "category": "ORDER",
            "interruption-level": "time-sensitive",
            "mutable-content": 1,
        },
        "order": 42,
    }


def test_a_background_push_wakes_the_app_at_priority_5(ec_key: ec.EllipticCurvePrivateKey) -> None:
    headers, body, _ = sent(ec_key, content_available=True, app_data={"sync": "orders"})
    assert (headers["apns-push-type"], headers["apns-priority"]) == ("background", "5")
    assert body == {"aps": {"content-available": 1}, "sync": "orders"}


def test_the_sandbox_environment_has_its_own_host(ec_key: ec.EllipticCurvePrivateKey) -> None:
    mock = MockTransport(handler=Apple(ec_key))
    with apns_app(ec_key, mock, environment="sandbox") as app:
        app.notify("push", DEVICE, body="hi")
    assert mock.requests[0].url == f"https://api.sandbox.push.apple.com/3/device/{DEVICE}"


@pytest.mark.parametrize(
    ("to", "send", "problem"),
    [
        ("not-hex", {"body": "hi"}, "is not an APNs device token"),
        (DEVICE, {"title": 7, "body": "hi"}, "title must be text"),
        (DEVICE, {"app_data": {"k": "v"}}, "content_available=True"),
        (DEVICE, {"body": "hi", "push_type": "fax"}, "push_type must be one of"),
        (DEVICE, {"body": "hi", "priority": 7}, "priority must be 10, 5 or 1"),
        (DEVICE, {"content_available": True, "priority": 10}, "must have priority 5 or 1"),
        (DEVICE, {"body": "hi", "badge": -1}, "badge must be a whole number"),
        (DEVICE, {"body": "hi", "interruption_level": "loud"}, "interruption_level must be"),
        (DEVICE, {"body": "hi", "expiration": "tomorrow"}, "expiration must be a Unix time"),
        (DEVICE, {"body": "hi", "collapse_id": "x" * 65}, "collapse_id is over 64 bytes"),
        (DEVICE, {"body": "hi", "app_data": {"aps": {}}}, "must not hold 'aps'"),
        (DEVICE, {"body": "x" * 4100}, "APNs takes at most 4096"),
    ],
)
def test_bad_messages_are_refused_before_any_request(
    ec_key: ec.EllipticCurvePrivateKey, to: str, send: dict[str, Any], problem: str
) -> None:
    mock = MockTransport()
    app = apns_app(ec_key, mock)
    with app, pytest.raises(norq.MessageError, match=problem):
        app.notify("push", to, **send)
    assert mock.requests == []
