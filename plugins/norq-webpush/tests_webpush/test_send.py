"""The wire form (RFC 8030, 8291, 8292), proven by decrypting what reached a loopback server."""

from __future__ import annotations

import json
import struct
import time

from cryptography.hazmat.primitives.asymmetric import ec

import norq
from norq.testing import MockServer, RecordedRequest
from tests_webpush.conftest import (
    SUBJECT,
    Browser,
    created,
    point,
    vapid_claims,
    webpush_app,
)


def send(key: ec.EllipticCurvePrivateKey, **content: object) -> tuple[RecordedRequest, Browser]:
    with MockServer(created()) as server:
        browser = Browser.at(f"{server.url}/wpush/v2/sub-1")
        with webpush_app(key) as app:
            receipt = app.notify("push", browser.subscription, **content)
        assert receipt.ok
    (request,) = server.requests
    return request, browser


def test_a_body_alone_goes_out_as_encrypted_text(vapid_key: ec.EllipticCurvePrivateKey) -> None:
    request, browser = send(vapid_key, body="Your order shipped")
    assert request.method == "POST"
    assert request.url.endswith("/wpush/v2/sub-1")
    assert request.headers["content-encoding"] == "aes128gcm"
    assert request.headers["content-type"] == "application/octet-stream"
    assert request.headers["ttl"] == str(28 * 24 * 3600)
    assert "urgency" not in request.headers
    assert "topic" not in request.headers
    assert browser.decrypt(request.body) == b"Your order shipped"


def test_the_body_is_one_aes128gcm_record_keyed_by_a_fresh_sender_key(
    vapid_key: ec.EllipticCurvePrivateKey,
) -> None:
    request, _ = send(vapid_key, body="hi")
    # RFC 8188 header: salt (16), record size (4), key id length (1), key id: the sender's
    # ephemeral P-256 public key (65); then one record: the text, the delimiter, the tag.
    salt, record_size, id_length = request.body[:16], *struct.unpack("!LB", request.body[16:21])
    sender_key = request.body[21:86]
    assert (record_size, id_length) == (4096, 65)
    assert len(salt) == 16
    assert sender_key[0] == 4
    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), sender_key)
    assert len(request.body) == 86 + len(b"hi") + 1 + 16


def test_the_vapid_token_names_the_push_service_and_lasts_at_most_a_day(
    vapid_key: ec.EllipticCurvePrivateKey,
) -> None:
    request, _ = send(vapid_key, body="hi")
    claims = vapid_claims(request, vapid_key)
    origin = request.url.split("/wpush/")[0]
    assert claims["aud"] == origin
    assert claims["sub"] == SUBJECT
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600


def test_a_title_makes_a_json_notification(vapid_key: ec.EllipticCurvePrivateKey) -> None:
    request, browser = send(
        vapid_key,
        body="On its way",
        title="Order shipped",
        icon="https://shop.example.com/icon.png",
        tag="order-42",
        app_data={"order": 42, "url": "/orders/42"},
    )
    assert json.loads(browser.decrypt(request.body)) == {
        "title": "Order shipped",
        "icon": "https://shop.example.com/icon.png",
        "tag": "order-42",
        "body": "On its way",
        "data": {"order": 42, "url": "/orders/42"},
    }


def test_payload_is_sent_exactly(vapid_key: ec.EllipticCurvePrivateKey) -> None:
    request, browser = send(vapid_key, payload={"kind": "sync", "since": 1700000000})
    assert json.loads(browser.decrypt(request.body)) == {"kind": "sync", "since": 1700000000}
    text, other = send(vapid_key, payload="refresh")
    assert other.decrypt(text.body) == b"refresh"


def test_ttl_urgency_and_topic_are_rfc_8030_headers(vapid_key: ec.EllipticCurvePrivateKey) -> None:
    request, _ = send(vapid_key, body="hi", ttl=60, urgency="high", topic="order-42")
    assert (request.headers["ttl"], request.headers["urgency"], request.headers["topic"]) == (
        "60",
        "high",
        "order-42",
    )


def test_config_defaults_for_ttl_and_urgency(vapid_key: ec.EllipticCurvePrivateKey) -> None:
    with MockServer(created()) as server:
        browser = Browser.at(f"{server.url}/s/1")
        with webpush_app(vapid_key, ttl=0, urgency="low") as app:
            app.notify("push", browser.subscription, body="now or never")
    (request,) = server.requests
    assert (request.headers["ttl"], request.headers["urgency"]) == ("0", "low")


def test_the_receipt_id_is_the_push_message_location(vapid_key: ec.EllipticCurvePrivateKey) -> None:
    with MockServer(created("https://push.example.net/m/77")) as server:
        browser = Browser.at(f"{server.url}/s/1")
        with webpush_app(vapid_key) as app:
            receipt = app.notify("push", browser.subscription, body="hi")
    assert receipt.message_id == "https://push.example.net/m/77"


def test_every_attempt_is_encrypted_afresh(vapid_key: ec.EllipticCurvePrivateKey) -> None:
    with MockServer(norq.Response(503, {}, b""), created()) as server:
        browser = Browser.at(f"{server.url}/s/1")
        with webpush_app(vapid_key) as app:
            receipt = app.notify("push", browser.subscription, body="again")
    assert (receipt.ok, receipt.attempts) == (True, 2)
    first, second = server.requests
    assert first.body[:86] != second.body[:86]  # new salt, new sender key
    assert browser.decrypt(first.body) == browser.decrypt(second.body) == b"again"


async def test_async_sends_on_aiohttp_are_encrypted_the_same_way(
    vapid_key: ec.EllipticCurvePrivateKey,
) -> None:
    with MockServer(created(), created()) as server:
        browser = Browser.at(f"{server.url}/s/1")
        async with webpush_app(vapid_key) as app:
            assert app.executor.transport("webpush")._http.async_client_name == "AiohttpTransport"  # type: ignore[attr-defined]
            first = await app.anotify("push", browser.subscription, body="one")
            second = await app.anotify("push", browser.subscription, title="two")
    assert first.ok
    assert second.ok
    one, two = server.requests
    assert browser.decrypt(one.body) == b"one"
    assert json.loads(browser.decrypt(two.body)) == {"title": "two"}
    assert vapid_claims(one, vapid_key)["aud"] == server.url


def test_a_pem_key_signs_the_same_way(vapid_key: ec.EllipticCurvePrivateKey) -> None:
    from tests_webpush.conftest import pem

    with MockServer(created()) as server:
        browser = Browser.at(f"{server.url}/s/1")
        with webpush_app(vapid_key, vapid_private_key=pem(vapid_key)) as app:
            app.notify("push", browser.subscription, body="hi")
            assert app.providers["webpush"].public_key  # type: ignore[attr-defined]
    (request,) = server.requests
    assert vapid_claims(request, vapid_key)["sub"] == SUBJECT
    assert point(vapid_key.public_key())
