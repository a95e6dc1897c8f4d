"""FCM's answers: the message's name on success, every error code read with its disposition."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from norq_fcm import FCM_ERRORS

import norq
from norq.testing import MockTransport, json_response
from tests_fcm.conftest import TOKEN, fcm_document

ACCESS = json_response(200, {"access_token": "ya29.a0-token", "expires_in": 3599})
FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"

# Every FCM error code with the HTTP status FCM documents for it, and what Norq makes of it.
EXPECTED = {
    "UNREGISTERED": (404, "recipient_unreachable", "final"),
    "INVALID_ARGUMENT": (400, "invalid_message", "final"),
    "SENDER_ID_MISMATCH": (403, "permission_denied", "failover"),
    "QUOTA_EXCEEDED": (429, "rate_limited", "retry"),
    "UNAVAILABLE": (503, "provider_unavailable", "retry"),
    "INTERNAL": (500, "provider_unavailable", "retry"),
    "THIRD_PARTY_AUTH_ERROR": (401, "invalid_credentials", "failover"),
    "UNSPECIFIED_ERROR": (400, "rejected", "final"),
}
STATUSES = {
    "UNAUTHENTICATED": (401, "invalid_credentials", "failover"),
    "PERMISSION_DENIED": (403, "permission_denied", "failover"),
    "NOT_FOUND": (404, "not_found", "failover"),
    "RESOURCE_EXHAUSTED": (429, "rate_limited", "retry"),
}


def fcm_error(status: int, code: str | None, message: str, rpc_status: str) -> norq.Response:
    error: dict[str, Any] = {"code": status, "message": message, "status": rpc_status}
    if code is not None:
        error["details"] = [{"@type": FCM_ERROR, "errorCode": code}]
    return json_response(status, {"error": error})


def failure(rsa_key: rsa.RSAPrivateKey, *answers: norq.Response) -> norq.DeliveryFailure:
    mock = MockTransport(ACCESS, *answers)
    document = fcm_document(rsa_key)
    document["providers"]["fcm"]["retry"] = {"max_retries": 0}
    app = norq.Norq.from_dict(document, environ={}, transports={"http": mock})
    with app, pytest.raises(norq.DeliveryError) as failed:
        app.notify("push", TOKEN, body="hi")
    assert failed.value.receipt.error is not None
    return failed.value.receipt.error


def test_the_table_is_the_documented_list() -> None:
    assert set(FCM_ERRORS) == set(EXPECTED) | set(STATUSES)


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_each_fcm_error_code_has_its_disposition(rsa_key: rsa.RSAPrivateKey, code: str) -> None:
    status, normalised, disposition = EXPECTED[code]
    # THIRD_PARTY_AUTH_ERROR is a 401 too: the token is renewed once, then it stands.
    answer = fcm_error(status, code, "said FCM", "X")
    error = failure(rsa_key, *([answer, ACCESS, answer] if status == 401 else [answer]))
    assert (error.provider_code, error.code, error.disposition) == (code, normalised, disposition)
    assert error.message == f"FCM: {code}: said FCM"


@pytest.mark.parametrize("rpc_status", sorted(STATUSES))
def test_an_answer_without_an_fcm_code_is_read_by_its_status(
    rsa_key: rsa.RSAPrivateKey, rpc_status: str
) -> None:
    status, normalised, disposition = STATUSES[rpc_status]
    answer = fcm_error(status, None, "said Google", rpc_status)
    answers = [answer, ACCESS, answer] if status == 401 else [answer]
    error = failure(rsa_key, *answers)
    assert (error.provider_code, error.code, error.disposition) == (
        rpc_status,
        normalised,
        disposition,
    )


def test_an_unregistered_token_is_final_so_nothing_else_is_tried(
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    error = failure(
        rsa_key, fcm_error(404, "UNREGISTERED", "Requested entity was not found.", "NOT_FOUND")
    )
    assert (error.code, error.disposition) == ("recipient_unreachable", "final")


def test_a_token_fcm_never_issued_is_an_invalid_recipient(rsa_key: rsa.RSAPrivateKey) -> None:
    said = "The registration token is not a valid FCM registration token"
    error = failure(rsa_key, fcm_error(400, "INVALID_ARGUMENT", said, "INVALID_ARGUMENT"))
    assert (error.code, error.disposition) == ("invalid_recipient", "final")


def test_quota_exceeded_waits_as_retry_after_says(rsa_key: rsa.RSAPrivateKey) -> None:
    busy = fcm_error(429, "QUOTA_EXCEEDED", "quota", "RESOURCE_EXHAUSTED")
    busy = norq.Response(busy.status, {**busy.headers, "Retry-After": "0"}, busy.body)
    sent = json_response(200, {"name": "projects/demo-project/messages/0:2"})
    mock = MockTransport(ACCESS, busy, sent)
    document = fcm_document(rsa_key)
    with norq.Norq.from_dict(document, environ={}, transports={"http": mock}) as app:
        receipt = app.notify("push", TOKEN, body="hi")
    assert (receipt.ok, receipt.attempts) == (True, 2)


def test_an_unreadable_error_is_read_by_its_http_status(rsa_key: rsa.RSAPrivateKey) -> None:
    gateway = norq.Response(502, {"content-type": "text/html"}, b"<html>Bad Gateway</html>")
    error = failure(rsa_key, gateway)
    assert (error.code, error.disposition, error.provider_code) == (
        "provider_unavailable",
        "retry",
        None,
    )
