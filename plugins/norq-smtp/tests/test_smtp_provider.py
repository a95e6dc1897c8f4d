"""The provider: config checked at load, messages checked before sending, prepare_send pure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from norq_smtp import PreparedEmail
from smtp_testserver import PASSWORD, USERNAME

import norq


def build(**config: Any) -> norq.Norq:
    settings = {"host": "smtp.example.test", "sender": "alerts@example.test", **config}
    return norq.Norq.from_dict(
        {"providers": {"mail": {"type": "smtp", "config": settings}}, "routing": {"email": "mail"}},
        environ={},
    )


def prepare(app: norq.Norq, **options: Any) -> PreparedEmail:
    options.setdefault("subject", "Hello")
    request = app.prepare("email", "ada@example.test", body="hi", **options).request
    assert isinstance(request, PreparedEmail)
    return request


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({"username": USERNAME}, "username is set but password is not"),
        ({"password": PASSWORD}, "password is set but username is not"),
        ({"sender": "not-an-address"}, "not an email address"),
        ({"port": 70000}, "port"),
        ({"security": "ssl"}, "security"),
        ({"ca_file": "/nonexistent/ca.pem"}, "ca_file"),
        ({"host": "smtp.example.test\r\nX-Injected: 1"}, "must be one line"),
        (
            {"security": "none", "username": USERNAME, "password": PASSWORD},
            "password in clear",
        ),
    ],
)
def test_config_problems_are_reported_at_load(config: dict[str, Any], problem: str) -> None:
    with pytest.raises(norq.ConfigError) as caught:
        build(**config)
    assert problem in str(caught.value)
    assert "providers.mail.config" in str(caught.value)


def test_auth_without_tls_is_allowed_only_on_loopback() -> None:
    app = build(host="127.0.0.1", security="none", username=USERNAME, password=PASSWORD)
    assert prepare(app).server.port == 25


@pytest.mark.parametrize(("security", "port"), [("starttls", 587), ("tls", 465), ("none", 25)])
def test_the_default_port_follows_the_security(security: str, port: int) -> None:
    assert prepare(build(security=security)).server.port == port


def test_prepare_send_describes_without_connecting_and_ids_differ() -> None:
    app = build(host="smtp.invalid")
    first, second = prepare(app), prepare(app)
    assert first.message_id != second.message_id
    assert first.envelope_to == second.envelope_to == ("ada@example.test",)
    assert first.message["Message-ID"] == first.message_id
    assert first.message["Date"] is None, "the transport stamps the Date when it sends"


def test_showing_a_prepared_email_does_not_change_it() -> None:
    prepared = prepare(build(), html="<p>hi</p>")
    assert prepared.mime_bytes() == prepared.mime_bytes()
    assert str(prepared) == str(prepared)


def test_reply_to_comes_from_the_message_or_the_config() -> None:
    app = build(reply_to="support@example.test")
    assert prepare(app).message["Reply-To"] == "support@example.test"
    assert prepare(app, reply_to="ops@example.test").message["Reply-To"] == "ops@example.test"


def test_a_plain_text_email_is_one_text_part() -> None:
    message = prepare(build()).message
    assert message.get_content_type() == "text/plain"
    assert message.get_content().strip() == "hi"


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"subject": None}, "has no subject"),
        ({"subject": "  "}, "has no subject"),
        ({"subject": "Hi\r\nBcc: victim@example.test"}, "subject must be one line"),
        ({"html": 42}, "html must be a string"),
        ({"cc": "not-an-address"}, "cc:"),
        ({"bcc": ["ok@example.test", 7]}, "bcc must be an email address or a list"),
        ({"reply_to": "nobody"}, "reply_to:"),
        ({"cc": "josé@example.test"}, "not an ASCII address"),
        ({"priority": "high"}, "does not understand 'priority'"),
    ],
)
def test_message_problems_are_refused_before_anything_is_sent(
    options: dict[str, Any], problem: str
) -> None:
    app = build()
    if options.get("subject", "") is None:
        options.pop("subject")
        with pytest.raises(norq.MessageError) as caught:
            app.prepare("email", "ada@example.test", body="hi", **options)
    else:
        with pytest.raises(norq.MessageError) as caught:
            prepare(app, **options)
    assert problem in str(caught.value)


def test_a_relative_ca_file_is_checked_when_the_config_loads(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n", encoding="ascii")
    assert prepare(build(ca_file=str(ca))).server.ca_file == ca
