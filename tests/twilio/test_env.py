"""Configuring Twilio from NORQ_TWILIO_* variables when the YAML does not declare it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import respx

import norq
from norq.config import env_var_names
from norq.providers.twilio import TwilioProvider
from tests.twilio.conftest import (
    ACCOUNT_SID,
    API_KEY_SECRET,
    API_KEY_SID,
    AUTH_TOKEN,
    MESSAGES_URL,
    RECIPIENT,
    SECRETS,
    SENDER,
    SERVICE_SID,
    basic,
    created,
    document,
    form_of,
)

MakeNorq = Callable[..., norq.Norq]

SEED_ENV = {
    "NORQ_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
    "NORQ_TWILIO_API_KEY_SID": API_KEY_SID,
    "NORQ_TWILIO_API_KEY_SECRET": API_KEY_SECRET,
    "NORQ_TWILIO_FROM": SENDER,
}


def test_variable_names_are_seed_000s_plus_the_extensions() -> None:
    names = set(env_var_names(TwilioProvider).values())
    assert names == {
        "NORQ_TWILIO_ACCOUNT_SID",
        "NORQ_TWILIO_API_KEY_SID",
        "NORQ_TWILIO_API_KEY_SECRET",
        "NORQ_TWILIO_AUTH_TOKEN",
        "NORQ_TWILIO_FROM",
        "NORQ_TWILIO_MESSAGING_SERVICE_SID",
        "NORQ_TWILIO_STATUS_CALLBACK",
        "NORQ_TWILIO_MAX_PRICE",
        "NORQ_TWILIO_VALIDITY_PERIOD",
        "NORQ_TWILIO_BASE_URL",
        "NORQ_TWILIO_EDGE",
        "NORQ_TWILIO_REGION",
        "NORQ_TWILIO_WEBHOOK_AUTH_TOKEN",
    }


@respx.mock
def test_seed_variables_alone_configure_and_route_sms(make_norq: MakeNorq) -> None:
    route = respx.post(MESSAGES_URL).mock(return_value=created())
    env = {
        **SEED_ENV,
        "NORQ_TWILIO_STATUS_CALLBACK": "https://hooks.example.com/s",
        "NORQ_TWILIO_MAX_PRICE": "0.05",
        "NORQ_TWILIO_VALIDITY_PERIOD": "600",
    }
    app = make_norq({}, environ=env)
    assert app.config.from_env == ("twilio",)
    app.notify("sms", RECIPIENT, body="hi")
    sent = route.calls.last.request
    assert sent.headers["authorization"] == basic(API_KEY_SID, API_KEY_SECRET)
    assert form_of(sent) == [
        ("To", RECIPIENT),
        ("From", SENDER),
        ("Body", "hi"),
        ("StatusCallback", "https://hooks.example.com/s"),
        ("MaxPrice", "0.05"),
        ("ValidityPeriod", "600"),
    ]


def test_messaging_service_and_auth_token_from_the_environment(make_norq: MakeNorq) -> None:
    env = {
        "NORQ_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "NORQ_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "NORQ_TWILIO_MESSAGING_SERVICE_SID": SERVICE_SID,
        "NORQ_TWILIO_BASE_URL": "http://127.0.0.1:8765",
    }
    request = make_norq({}, environ=env).prepare("sms", RECIPIENT, body="hi").request
    assert request.url.startswith("http://127.0.0.1:8765/2010-04-01/")
    assert request.form is not None
    assert ("MessagingServiceSid", SERVICE_SID) in request.form


def test_optional_variables_alone_configure_nothing(make_norq: MakeNorq) -> None:
    app = make_norq({}, environ={"NORQ_TWILIO_BASE_URL": "http://127.0.0.1:8765"})
    assert "twilio" not in app.providers


def test_a_declared_provider_ignores_the_environment(make_norq: MakeNorq) -> None:
    app = make_norq(document(), environ={**SEED_ENV, "NORQ_TWILIO_FROM": "+15005550009"})
    assert app.config.from_env == ()
    form = app.prepare("sms", RECIPIENT, body="hi").request.form
    assert form is not None
    assert ("From", SENDER) in form


def test_the_yaml_routing_wins_over_an_env_configured_provider(make_norq: MakeNorq) -> None:
    doc = {"providers": {"console": {}}, "routing": {"sms": "console"}}
    app = make_norq(doc, environ=SEED_ENV)
    assert app.routing["sms"] == ("console",)


def test_bad_variables_are_reported_by_variable_name(make_norq: MakeNorq) -> None:
    env = {**SEED_ENV, "NORQ_TWILIO_VALIDITY_PERIOD": "99999"}
    with pytest.raises(norq.ConfigError) as caught:
        make_norq({}, environ=env)
    assert "env NORQ_TWILIO_VALIDITY_PERIOD: must be less than or equal to 14400" in str(
        caught.value
    )


def test_missing_sender_names_both_keys_and_no_secret(make_norq: MakeNorq) -> None:
    env = {k: v for k, v in SEED_ENV.items() if k != "NORQ_TWILIO_FROM"}
    with pytest.raises(norq.ConfigError) as caught:
        make_norq({}, environ=env)
    text = str(caught.value)
    assert "from and messaging_service_sid" in text
    assert not any(secret in text for secret in SECRETS)
