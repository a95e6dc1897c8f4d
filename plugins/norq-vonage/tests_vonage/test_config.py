"""Vonage's config is checked once, at load time, with the path and a fix in each error."""

from __future__ import annotations

from typing import Any

import pytest
from norq_vonage import VonageProvider

import norq
from tests_vonage.conftest import API_KEY, document, vonage


def problems(**config: Any) -> str:
    with pytest.raises(norq.ConfigError) as caught:
        norq.Norq.from_dict(document(vonage=vonage(**config)), environ={})
    return str(caught.value)


@pytest.mark.parametrize(
    ("config", "path", "complaint"),
    [
        ({"from": "+44 7700"}, "providers.vonage.config.from", "not a sender Vonage accepts"),
        ({"from": "TwelveLetter"}, "providers.vonage.config.from", "up to 11 letters"),
        ({"api_key": " "}, "providers.vonage.config.api_key", "is empty"),
        ({"api_secret": ""}, "providers.vonage.config.api_secret", "is empty"),
        ({"callback": "not a url"}, "providers.vonage.config.callback", "not an http(s) URL"),
        ({"base_url": "https://x.test/?a=1"}, "providers.vonage.config.base_url", "query"),
        ({"api_kee": "x"}, "providers.vonage.config.api_kee", ""),
    ],
)
def test_bad_config_names_the_key_and_the_fix(
    config: dict[str, Any], path: str, complaint: str
) -> None:
    text = problems(**config)
    assert path in text
    assert complaint in text


def test_missing_credentials_are_all_reported_together() -> None:
    doc = document(vonage={"type": "vonage", "config": {"from": "Norq"}})
    with pytest.raises(norq.ConfigError) as caught:
        norq.Norq.from_dict(doc, environ={})
    paths = {path for path, _ in caught.value.errors}
    assert {"providers.vonage.config.api_key", "providers.vonage.config.api_secret"} <= paths


def test_a_yaml_number_is_a_numeric_sender() -> None:
    app = norq.Norq.from_dict(document(vonage=vonage(**{"from": 447700900000})), environ={})
    assert app.providers["vonage"].config.from_ == "447700900000"


def test_the_environment_configures_vonage_when_the_yaml_does_not() -> None:
    environ = {
        "NORQ_VONAGE_API_KEY": API_KEY,
        "NORQ_VONAGE_API_SECRET": "env-secret",
        "NORQ_VONAGE_FROM": "Norq",
    }
    app = norq.Norq.from_dict({}, environ=environ)
    provider = app.providers["vonage"]
    assert isinstance(provider, VonageProvider)
    assert provider.config.api_secret.get_secret_value() == "env-secret"
