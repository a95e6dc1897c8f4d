"""providers.<name>.config for fcm: a service account key, checked when the config loads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

import norq
from tests_fcm.conftest import PROJECT, key_json, private_key_pem, write_key


def load(config: dict[str, Any]) -> norq.Norq:
    document = {"providers": {"fcm": {"config": config}}, "routing": {"push": "fcm"}}
    return norq.Norq.from_dict(document, environ={})


def config_error(config: dict[str, Any]) -> str:
    with pytest.raises(norq.ConfigError) as caught:
        load(config)
    return str(caught.value)


def test_a_key_file_or_its_text_configures_the_project(
    rsa_key: rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    from_file = load({"service_account_file": str(write_key(tmp_path, rsa_key))})
    from_text = load({"service_account": key_json(rsa_key), "project_id": "other-project"})
    url = from_file.prepare("push", "topic:news", body="hi").request.url
    assert url == f"https://fcm.googleapis.com/v1/projects/{PROJECT}/messages:send"
    url = from_text.prepare("push", "topic:news", body="hi").request.url
    assert url == "https://fcm.googleapis.com/v1/projects/other-project/messages:send"


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({}, "give the service account key once"),
        ({"service_account": "{not json"}, "is not JSON"),
        ({"service_account": json.dumps({"type": "user"})}, "is not a service account key"),
        (
            {"service_account": json.dumps({"type": "service_account", "project_id": "p"})},
            "lacks client_email, private_key_id, private_key",
        ),
        ({"service_account_file": "/nonexistent/key.json"}, "service_account_file"),
    ],
)
def test_a_bad_key_is_a_config_error(config: dict[str, Any], problem: str) -> None:
    assert problem in config_error(config)


def test_a_broken_private_key_is_reported_without_quoting_it(rsa_key: rsa.RSAPrivateKey) -> None:
    data = json.loads(key_json(rsa_key))
    lines = data["private_key"].splitlines()
    data["private_key"] = "\n".join([lines[0], lines[1][::-1], *lines[2:]])
    text = config_error({"service_account": json.dumps(data)})
    assert "private_key is not a readable PEM key" in text
    assert lines[1][::-1] not in text


def test_an_ec_key_is_refused(rsa_key: rsa.RSAPrivateKey) -> None:
    from cryptography.hazmat.primitives import serialization

    data = json.loads(key_json(rsa_key))
    data["private_key"] = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    assert "is not an RSA key" in config_error({"service_account": json.dumps(data)})


def test_the_key_is_a_secret_even_from_a_file(rsa_key: rsa.RSAPrivateKey, tmp_path: Path) -> None:
    app = load({"service_account_file": str(write_key(tmp_path, rsa_key))})
    pem = private_key_pem(rsa_key)
    assert app.redactor.text(f"key: {pem}") == "key: ***"
