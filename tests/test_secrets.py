"""No secret reaches a log line, repr, exception or redacted output."""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import quote_plus

import httpx
import pluggy
import pytest
import respx

import norq
from norq.redaction import MASK, Redactor
from tests.conftest import ACME_SECRET, acme_config

URL = "https://api.acme.test/v1/messages"
MakeNorq = Callable[..., norq.Norq]


def leaks(text: str) -> bool:
    auth = norq.BasicAuth("norq", ACME_SECRET).header_value
    return any(s in text for s in (ACME_SECRET, quote_plus(ACME_SECRET), auth, auth.split()[1]))


@respx.mock
def test_failed_delivery_with_retries_leaks_nothing(
    make_norq: MakeNorq, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    respx.post(URL).mock(return_value=httpx.Response(503, json={"error": {"message": "busy"}}))
    with pytest.raises(norq.DeliveryError) as caught:
        make_norq().notify("sms", "+15551234567", body="hi")
    assert caplog.records, "the retries should have been logged"
    assert not leaks(caplog.text)
    assert not leaks(str(caught.value))
    assert not leaks(repr(caught.value.receipt))


def test_config_errors_do_not_echo_secrets(plugin_manager: pluggy.PluginManager) -> None:
    document = acme_config()
    document["providers"]["acme"]["config"]["default_priority"] = "not a number"
    document["providers"]["acme"]["config"]["api_kee"] = ACME_SECRET
    with pytest.raises(norq.ConfigError) as caught:
        norq.Norq.from_dict(document, plugin_manager=plugin_manager, environ={})
    assert not leaks(str(caught.value))


def test_interpolation_errors_name_variables_not_values(
    plugin_manager: pluggy.PluginManager,
) -> None:
    document = acme_config()
    document["providers"]["acme"]["config"]["api_key"] = "${KEY}"
    document["providers"]["acme"]["config"]["sender"] = "${MISSING}"
    with pytest.raises(norq.ConfigError) as caught:
        norq.Norq.from_dict(document, plugin_manager=plugin_manager, environ={"KEY": ACME_SECRET})
    assert "MISSING" in str(caught.value)
    assert not leaks(str(caught.value))


def test_provider_and_request_reprs_hide_credentials(make_norq: MakeNorq) -> None:
    app = make_norq()
    request = app.prepare("sms", "+15551234567", body="hi").request
    assert request.auth is not None
    for text in (
        repr(app.providers["acme"].config),
        repr(request),
        repr(request.auth),
        str(request.auth),
    ):
        assert not leaks(text)


def test_redactor_masks_plain_and_encoded_secrets(make_norq: MakeNorq) -> None:
    app = make_norq()
    request = app.prepare("sms", "+15551234567", body=f"echo {ACME_SECRET}").request
    headers = app.redactor.headers(request.wire_headers())
    assert headers["Authorization"] == MASK
    body = app.redactor.text((request.body_bytes() or b"").decode())
    assert not leaks(body)
    assert MASK in body
    assert app.redactor.text(f"x={quote_plus(ACME_SECRET)}") == f"x={MASK}"


def test_redactor_masks_longest_secret_first() -> None:
    redactor = Redactor(["abc", "abcdef"])
    assert redactor.text("key abcdef and abc") == f"key {MASK} and {MASK}"


def test_secret_headers_are_masked_whatever_their_value() -> None:
    redacted = Redactor([]).headers({"X-Api-Key": "k", "Accept": "json", "authorization": "B"})
    assert redacted == {"X-Api-Key": MASK, "Accept": "json", "authorization": MASK}
