"""SendGrid's config is checked at load time, with the path and a fix in each error."""

from __future__ import annotations

from typing import Any

import pytest

import norq
from tests_sendgrid.conftest import document, sendgrid


@pytest.mark.parametrize(
    ("config", "path", "complaint"),
    [
        ({"from": "receipts"}, "providers.sendgrid.config.from", "not an email address"),
        ({"api_key": "  "}, "providers.sendgrid.config.api_key", "is empty"),
        ({"base_url": "api.sendgrid.com"}, "providers.sendgrid.config.base_url", "http(s)"),
        ({"sandbox_mode": "maybe"}, "providers.sendgrid.config.sandbox_mode", ""),
        ({"from_nam": "Shop"}, "providers.sendgrid.config.from_nam", ""),
    ],
)
def test_bad_config_names_the_key_and_the_fix(
    config: dict[str, Any], path: str, complaint: str
) -> None:
    with pytest.raises(norq.ConfigError) as caught:
        norq.Norq.from_dict(document(sendgrid=sendgrid(**config)), environ={})
    assert path in str(caught.value)
    assert complaint in str(caught.value)


def test_the_eu_host_is_a_base_url() -> None:
    doc = document(sendgrid=sendgrid(base_url="https://api.eu.sendgrid.com/"))
    request = (
        norq.Norq.from_dict(doc, environ={})
        .prepare("email", "ada@example.com", body="hi", subject="s")
        .request
    )
    assert isinstance(request, norq.PreparedRequest)
    assert request.url == "https://api.eu.sendgrid.com/v3/mail/send"
