"""The push services: what the sandbox's FCM, APNs and Web Push accept and refuse, on the wire.

Requests are built here by hand (PyJWT, http_ece, httpx), not by Norq's
plugins, so these tests pin the sandbox to the providers' documented forms on
their own; tests/e2e/test_push_sandbox.py drives the plugins against it.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator
from typing import Any

import http_ece
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from norq_sandbox import SandboxServer

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
DEVICE = "ab" * 32


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(step_delay=0.01) as server:
        yield server


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    sandbox.reset()
    with httpx.Client(base_url=sandbox.url) as http:
        yield http


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# -- FCM and its token endpoint ---------------------------------------------------------


def assertion(account: dict[str, Any], *, key: Any = None, **changes: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": account["client_email"],
        "scope": SCOPE,
        "aud": account["token_uri"],
        "iat": now,
        "exp": now + 3600,
        **changes,
    }
    return jwt.encode(
        claims,
        key or account["private_key"],
        algorithm="RS256",
        headers={"kid": account["private_key_id"]},
    )


def exchange(client: httpx.Client, signed: str) -> httpx.Response:
    return client.post("/token", data={"grant_type": JWT_BEARER, "assertion": signed})


def fcm_send(client: httpx.Client, token: str, message: dict[str, Any]) -> httpx.Response:
    return client.post(
        "/v1/projects/norq-sandbox/messages:send",
        json={"message": message},
        headers={"Authorization": f"Bearer {token}"},
    )


def test_the_token_endpoint_trades_a_signed_assertion_for_an_hour_long_token(
    sandbox: SandboxServer, client: httpx.Client
) -> None:
    account = sandbox.fcm_service_account()
    assert account["type"] == "service_account"
    assert account["token_uri"] == sandbox.url + "/token"
    answer = exchange(client, assertion(account))
    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3599
    sent = fcm_send(client, body["access_token"], {"token": DEVICE, "data": {"a": "1"}})
    assert sent.status_code == 200
    assert sent.json()["name"].startswith("projects/norq-sandbox/messages/")


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"aud": "https://oauth2.googleapis.com/token"}, "invalid_grant"),
        ({"iss": "someone@else.iam.gserviceaccount.com"}, "invalid_grant"),
        ({"exp": int(time.time()) + 7200}, "invalid_grant"),
        ({"exp": int(time.time()) - 10, "iat": int(time.time()) - 100}, "invalid_grant"),
        ({"scope": "https://www.googleapis.com/auth/cloud-platform"}, "invalid_scope"),
    ],
)
def test_the_token_endpoint_refuses_a_wrong_assertion(
    sandbox: SandboxServer, client: httpx.Client, changes: dict[str, Any], error: str
) -> None:
    answer = exchange(client, assertion(sandbox.fcm_service_account(), **changes))
    assert answer.status_code == 400
    assert answer.json()["error"] == error


def test_the_token_endpoint_refuses_an_assertion_signed_by_another_key(
    sandbox: SandboxServer, client: httpx.Client
) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    answer = exchange(client, assertion(sandbox.fcm_service_account(), key=other))
    assert answer.status_code == 400
    assert answer.json() == {
        "error": "invalid_grant",
        "error_description": "Invalid JWT Signature.",
    }


def test_fcm_refuses_an_unknown_expired_or_revoked_access_token(
    sandbox: SandboxServer, client: httpx.Client
) -> None:
    unknown = fcm_send(client, "ya29.made-up", {"token": DEVICE, "data": {"a": "1"}})
    assert unknown.status_code == 401
    assert unknown.json()["error"]["status"] == "UNAUTHENTICATED"
    token = exchange(client, assertion(sandbox.fcm_service_account())).json()["access_token"]
    sandbox.clock.advance(3601)
    assert fcm_send(client, token, {"token": DEVICE, "data": {"a": "1"}}).status_code == 401
    fresh = exchange(client, assertion(sandbox.fcm_service_account())).json()["access_token"]
    assert fcm_send(client, fresh, {"token": DEVICE, "data": {"a": "1"}}).status_code == 200
    sandbox.expire_push_tokens()
    assert fcm_send(client, fresh, {"token": DEVICE, "data": {"a": "1"}}).status_code == 401


@pytest.mark.parametrize(
    ("message", "status", "code"),
    [
        ({"token": "unregistered-abc", "data": {"a": "1"}}, 404, "UNREGISTERED"),
        ({"token": DEVICE, "topic": "news"}, 400, "INVALID_ARGUMENT"),
        ({"data": {"a": "1"}}, 400, "INVALID_ARGUMENT"),
        ({"token": DEVICE, "data": {"a": 1}}, 400, "INVALID_ARGUMENT"),
        ({"token": DEVICE, "data": {"a": "x" * 5000}}, 400, "INVALID_ARGUMENT"),
    ],
)
def test_fcm_answers_a_bad_or_unregistered_message_with_its_error_code(
    sandbox: SandboxServer,
    client: httpx.Client,
    message: dict[str, Any],
    status: int,
    code: str,
) -> None:
    token = exchange(client, assertion(sandbox.fcm_service_account())).json()["access_token"]
    answer = fcm_send(client, token, message)
    assert answer.status_code == status
    (detail,) = answer.json()["error"]["details"]
    assert detail == {
        "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
        "errorCode": code,
    }
    assert sandbox.outbox("fcm") == []


def test_fcm_validate_only_checks_and_delivers_nothing(
    sandbox: SandboxServer, client: httpx.Client
) -> None:
    token = exchange(client, assertion(sandbox.fcm_service_account())).json()["access_token"]
    answer = client.post(
        "/v1/projects/norq-sandbox/messages:send",
        json={"message": {"topic": "news", "notification": {"body": "hi"}}, "validate_only": True},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.json() == {"name": "projects/norq-sandbox/messages/fake_message_id"}
    assert sandbox.outbox("fcm") == []


def test_the_request_log_keeps_no_assertion_and_no_token(
    sandbox: SandboxServer, client: httpx.Client
) -> None:
    signed = assertion(sandbox.fcm_service_account())
    token = exchange(client, signed).json()["access_token"]
    fcm_send(client, token, {"token": DEVICE, "data": {"a": "1"}})
    logged = json.dumps([record.to_dict() for record in sandbox.requests_to("fcm")])
    assert signed not in logged
    assert token not in logged


# -- APNs ------------------------------------------------------------------------------


def provider_token(sandbox: SandboxServer, *, key: Any = None, **changes: Any) -> str:
    pem, key_id, team_id = sandbox.apns_signing_key()
    claims = {"iss": team_id, "iat": int(time.time()), **changes}
    return jwt.encode(claims, key or pem, algorithm="ES256", headers={"kid": key_id})


def apns_send(
    client: httpx.Client, token: str | None, device: str = DEVICE, **headers: str
) -> httpx.Response:
    sent = {"apns-topic": "com.example.shop", **headers}
    if token is not None:
        sent["authorization"] = f"bearer {token}"
    return client.post(
        f"/3/device/{device}",
        json={"aps": {"alert": {"title": "Hi", "body": "There"}}},
        headers=sent,
    )


def test_apns_takes_a_push_signed_by_the_teams_key(
    sandbox: SandboxServer, client: httpx.Client
) -> None:
    answer = apns_send(client, provider_token(sandbox), **{"apns-push-type": "alert"})
    assert answer.status_code == 200
    assert answer.headers["apns-id"]
    (shown,) = sandbox.outbox("apns")
    assert (shown.subject, shown.text, shown.to) == ("Hi", "There", (DEVICE,))


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (None, "MissingProviderToken"),
        ("not-a-jwt", "InvalidProviderToken"),
        ("other-key", "InvalidProviderToken"),
        ("old", "ExpiredProviderToken"),
        ("other-team", "InvalidProviderToken"),
    ],
)
def test_apns_refuses_a_missing_bad_or_old_provider_token(
    sandbox: SandboxServer, client: httpx.Client, token: str | None, reason: str
) -> None:
    sent = {
        "other-key": lambda: provider_token(sandbox, key=ec.generate_private_key(ec.SECP256R1())),
        "old": lambda: provider_token(sandbox, iat=int(time.time()) - 3700),
        "other-team": lambda: provider_token(sandbox, iss="OTHERTEAM1"),
    }.get(token or "", lambda: token)()
    answer = apns_send(client, sent)
    assert answer.status_code == 403
    assert answer.json() == {"reason": reason}


def test_apns_refuses_a_token_it_was_told_to_expire(
    sandbox: SandboxServer, client: httpx.Client
) -> None:
    token = provider_token(sandbox)
    assert apns_send(client, token).status_code == 200
    sandbox.expire_push_tokens()
    assert apns_send(client, token).json() == {"reason": "ExpiredProviderToken"}
    assert apns_send(client, provider_token(sandbox)).status_code == 200


@pytest.mark.parametrize(
    ("device", "headers", "status", "reason"),
    [
        ("abc", {}, 400, "BadDeviceToken"),
        (DEVICE, {"apns-topic": ""}, 400, "MissingTopic"),
        (DEVICE, {"apns-priority": "7"}, 400, "BadPriority"),
        (DEVICE, {"apns-expiration": "soon"}, 400, "BadExpirationDate"),
        (DEVICE, {"apns-collapse-id": "x" * 65}, 400, "BadCollapseId"),
        (DEVICE, {"apns-push-type": "shout"}, 400, "InvalidPushType"),
        ("deadbeef" + "00" * 28, {}, 410, "Unregistered"),
    ],
)
def test_apns_answers_each_refusal_with_its_reason(
    sandbox: SandboxServer,
    client: httpx.Client,
    device: str,
    headers: dict[str, str],
    status: int,
    reason: str,
) -> None:
    answer = apns_send(client, provider_token(sandbox), device, **headers)
    assert answer.status_code == status
    assert answer.json()["reason"] == reason
    if status == 410:
        assert isinstance(answer.json()["timestamp"], int)


def test_apns_refuses_a_payload_over_4096_bytes(
    sandbox: SandboxServer, client: httpx.Client
) -> None:
    answer = client.post(
        f"/3/device/{DEVICE}",
        json={"aps": {"alert": "x" * 4100}},
        headers={"authorization": f"bearer {provider_token(sandbox)}", "apns-topic": "com.a.b"},
    )
    assert answer.status_code == 413
    assert answer.json()["reason"] == "PayloadTooLarge"


# -- Web Push --------------------------------------------------------------------------


def vapid_header(origin: str, key: ec.EllipticCurvePrivateKey, **changes: Any) -> str:
    claims = {"aud": origin, "exp": int(time.time()) + 3600, "sub": "mailto:ops@example.com"}
    token = jwt.encode({**claims, **changes}, key, algorithm="ES256")
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return f"vapid t={token}, k={b64url(point)}"


def encrypted(subscription: dict[str, Any], plaintext: bytes) -> bytes:
    keys = subscription["keys"]
    pad = lambda text: text + "=" * (-len(text) % 4)  # noqa: E731
    return http_ece.encrypt(
        plaintext,
        salt=os.urandom(16),
        private_key=ec.generate_private_key(ec.SECP256R1()),
        dh=base64.urlsafe_b64decode(pad(keys["p256dh"])),
        auth_secret=base64.urlsafe_b64decode(pad(keys["auth"])),
        version="aes128gcm",
    )


def webpush(
    client: httpx.Client,
    sandbox: SandboxServer,
    subscription: dict[str, Any],
    body: bytes,
    **headers: str,
) -> httpx.Response:
    sent = {
        "TTL": "60",
        "Content-Encoding": "aes128gcm",
        "Content-Type": "application/octet-stream",
        "Authorization": vapid_header(sandbox.url, ec.generate_private_key(ec.SECP256R1())),
        **headers,
    }
    return client.post(
        subscription["endpoint"], content=body, headers={k: v for k, v in sent.items() if v}
    )


def test_web_push_decrypts_the_payload_and_shows_it_as_a_notification(
    sandbox: SandboxServer, client: httpx.Client
) -> None:
    subscription = sandbox.webpush_subscription()
    assert subscription["endpoint"].startswith(sandbox.url + "/wpush/")
    payload = json.dumps({"title": "Shipped", "body": "Order A-1"}).encode()
    answer = webpush(
        client, sandbox, subscription, encrypted(subscription, payload), Urgency="high"
    )
    assert answer.status_code == 201
    assert answer.headers["location"].startswith(sandbox.url + "/wpush/messages/")
    (shown,) = sandbox.outbox("webpush")
    assert (shown.subject, shown.text, shown.sender) == (
        "Shipped",
        "Order A-1",
        "mailto:ops@example.com",
    )
    assert shown.details["urgency"] == "high"
    assert shown.details["ttl"] == "60"


def test_web_push_shows_a_payload_that_is_not_a_notification_as_data(
    sandbox: SandboxServer, client: httpx.Client
) -> None:
    subscription = sandbox.webpush_subscription()
    body = encrypted(subscription, b'{"order": "A-1"}')
    assert webpush(client, sandbox, subscription, body).status_code == 201
    (shown,) = sandbox.outbox("webpush")
    assert shown.subject is None
    assert shown.text is None
    assert shown.details["data"] == {"order": "A-1"}


def test_web_push_refusals(sandbox: SandboxServer, client: httpx.Client) -> None:
    subscription = sandbox.webpush_subscription()
    good = encrypted(subscription, b"hello")
    key = ec.generate_private_key(ec.SECP256R1())
    cases = [
        ({"TTL": ""}, good, 400),
        ({"Urgency": "urgent"}, good, 400),
        ({"Topic": "a" * 33}, good, 400),
        ({"Content-Encoding": "aesgcm"}, good, 400),
        ({"Authorization": ""}, good, 401),
        ({"Authorization": vapid_header("https://push.example.net", key)}, good, 401),
        ({"Authorization": vapid_header(sandbox.url, key, exp=int(time.time()) - 5)}, good, 401),
        (
            {"Authorization": vapid_header(sandbox.url, key, exp=int(time.time()) + 90000)},
            good,
            401,
        ),
        ({}, os.urandom(200), 400),
        ({}, encrypted(sandbox.webpush_subscription(), b"for another browser"), 400),
        ({}, b"x" * 4097, 413),
    ]
    for headers, body, status in cases:
        answer = webpush(client, sandbox, subscription, body, **headers)
        assert answer.status_code == status, (headers, answer.text)
    assert sandbox.outbox("webpush") == []


def test_web_push_answers_404_for_an_unknown_and_410_for_an_unsubscribed_subscription(
    sandbox: SandboxServer, client: httpx.Client
) -> None:
    subscription = sandbox.webpush_subscription()
    unknown = {**subscription, "endpoint": sandbox.url + "/wpush/nobody"}
    assert webpush(client, sandbox, unknown, b"").status_code == 404
    sandbox.unregister_push(subscription["endpoint"].rsplit("/", 1)[1])
    assert webpush(client, sandbox, subscription, encrypted(subscription, b"hi")).status_code == 410


def test_the_admin_api_hands_out_the_push_credentials_and_subscriptions(
    sandbox: SandboxServer, client: httpx.Client
) -> None:
    credentials = client.get("/_sandbox/push").json()
    assert credentials["fcm_service_account"]["token_uri"] == sandbox.url + "/token"
    assert credentials["apns"]["key_id"] == sandbox.apns_signing_key()[1]
    assert credentials["apns"]["key"].startswith("-----BEGIN PRIVATE KEY-----")
    created = client.post("/_sandbox/push/subscriptions")
    assert created.status_code == 201
    assert set(created.json()["keys"]) == {"p256dh", "auth"}
    device = "cd" * 32
    assert client.post("/_sandbox/push/unregister", json={"token": device}).status_code == 204
    assert apns_send(client, provider_token(sandbox), device).status_code == 410
    assert client.post("/_sandbox/push/expire-tokens").status_code == 204
