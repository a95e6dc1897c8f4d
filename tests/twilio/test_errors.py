"""Twilio's error answers become receipts with Norq's code and Twilio's own words."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import respx

import norq
from norq.providers.twilio import TWILIO_ERROR_CODES, normalised_error
from tests.twilio.conftest import MESSAGES_URL, RECIPIENT

MakeNorq = Callable[..., norq.Norq]


def twilio_error(status: int, code: int, message: str) -> httpx.Response:
    """An error body exactly as Twilio shapes it."""
    return httpx.Response(
        status,
        json={
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
    )


@respx.mock
@pytest.mark.parametrize(
    ("status", "code", "message", "expected", "disposition"),
    [
        (401, 20003, "Authenticate", "invalid_credentials", "failover"),
        (400, 21211, "Invalid 'To' Phone Number: +1555", "invalid_recipient", "final"),
        (400, 21610, "Attempt to send to unsubscribed recipient", "recipient_opted_out", "final"),
        (400, 21614, "'To' number is not a valid mobile number", "recipient_unreachable", "final"),
        (400, 21608, "The number is unverified", "recipient_unreachable", "final"),
        (400, 21606, "'From' is not SMS-capable", "invalid_sender", "failover"),
        (
            400,
            21408,
            "Permission to send an SMS has not been enabled",
            "permission_denied",
            "failover",
        ),
        (400, 21617, "Body exceeds 1600 characters", "message_too_long", "final"),
        (404, 20404, "The requested resource was not found", "not_found", "failover"),
    ],
)
def test_twilio_codes_map_to_norq_codes(
    make_norq: MakeNorq, status: int, code: int, message: str, expected: str, disposition: str
) -> None:
    route = respx.post(MESSAGES_URL).mock(return_value=twilio_error(status, code, message))
    with pytest.raises(norq.DeliveryError) as caught:
        make_norq().notify("sms", RECIPIENT, body="hi")
    receipt = caught.value.receipt
    assert receipt.error is not None
    assert receipt.error.code == expected
    assert receipt.error.provider_code == str(code)
    assert receipt.error.message == message
    assert receipt.error.more_info == f"https://www.twilio.com/docs/errors/{code}"
    assert receipt.error.disposition == disposition
    assert (receipt.status_code, receipt.attempts, route.call_count) == (status, 1, 1)


@respx.mock
def test_rate_limit_is_retried_then_reported_for_failover(make_norq: MakeNorq) -> None:
    route = respx.post(MESSAGES_URL).mock(
        return_value=twilio_error(429, 20429, "Too Many Requests")
    )
    with pytest.raises(norq.DeliveryError) as caught:
        make_norq().notify("sms", RECIPIENT, body="hi")
    error = caught.value.receipt.error
    assert error is not None
    assert (error.code, error.provider_code, error.disposition) == (
        "rate_limited",
        "20429",
        "retry",
    )
    assert route.call_count == 3


@respx.mock
def test_unlisted_code_falls_back_to_the_http_status(make_norq: MakeNorq) -> None:
    respx.post(MESSAGES_URL).mock(return_value=twilio_error(400, 99999, "Something new"))
    with pytest.raises(norq.DeliveryError) as caught:
        make_norq().notify("sms", RECIPIENT, body="hi")
    error = caught.value.receipt.error
    assert error is not None
    assert (error.code, error.provider_code) == ("rejected", "99999")


@respx.mock
def test_bulk_send_reports_each_failure_on_its_receipt(make_norq: MakeNorq) -> None:
    respx.post(MESSAGES_URL).mock(
        side_effect=[
            httpx.Response(201, json={"sid": "SM" + "1" * 32}),
            twilio_error(400, 21211, "Invalid 'To' Phone Number"),
        ]
    )
    receipts = list(make_norq().notify_many("sms", [RECIPIENT, "+15005550001"], body="hi"))
    assert [r.ok for r in receipts] == [True, False]
    assert receipts[1].error is not None
    assert receipts[1].error.code == "invalid_recipient"


def test_every_mapped_code_is_a_norq_code() -> None:
    assert set(TWILIO_ERROR_CODES.values()) <= set(norq.ErrorCode)
    assert all(code.isdigit() for code in TWILIO_ERROR_CODES)


@pytest.mark.parametrize(
    ("code", "expected"), [(21211, "invalid_recipient"), (" 30003 ", "recipient_unreachable")]
)
def test_normalised_error_accepts_ints_and_strings(code: int | str, expected: str) -> None:
    assert normalised_error(code) == expected


def test_normalised_error_of_an_unknown_code_is_none() -> None:
    assert normalised_error("12345") is None
    assert normalised_error(None) is None
