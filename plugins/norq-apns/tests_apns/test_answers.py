"""APNs' answers: the apns-id on success, every documented reason read with its disposition."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from norq_apns import APNS_ERRORS

import norq
from norq.testing import MockTransport
from tests_apns.conftest import DEVICE, apns_document, reason

# Apple's table: each reason, the HTTP status it comes with, and what Norq makes of it.
EXPECTED = {
    "BadCollapseId": (400, "invalid_message", "final"),
    "BadDeviceToken": (400, "invalid_recipient", "final"),
    "BadExpirationDate": (400, "invalid_message", "final"),
    "BadMessageId": (400, "invalid_message", "final"),
    "BadPriority": (400, "invalid_message", "final"),
    "BadTopic": (400, "invalid_sender", "failover"),
    "DeviceTokenNotForTopic": (400, "invalid_recipient", "final"),
    "DuplicateHeaders": (400, "invalid_message", "final"),
    "IdleTimeout": (400, "provider_unavailable", "retry"),
    "InvalidPushType": (400, "invalid_message", "final"),
    "MissingDeviceToken": (400, "invalid_recipient", "final"),
    "MissingTopic": (400, "invalid_sender", "failover"),
    "PayloadEmpty": (400, "invalid_message", "final"),
    "TopicDisallowed": (400, "invalid_sender", "failover"),
    "BadCertificate": (403, "invalid_credentials", "failover"),
    "BadCertificateEnvironment": (403, "invalid_credentials", "failover"),
    "ExpiredProviderToken": (403, "invalid_credentials", "failover"),
    "Forbidden": (403, "permission_denied", "failover"),
    "InvalidProviderToken": (403, "invalid_credentials", "failover"),
    "MissingProviderToken": (403, "invalid_credentials", "failover"),
    "UnrelatedKeyIdInToken": (403, "invalid_credentials", "failover"),
    "BadEnvironmentKeyInToken": (403, "invalid_credentials", "failover"),
    "BadPath": (404, "not_found", "failover"),
    "MethodNotAllowed": (405, "not_found", "failover"),
    "ExpiredToken": (410, "recipient_unreachable", "final"),
    "Unregistered": (410, "recipient_unreachable", "final"),
    "PayloadTooLarge": (413, "message_too_long", "final"),
    "TooManyProviderTokenUpdates": (429, "rate_limited", "retry"),
    "TooManyRequests": (429, "rate_limited", "retry"),
    "InternalServerError": (500, "provider_unavailable", "retry"),
    "ServiceUnavailable": (503, "provider_unavailable", "retry"),
    "Shutdown": (503, "provider_unavailable", "retry"),
}


def failure(ec_key: ec.EllipticCurvePrivateKey, *answers: norq.Response) -> norq.DeliveryFailure:
    document = apns_document(ec_key)
    document["providers"]["apns"]["retry"] = {"max_retries": 0}
    mock = MockTransport(*answers)
    app = norq.Norq.from_dict(document, environ={}, transports={"http2": mock})
    with app, pytest.raises(norq.DeliveryError) as failed:
        app.notify("push", DEVICE, body="hi")
    error = failed.value.receipt.error
    assert error is not None
    return error


def test_the_table_is_apples_list() -> None:
    assert set(APNS_ERRORS) == set(EXPECTED)


@pytest.mark.parametrize("why", sorted(EXPECTED))
def test_each_reason_has_its_disposition(ec_key: ec.EllipticCurvePrivateKey, why: str) -> None:
    status, code, disposition = EXPECTED[why]
    answer = reason(status, why)
    # A stale token is renewed once; the second refusal stands.
    answers = [answer, answer] if why == "ExpiredProviderToken" else [answer]
    error = failure(ec_key, *answers)
    assert (error.provider_code, error.code, error.disposition) == (why, code, disposition)


def test_an_unregistered_device_is_final(ec_key: ec.EllipticCurvePrivateKey) -> None:
    error = failure(ec_key, reason(410, "Unregistered", timestamp=1_700_000_000_000))
    assert (error.code, error.disposition, error.message) == (
        "recipient_unreachable",
        "final",
        "Unregistered",
    )


def test_too_many_requests_is_retried(ec_key: ec.EllipticCurvePrivateKey) -> None:
    busy = reason(429, "TooManyRequests")
    busy = norq.Response(429, {**busy.headers, "Retry-After": "0"}, busy.body)
    mock = MockTransport(busy, norq.Response(200, {"apns-id": "id-2"}, b""))
    app = norq.Norq.from_dict(apns_document(ec_key), environ={}, transports={"http2": mock})
    with app:
        receipt = app.notify("push", DEVICE, body="hi")
    assert (receipt.ok, receipt.message_id, receipt.attempts) == (True, "id-2", 2)
