"""A signing key made for the tests (EC P-256, as Apple's .p8 keys are) and APNs' answers."""

from __future__ import annotations

import itertools
import json
import threading
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

import norq
from norq.testing import MockTransport, RecordedRequest, json_response

KEY_ID = "ABC123DEFG"
TEAM_ID = "DEF123GHIJ"
TOPIC = "com.example.shop"
DEVICE = "0f744707bebcf74f9b7c25d48e3358945f6aa01da5ddb387462c7eaf61bbad78"
HOST = "https://api.push.apple.com"


@pytest.fixture(scope="session")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def p8(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def apns_document(key: ec.EllipticCurvePrivateKey, **config: Any) -> dict[str, Any]:
    settings = {"key": p8(key), "key_id": KEY_ID, "team_id": TEAM_ID, "topic": TOPIC, **config}
    return {"providers": {"apns": {"config": settings}}, "routing": {"push": "apns"}}


def apns_app(key: ec.EllipticCurvePrivateKey, mock: MockTransport, **config: Any) -> norq.Norq:
    document = apns_document(key, **config)
    return norq.Norq.from_dict(document, environ={}, transports={"http2": mock})


def write_key(tmp_path: Path, key: ec.EllipticCurvePrivateKey) -> Path:
    path = tmp_path / f"AuthKey_{KEY_ID}.p8"
    path.write_text(p8(key))
    return path


class Apple:
    """APNs as documented: checks the provider token, answers 200 with an apns-id."""

    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        self.public_key = key.public_key()
        self.tokens: list[str] = []
        self.stale: set[str] = set()
        self.answers: list[norq.Response] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def __call__(self, request: RecordedRequest) -> norq.Response:
        with self._lock:
            token = request.headers.get("authorization", "").removeprefix("Bearer ")
            try:
                jwt.decode(token, self.public_key, algorithms=["ES256"], issuer=TEAM_ID)
            except jwt.InvalidTokenError:
                return json_response(403, {"reason": "InvalidProviderToken"})
            self.tokens.append(token)
            if token in self.stale:
                return json_response(403, {"reason": "ExpiredProviderToken"})
            if self.answers:
                return self.answers.pop(0)
            apns_id = f"00000000-0000-4000-8000-{next(self._ids):012d}"
            return norq.Response(200, {"apns-id": apns_id}, b"")


def reason(status: int, why: str, **more: Any) -> norq.Response:
    return json_response(status, {"reason": why, **more})


def sent_json(request: RecordedRequest) -> Any:
    return json.loads(request.body)
