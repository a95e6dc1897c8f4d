"""A VAPID key and browsers made for the tests: subscriptions whose pushes the tests decrypt."""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from typing import Any

import http_ece
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

import norq
from norq.testing import RecordedRequest

SUBJECT = "mailto:ops@example.com"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def raw_private(key: ec.EllipticCurvePrivateKey) -> str:
    """The key as ``web-push generate-vapid-keys`` prints it: base64url of its 32 bytes."""
    return b64url(key.private_numbers().private_value.to_bytes(32, "big"))


def pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def point(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


@pytest.fixture(scope="session")
def vapid_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@dataclass
class Browser:
    """One subscribed browser: its keys, and the subscription it gave the page."""

    endpoint: str
    key: ec.EllipticCurvePrivateKey
    auth: bytes

    @classmethod
    def at(cls, endpoint: str) -> Browser:
        return cls(endpoint, ec.generate_private_key(ec.SECP256R1()), os.urandom(16))

    @property
    def subscription(self) -> str:
        keys = {"p256dh": b64url(point(self.key.public_key())), "auth": b64url(self.auth)}
        return json.dumps({"endpoint": self.endpoint, "expirationTime": None, "keys": keys})

    def decrypt(self, body: bytes) -> bytes:
        """What the browser reads: the body decrypted with http_ece, as RFC 8291 says."""
        decrypted: bytes = http_ece.decrypt(
            body, private_key=self.key, auth_secret=self.auth, version="aes128gcm"
        )
        return decrypted


def webpush_document(key: ec.EllipticCurvePrivateKey, **config: Any) -> dict[str, Any]:
    settings = {"vapid_private_key": raw_private(key), "subject": SUBJECT, **config}
    return {
        "providers": {"webpush": {"config": settings, "retry": {"backoff": 0.0}}},
        "routing": {"push": "webpush"},
    }


def webpush_app(key: ec.EllipticCurvePrivateKey, **config: Any) -> norq.Norq:
    return norq.Norq.from_dict(webpush_document(key, **config), environ={})


def vapid_claims(
    request: RecordedRequest, key: ec.EllipticCurvePrivateKey, *, verify_exp: bool = True
) -> dict[str, Any]:
    """The VAPID token's claims, checked as a push service checks them (with PyJWT)."""
    scheme, _, params = request.headers["authorization"].partition(" ")
    assert scheme == "vapid"
    parts = dict(part.strip().split("=", 1) for part in params.split(","))
    assert set(parts) == {"t", "k"}
    assert b64url_decode(parts["k"]) == point(key.public_key())
    claims: dict[str, Any] = jwt.decode(
        parts["t"],
        key.public_key(),
        algorithms=["ES256"],
        options={"verify_aud": False, "verify_exp": verify_exp},
    )
    return claims


def created(location: str = "https://push.example.net/m/1") -> norq.Response:
    return norq.Response(201, {"Location": location}, b"")
