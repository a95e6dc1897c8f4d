"""Push services' answers: every status in the table read with its disposition."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from norq_webpush import WEBPUSH_ERRORS

import norq
from norq.testing import MockServer
from tests_webpush.conftest import Browser, created, webpush_document

# Every status the table reads, with what RFC 8030/8292 say it means, and what Norq makes of it.
EXPECTED = {
    "400": ("invalid_message", "final"),
    "401": ("invalid_credentials", "failover"),
    "403": ("permission_denied", "failover"),
    "404": ("recipient_unreachable", "final"),
    "410": ("recipient_unreachable", "final"),
    "413": ("message_too_long", "final"),
    "429": ("rate_limited", "retry"),
    "500": ("provider_unavailable", "retry"),
    "502": ("provider_unavailable", "retry"),
    "503": ("provider_unavailable", "retry"),
    "504": ("provider_unavailable", "retry"),
}


def mozilla_error(status: int) -> norq.Response:
    """An answer in autopush's shape (Firefox's push service)."""
    body = {"code": status, "errno": 106, "error": "Gone", "message": "Subscription expired"}
    return norq.Response(status, {"content-type": "application/json"}, json.dumps(body).encode())


def failure(key: ec.EllipticCurvePrivateKey, *answers: norq.Response) -> norq.DeliveryFailure:
    document = webpush_document(key)
    document["providers"]["webpush"]["retry"] = {"max_retries": 0}
    with MockServer(*answers) as server:
        browser = Browser.at(f"{server.url}/s/1")
        app = norq.Norq.from_dict(document, environ={})
        with app, pytest.raises(norq.DeliveryError) as failed:
            app.notify("push", browser.subscription, body="hi")
    assert failed.value.receipt.error is not None
    return failed.value.receipt.error


def test_the_table_is_the_documented_list() -> None:
    assert {status: (str(m.code), str(m.disposition)) for status, m in WEBPUSH_ERRORS.items()} == (
        EXPECTED
    )


@pytest.mark.parametrize("status", sorted(EXPECTED))
def test_each_status_has_its_disposition(
    vapid_key: ec.EllipticCurvePrivateKey, status: str
) -> None:
    answers = [mozilla_error(int(status))]
    if status in ("401", "403"):
        answers.append(mozilla_error(int(status)))  # refused again after one renewal
    error = failure(vapid_key, *answers)
    assert (error.provider_code, error.code, error.disposition) == (status, *EXPECTED[status])
    assert "Subscription expired" in error.message


def test_a_gone_subscription_is_final_and_not_retried(
    vapid_key: ec.EllipticCurvePrivateKey,
) -> None:
    with MockServer(mozilla_error(410)) as server:
        browser = Browser.at(f"{server.url}/s/1")
        app = norq.Norq.from_dict(webpush_document(vapid_key), environ={})
        with app, pytest.raises(norq.DeliveryError) as failed:
            app.notify("push", browser.subscription, body="hi")
    assert failed.value.receipt.attempts == 1
    assert len(server.requests) == 1


def test_429_waits_for_retry_after_then_sends_again(vapid_key: ec.EllipticCurvePrivateKey) -> None:
    busy = norq.Response(429, {"Retry-After": "0"}, b"")
    with MockServer(busy, created()) as server:
        browser = Browser.at(f"{server.url}/s/1")
        with norq.Norq.from_dict(webpush_document(vapid_key), environ={}) as app:
            receipt = app.notify("push", browser.subscription, body="hi")
    assert (receipt.ok, receipt.attempts) == (True, 2)


def test_an_unlisted_status_is_read_the_default_way(vapid_key: ec.EllipticCurvePrivateKey) -> None:
    error = failure(vapid_key, norq.Response(418, {}, b"teapot"))
    assert (error.code, error.disposition) == ("rejected", "final")
    assert error.message == "HTTP 418: teapot"


def test_a_push_over_the_size_limit_is_refused_before_any_request(
    vapid_key: ec.EllipticCurvePrivateKey,
) -> None:
    browser = Browser.at("https://push.example.net/s/1")
    with norq.Norq.from_dict(webpush_document(vapid_key), environ={}) as app:
        app.prepare("push", browser.subscription, body="x" * 3993)
        with pytest.raises(norq.MessageError, match="3994 bytes; Web Push takes at most 3993"):
            app.notify("push", browser.subscription, body="x" * 3994)
