"""A service account made for the tests (a fresh RSA key), and an FCM stand-in that checks it."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import norq
from norq.testing import MockServer, RecordedRequest, json_response

PROJECT = "demo-project"
CLIENT_EMAIL = "norq-push@demo-project.iam.gserviceaccount.com"
KEY_ID = "0123456789abcdef0123456789abcdef01234567"
TOKEN = "dGVzdC1kZXZpY2UtdG9rZW4:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx"


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def key_json(key: rsa.RSAPrivateKey, token_uri: str = "https://oauth2.googleapis.com/token") -> str:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return json.dumps(
        {
            "type": "service_account",
            "project_id": PROJECT,
            "private_key_id": KEY_ID,
            "private_key": pem,
            "client_email": CLIENT_EMAIL,
            "client_id": "100000000000000000001",
            "token_uri": token_uri,
        }
    )


def private_key_pem(key: rsa.RSAPrivateKey) -> str:
    return str(json.loads(key_json(key))["private_key"])


class Google:
    """The token endpoint and messages:send, as documented, checking what they are sent."""

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self.public_key = key.public_key()
        self.issued: list[str] = []
        self.revoked: set[str] = set()
        self.sent: list[dict[str, Any]] = []
        self.answers: list[norq.Response] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.token_url = ""

    def __call__(self, request: RecordedRequest) -> norq.Response:
        with self._lock:
            if request.url.endswith("/token"):
                return self._token(request)
            return self._send(request)

    def _token(self, request: RecordedRequest) -> norq.Response:
        form = dict(parse_qsl(request.body.decode()))
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return json_response(400, {"error": "unsupported_grant_type"})
        try:
            jwt.decode(
                form["assertion"],
                self.public_key,
                algorithms=["RS256"],
                audience=self.token_url,
                issuer=CLIENT_EMAIL,
            )
        except (KeyError, jwt.InvalidTokenError) as exc:
            return json_response(400, {"error": "invalid_grant", "error_description": str(exc)})
        self.issued.append(f"ya29.test-access-token-{len(self.issued) + 1}")
        answer = {"access_token": self.issued[-1], "expires_in": 3599, "token_type": "Bearer"}
        return json_response(200, answer)

    def _send(self, request: RecordedRequest) -> norq.Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.issued or token in self.revoked:
            return json_response(
                401,
                {
                    "error": {
                        "code": 401,
                        "message": "Request had invalid authentication credentials.",
                        "status": "UNAUTHENTICATED",
                    }
                },
            )
        self.sent.append({"token": token, "body": request.json()})
        if self.answers:
            return self.answers.pop(0)
        return json_response(200, {"name": f"projects/{PROJECT}/messages/0:{next(self._ids)}"})


@pytest.fixture
def google(rsa_key: rsa.RSAPrivateKey) -> Iterator[tuple[Google, MockServer]]:
    api = Google(rsa_key)
    with MockServer(handler=api) as server:
        api.token_url = f"{server.url}/token"
        yield api, server


#: Where the in-process tests (MockTransport) send; nothing listens there.
NOWHERE = "https://fcm.test"


def fcm_document(key: rsa.RSAPrivateKey, url: str = NOWHERE, **config: Any) -> dict[str, Any]:
    """A config whose FCM API and token endpoint are at ``url``."""
    return {
        "providers": {
            "fcm": {
                "config": {
                    "service_account": key_json(key, f"{url}/token"),
                    "base_url": url,
                    **config,
                }
            }
        },
        "routing": {"push": "fcm"},
    }


def fcm_app(key: rsa.RSAPrivateKey, server: MockServer, **config: Any) -> norq.Norq:
    return norq.Norq.from_dict(fcm_document(key, server.url, **config), environ={})


def write_key(tmp_path: Path, key: rsa.RSAPrivateKey) -> Path:
    path = tmp_path / "service-account.json"
    path.write_text(key_json(key))
    return path
