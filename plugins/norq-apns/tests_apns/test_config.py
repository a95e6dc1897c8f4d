"""providers.<name>.config for apns: the signing key, its ID, the team and the app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

import norq
from tests_apns.conftest import DEVICE, KEY_ID, TEAM_ID, TOPIC, p8, write_key


def load(**config: Any) -> norq.Norq:
    settings = {"key_id": KEY_ID, "team_id": TEAM_ID, "topic": TOPIC, **config}
    document = {"providers": {"apns": {"config": settings}}, "routing": {"push": "apns"}}
    return norq.Norq.from_dict(document, environ={})


def problem(**config: Any) -> str:
    with pytest.raises(norq.ConfigError) as caught:
        load(**config)
    return str(caught.value)


def test_the_key_comes_from_a_file_or_its_text(
    ec_key: ec.EllipticCurvePrivateKey, tmp_path: Path
) -> None:
    from_file = load(key_file=str(write_key(tmp_path, ec_key)))
    from_text = load(key=p8(ec_key), environment="sandbox")
    assert from_file.prepare("push", DEVICE, body="hi").request.url.startswith(
        "https://api.push.apple.com/3/device/"
    )
    assert from_text.prepare("push", DEVICE, body="hi").request.url.startswith(
        "https://api.sandbox.push.apple.com/3/device/"
    )


def test_the_key_is_a_secret_even_from_a_file(
    ec_key: ec.EllipticCurvePrivateKey, tmp_path: Path
) -> None:
    app = load(key_file=str(write_key(tmp_path, ec_key)))
    assert app.redactor.text(p8(ec_key)) == "***"


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({}, "give the signing key once"),
        ({"key": "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----"}, "not a readable"),
        ({"key_id": "abc"}, "providers.apns.config.key_id: must be 10 capital letters"),
        ({"team_id": "TEAM"}, "providers.apns.config.team_id: must be 10 capital letters"),
        ({"topic": "shop"}, "providers.apns.config.topic: is not a bundle ID"),
        ({"environment": "staging"}, "providers.apns.config.environment"),
    ],
)
def test_bad_settings_are_config_errors(
    ec_key: ec.EllipticCurvePrivateKey, config: dict[str, Any], expected: str
) -> None:
    settings = {"key": p8(ec_key), **config} if "key" not in config and config else config
    assert expected in problem(**settings)


def test_a_key_that_is_not_p256_is_refused() -> None:
    rsa_pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    assert "not an APNs key" in problem(key=rsa_pem)
