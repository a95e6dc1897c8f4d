"""No Twilio secret reaches a repr, a log line, an exception or the dry run."""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import quote_plus

import httpx
import pytest
import respx

import norq
from norq.dryrun import render
from tests.twilio.conftest import (
    ACCOUNT_SID,
    API_KEY_SECRET,
    API_KEY_SID,
    AUTH_TOKEN,
    MESSAGES_URL,
    RECIPIENT,
    SECRETS,
    WEBHOOK_TOKEN,
    basic,
    document,
)

MakeNorq = Callable[..., norq.Norq]
AUTH_TOKEN_DOC = document(api_key_sid=None, api_key_secret=None, auth_token=AUTH_TOKEN)


def leaks(text: str) -> bool:
    headers = [basic(API_KEY_SID, API_KEY_SECRET), basic(ACCOUNT_SID, AUTH_TOKEN)]
    forms = [quote_plus(secret) for secret in SECRETS]
    tokens = [header.split()[1] for header in headers]
    return any(s in text for s in (*SECRETS, *forms, *headers, *tokens))


@pytest.mark.parametrize(
    "doc", [document(webhook_auth_token=WEBHOOK_TOKEN), AUTH_TOKEN_DOC], ids=["api-key", "token"]
)
def test_reprs_hide_the_secrets(make_norq: MakeNorq, doc: dict[str, object]) -> None:
    app = make_norq(doc)
    provider = app.providers["twilio"]
    request = app.prepare("sms", RECIPIENT, body="hi").request
    shown = [repr(app), repr(provider), repr(provider.config), str(provider.config)]
    shown += [repr(request), repr(request.auth), str(request.auth)]
    assert not any(leaks(text) for text in shown)


@pytest.mark.parametrize("fmt", ["http", "curl"])
def test_redacted_dry_run_hides_the_secrets(make_norq: MakeNorq, fmt: str) -> None:
    app = make_norq()
    prepared = app.prepare("sms", RECIPIENT, body="hi")
    text = render(prepared.request, app.redactor, fmt=fmt)  # type: ignore[arg-type]
    assert ACCOUNT_SID in text
    assert not leaks(text)


def test_provider_lists_its_secrets_for_redaction(make_norq: MakeNorq) -> None:
    provider = make_norq(document(webhook_auth_token=WEBHOOK_TOKEN)).providers["twilio"]
    assert sorted(provider.secret_values()) == sorted([API_KEY_SECRET, WEBHOOK_TOKEN])


@respx.mock
@pytest.mark.parametrize("doc", [document(), AUTH_TOKEN_DOC], ids=["api-key", "token"])
def test_failures_and_retries_log_no_secret(
    make_norq: MakeNorq, caplog: pytest.LogCaptureFixture, doc: dict[str, object]
) -> None:
    caplog.set_level(logging.DEBUG)
    respx.post(MESSAGES_URL).mock(
        side_effect=[
            httpx.Response(503, text="busy"),
            httpx.Response(401, json={"code": 20003, "message": "Authenticate", "status": 401}),
        ]
    )
    with pytest.raises(norq.DeliveryError) as caught:
        make_norq(doc).notify("sms", RECIPIENT, body="hi")
    assert caplog.records
    assert not leaks(caplog.text)
    assert not leaks(str(caught.value))
    assert not leaks(repr(caught.value.receipt))
    assert caught.value.receipt.error is not None
    assert caught.value.receipt.error.code == "invalid_credentials"


def test_config_errors_hide_the_secrets(make_norq: MakeNorq) -> None:
    with pytest.raises(norq.ConfigError) as caught:
        make_norq(document(auth_token=AUTH_TOKEN, webhook_auth_token=WEBHOOK_TOKEN, edge="X"))
    assert not leaks(str(caught.value))
    assert not leaks(repr(caught.value.errors))
