"""The request norq-fcm sends: FCM HTTP v1 messages:send exactly as documented."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

import norq
from norq.testing import MockTransport, json_response
from tests_fcm.conftest import NOWHERE, PROJECT, TOKEN, fcm_document

SENT = json_response(200, {"name": f"projects/{PROJECT}/messages/0:1500415314455276%31bd1c96"})
ACCESS = json_response(200, {"access_token": "ya29.a0-token", "expires_in": 3599})


def sent_body(rsa_key: rsa.RSAPrivateKey, to: str, **send: Any) -> Any:
    mock = MockTransport(ACCESS, SENT)
    document = fcm_document(rsa_key)
    app = norq.Norq.from_dict(document, environ={}, transports={"http": mock})
    with app:
        receipt = app.notify("push", to, **send)
    assert receipt.message_id == f"projects/{PROJECT}/messages/0:1500415314455276%31bd1c96"
    token_request, message_request = mock.requests
    assert token_request.url.endswith("/token")
    assert message_request.method == "POST"
    assert message_request.url == f"{NOWHERE}/v1/projects/{PROJECT}/messages:send"
    assert message_request.headers["authorization"] == "Bearer ya29.a0-token"
    assert message_request.headers["content-type"] == "application/json"
    return message_request.json()


def test_a_notification_message_to_a_device(rsa_key: rsa.RSAPrivateKey) -> None:
    body = sent_body(rsa_key, TOKEN, body="Your order is on its way", title="Order shipped")
    assert body == {
        "message": {
            "token": TOKEN,
            "notification": {"title": "Order shipped", "body": "Your order is on its way"},
        }
    }


def test_a_data_message_without_a_notification(rsa_key: rsa.RSAPrivateKey) -> None:
    body = sent_body(rsa_key, TOKEN, body=None, app_data={"order": "42", "state": "shipped"})
    assert body == {"message": {"token": TOKEN, "data": {"order": "42", "state": "shipped"}}}


def test_topics_and_conditions(rsa_key: rsa.RSAPrivateKey) -> None:
    assert sent_body(rsa_key, "topic:news", body="hi")["message"] == {
        "topic": "news",
        "notification": {"body": "hi"},
    }
    condition = "'news' in topics && ('eu' in topics || 'uk' in topics)"
    assert sent_body(rsa_key, f"condition:{condition}", body="hi")["message"] == {
        "condition": condition,
        "notification": {"body": "hi"},
    }


def test_platform_overrides_image_and_analytics_label(rsa_key: rsa.RSAPrivateKey) -> None:
    android = {"priority": "high", "ttl": "3600s", "notification": {"channel_id": "orders"}}
    apns = {"headers": {"apns-priority": "5"}, "payload": {"aps": {"badge": 1}}}
    webpush = {"fcm_options": {"link": "https://shop.example/orders/42"}}
    body = sent_body(
        rsa_key,
        TOKEN,
        body="On its way",
        title="Order shipped",
        image="https://shop.example/box.png",
        android=android,
        apns=apns,
        webpush=webpush,
        analytics_label="order_shipped",
        app_data={"order": "42"},
    )
    assert body == {
        "message": {
            "token": TOKEN,
            "notification": {
                "title": "Order shipped",
                "body": "On its way",
                "image": "https://shop.example/box.png",
            },
            "data": {"order": "42"},
            "android": android,
            "apns": apns,
            "webpush": webpush,
            "fcm_options": {"analytics_label": "order_shipped"},
        }
    }


def test_validate_only_asks_fcm_to_check_without_delivering(rsa_key: rsa.RSAPrivateKey) -> None:
    mock = MockTransport(ACCESS, SENT)
    document = fcm_document(rsa_key, validate_only=True)
    with norq.Norq.from_dict(document, environ={}, transports={"http": mock}) as app:
        app.notify("push", TOKEN, body="hi")
    assert mock.requests[1].json() == {
        "message": {"token": TOKEN, "notification": {"body": "hi"}},
        "validate_only": True,
    }


@pytest.mark.parametrize(
    ("to", "send", "problem"),
    [
        ("short", {"body": "hi"}, "is not an FCM registration token"),
        ("topic:bad topic", {"body": "hi"}, "a topic name is letters"),
        ("condition:news", {"body": "hi"}, "'NAME' in topics"),
        (TOKEN, {"app_data": {"order": 42}}, "app_data must map text to text"),
        (TOKEN, {"app_data": {"google.x": "1"}, "body": "hi"}, "reserved keys google.x"),
        (TOKEN, {"body": "hi", "image": "box.png"}, r"image is not an http\(s\) URL"),
        (TOKEN, {"body": "hi", "android": "high"}, "android must be a mapping"),
        (TOKEN, {"body": "hi", "title": 7}, "title must be text"),
        (TOKEN, {"body": "hi", "sound": "ding"}, "does not understand 'sound'"),
    ],
)
def test_bad_messages_are_refused_before_any_request(
    rsa_key: rsa.RSAPrivateKey, to: str, send: dict[str, Any], problem: str
) -> None:
    mock = MockTransport()
    document = fcm_document(rsa_key)
    app = norq.Norq.from_dict(document, environ={}, transports={"http": mock})
    with app, pytest.raises(norq.MessageError, match=problem):
        app.notify("push", to, **send)
    assert mock.requests == []


def test_a_push_needs_a_body_or_data(rsa_key: rsa.RSAPrivateKey) -> None:
    app = norq.Norq.from_dict(fcm_document(rsa_key), environ={})
    with pytest.raises(norq.MessageError, match="needs a body"):
        app.prepare("push", TOKEN, body=None, title="only a title")
