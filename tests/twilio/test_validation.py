"""Every problem is reported before a request exists: config at load time, messages at notify."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

import norq
from norq.config import field_keys
from norq.providers.twilio import TwilioConfig
from tests.twilio.conftest import (
    API_KEY_SECRET,
    AUTH_TOKEN,
    MESSAGES_URL,
    RECIPIENT,
    SECRETS,
    SERVICE_SID,
    WEBHOOK_TOKEN,
    document,
    twilio_config,
)

MakeNorq = Callable[..., norq.Norq]
HEX = "0123456789abcdefABCDEF"


@pytest.fixture
def no_request() -> Iterator[respx.Route]:
    """A mocked Messages endpoint that the test asserts was never called."""
    with respx.mock(assert_all_called=False) as router:
        route = router.post(MESSAGES_URL)
        yield route
        assert not route.called


def config_errors(make_norq: MakeNorq, **overrides: Any) -> str:
    with pytest.raises(norq.ConfigError) as caught:
        make_norq(document(**overrides))
    text = str(caught.value)
    for secret in SECRETS:
        assert secret not in text
    return text


# -- config -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "path", "expected"),
    [
        ({"account_sid": "AC123"}, "account_sid", "expected 'AC' followed by 32 hex digits"),
        ({"account_sid": "SK" + "a" * 32}, "account_sid", "not a Twilio Account SID"),
        ({"api_key_sid": "AC" + "a" * 32}, "api_key_sid", "expected 'SK'"),
        ({"from": "555-1234"}, "from", "not a sender Twilio accepts"),
        ({"from": "TwelveChars1"}, "from", "alphanumeric sender ID"),
        ({"from": "12345678901"}, "from", "not a sender Twilio accepts"),
        ({"status_callback": "ftp://hooks.example.com"}, "status_callback", "not an http(s) URL"),
        ({"status_callback": "https://my_hooks.example.com/t"}, "status_callback", "'_'"),
        ({"status_callback": "hooks.example.com/t"}, "status_callback", "not an http(s) URL"),
        ({"max_price": "0"}, "max_price", "must be a positive amount"),
        ({"max_price": "-1.5"}, "max_price", "must be a positive amount"),
        ({"max_price": "0.00001"}, "max_price", "more than 4 decimal places"),
        ({"max_price": "cheap"}, "max_price", "not a decimal number"),
        ({"max_price": "NaN"}, "max_price", "must be a positive amount"),
        ({"validity_period": 0}, "validity_period", "greater than or equal to 1"),
        ({"validity_period": 14401}, "validity_period", "less than or equal to 14400"),
        ({"validity_period": True}, "validity_period", "expected an integer, got true/false"),
        ({"base_url": "api.twilio.com"}, "base_url", "not an http(s) URL"),
        ({"base_url": "https://api.example.com?x=1"}, "base_url", "query or fragment"),
        ({"edge": "Dublin!"}, "edge", "not a Twilio edge or region name"),
        ({"messaging_service_sid": "MG1"}, "messaging_service_sid", "expected 'MG'"),
        ({"webhook_auth_token": " "}, "webhook_auth_token", "is empty"),
        ({"colour": "blue"}, "colour", "unknown key; allowed keys: account_sid"),
    ],
)
def test_bad_config_values_name_their_key(
    make_norq: MakeNorq, overrides: dict[str, Any], path: str, expected: str
) -> None:
    text = config_errors(make_norq, **overrides)
    assert f"providers.twilio.config.{path}: " in text
    assert expected in text


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"from": None}, "set one of from and messaging_service_sid; neither is set"),
        ({"messaging_service_sid": SERVICE_SID}, "only one of from and messaging_service_sid"),
        ({"api_key_secret": None}, "api_key_sid and api_key_secret go together"),
        ({"api_key_sid": None}, "api_key_sid and api_key_secret go together"),
        ({"auth_token": AUTH_TOKEN}, "api_key_sid + api_key_secret or auth_token, not both"),
        ({"api_key_sid": None, "api_key_secret": None}, "no credentials"),
        ({"base_url": "https://a.example.com", "edge": "dublin"}, "base_url and edge/region"),
        ({"region": "ie1"}, "region needs an edge"),
    ],
)
def test_rules_across_keys_name_both_keys(
    make_norq: MakeNorq, overrides: dict[str, Any], expected: str
) -> None:
    text = config_errors(make_norq, **overrides)
    assert "providers.twilio.config: " in text
    assert expected in text


def test_webhook_auth_token_is_refused_next_to_auth_token(make_norq: MakeNorq) -> None:
    text = config_errors(
        make_norq,
        api_key_sid=None,
        api_key_secret=None,
        auth_token=AUTH_TOKEN,
        webhook_auth_token=WEBHOOK_TOKEN,
    )
    assert "webhook_auth_token is only for API-key auth" in text


def test_all_config_problems_are_reported_together(make_norq: MakeNorq) -> None:
    text = config_errors(make_norq, account_sid="AC1", validity_period=99999, max_price="x")
    assert text.count("providers.twilio.config.") == 3


@pytest.mark.parametrize(
    "sender", ["+15005550006", "+442071838750", "12345", "898211", "Norq", "ACME Alerts", "N0RQ"]
)
def test_accepted_senders(sender: str) -> None:
    assert TwilioConfig.model_validate(twilio_config(**{"from": sender})).from_ == sender


@pytest.mark.parametrize(
    ("written", "sender"), [(447700900000, "+447700900000"), (898211, "898211")]
)
def test_an_unquoted_yaml_number_is_a_sender(written: int, sender: str) -> None:
    # YAML reads `from: +447700900000` as the number 447700900000.
    assert TwilioConfig.model_validate(twilio_config(**{"from": written})).from_ == sender


@pytest.mark.parametrize(
    "mode",
    [
        {"api_key_secret": [API_KEY_SECRET]},
        {"api_key_secret": {"value": API_KEY_SECRET}},
        {"api_key_sid": None, "api_key_secret": None, "auth_token": [AUTH_TOKEN]},
        {"api_key_sid": None, "api_key_secret": None, "auth_token": {"t": AUTH_TOKEN}},
        {"api_key_sid": API_KEY_SECRET},  # a secret pasted into the wrong key
        {"validity_period": AUTH_TOKEN},
    ],
)
def test_a_secret_of_the_wrong_type_is_never_echoed(
    make_norq: MakeNorq, mode: dict[str, Any]
) -> None:
    # config_errors checks no secret appears in the message; so for the pydantic error.
    text = config_errors(make_norq, **mode)
    assert "providers.twilio.config." in text
    with pytest.raises(ValidationError) as caught:
        TwilioConfig.model_validate(twilio_config(**mode))
    for secret in SECRETS:
        assert secret not in str(caught.value)


def test_max_price_keeps_its_written_precision() -> None:
    config = TwilioConfig.model_validate(twilio_config(max_price=0.05))
    assert config.max_price == Decimal("0.05")


def test_validation_errors_do_not_echo_the_input() -> None:
    with pytest.raises(ValidationError) as caught:
        TwilioConfig.model_validate(twilio_config(**{"from": None}))
    for secret in SECRETS:
        assert secret not in str(caught.value)


@given(st.text(alphabet=HEX, min_size=32, max_size=32))
def test_any_32_hex_digits_make_an_account_sid(digits: str) -> None:
    sid = "AC" + digits
    assert TwilioConfig.model_validate(twilio_config(account_sid=sid)).account_sid == sid


@given(st.text(max_size=40).filter(lambda s: not (s.startswith("AC") and len(s) == 34)))
def test_anything_else_is_not_an_account_sid(value: str) -> None:
    with pytest.raises(ValidationError):
        TwilioConfig.model_validate(twilio_config(account_sid=value))


@given(st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("1000"), places=4))
def test_positive_prices_with_four_places_are_accepted(price: Decimal) -> None:
    config = TwilioConfig.model_validate(twilio_config(max_price=str(price)))
    assert config.max_price == price


@given(st.integers())
def test_validity_period_is_one_to_14400(seconds: int) -> None:
    try:
        config = TwilioConfig.model_validate(twilio_config(validity_period=seconds))
    except ValidationError:
        assert not 1 <= seconds <= 14400
    else:
        assert config.validity_period == seconds
        assert 1 <= seconds <= 14400


# -- messages -------------------------------------------------------------------


def message_error(app: norq.Norq, to: str = RECIPIENT, **kwargs: Any) -> norq.MessageError:
    kwargs.setdefault("body", "hi")
    with pytest.raises(norq.MessageError) as caught:
        app.notify("sms", to, **kwargs)
    return caught.value


@pytest.mark.parametrize("to", ["5558675310", "+1 555 867 5310", "+0123456789", "tel:+155586"])
def test_recipient_must_be_e164(make_norq: MakeNorq, no_request: respx.Route, to: str) -> None:
    error = message_error(make_norq(), to=to)
    assert error.code == "invalid_recipient"
    assert "E.164" in str(error)


def test_body_over_1600_characters_is_too_long(
    make_norq: MakeNorq, no_request: respx.Route
) -> None:
    error = message_error(make_norq(), body="x" * 1601)
    assert error.code == "message_too_long"
    assert "1601 characters" in str(error)


def test_body_of_exactly_1600_characters_is_accepted(make_norq: MakeNorq) -> None:
    make_norq().prepare("sms", RECIPIENT, body="👋" * 1600)


@pytest.mark.parametrize(
    ("media_urls", "expected"),
    [
        ("https://a.io/x.png", "must be a list of URLs"),
        ([f"https://a.io/{n}.png" for n in range(11)], "at most 10"),
        (["ftp://a.io/x.png"], "not an http(s) URL"),
        (["/relative.png"], "not an http(s) URL"),
        ([42], "must hold URL strings"),
    ],
)
def test_bad_media_urls(
    make_norq: MakeNorq, no_request: respx.Route, media_urls: Any, expected: str
) -> None:
    error = message_error(make_norq(), media_urls=media_urls)
    assert error.code == "invalid_message"
    assert expected in str(error)


def test_send_at_needs_a_messaging_service(make_norq: MakeNorq, no_request: respx.Route) -> None:
    when = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    assert "needs a messaging service" in str(message_error(make_norq(), send_at=when))


@pytest.mark.parametrize(
    ("send_at", "expected"),
    [(dt.datetime(2030, 1, 1, 9), "has no timezone"), ("2030-01-01T09:00Z", "must be a datetime")],
)
def test_send_at_must_be_an_aware_datetime(
    make_norq: MakeNorq, no_request: respx.Route, send_at: Any, expected: str
) -> None:
    app = make_norq(document(**{"from": None, "messaging_service_sid": SERVICE_SID}))
    assert expected in str(message_error(app, send_at=send_at))


@pytest.mark.parametrize("flag", ["smart_encoded", "provide_feedback"])
@pytest.mark.parametrize("value", ["yes", 1, None])
def test_switches_must_be_a_bool(
    make_norq: MakeNorq, no_request: respx.Route, flag: str, value: Any
) -> None:
    error = message_error(make_norq(), **{flag: value})
    assert f"{flag} must be True or False" in str(error)
    assert error.code == "invalid_message"


def test_unknown_options_are_rejected(make_norq: MakeNorq, no_request: respx.Route) -> None:
    error = message_error(make_norq(), subject="hello")
    assert "media_urls, provide_feedback, send_at, smart_encoded" in str(error)


def test_empty_body_is_rejected(make_norq: MakeNorq, no_request: respx.Route) -> None:
    message_error(make_norq(), body="")


def test_bulk_send_turns_a_bad_recipient_into_a_failed_receipt(
    make_norq: MakeNorq, no_request: respx.Route
) -> None:
    receipts = list(make_norq().notify_many("sms", ["555"], body="hi"))
    assert receipts[0].error is not None
    assert (receipts[0].ok, receipts[0].attempts, receipts[0].error.code) == (
        False,
        0,
        "invalid_recipient",
    )


@given(st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True))
def test_any_e164_number_is_a_sender(number: str) -> None:
    assert TwilioConfig.model_validate(twilio_config(**{"from": number})).from_ == number


@given(st.text(max_size=20).map(lambda suffix: f"s3cr3t-{suffix}".strip()))
def test_no_key_repeats_a_rejected_value(value: str) -> None:
    # Whatever key a secret is pasted into, a rejection does not print it.
    for key in field_keys(TwilioConfig):
        wrong: Any = [value] if key == "from" else value
        try:
            TwilioConfig.model_validate(twilio_config(**{key: wrong}))
        except ValidationError as exc:  # some keys take any text: nothing to check then
            assert value not in str(exc)  # noqa: PT017
            assert all(value not in e["msg"] for e in exc.errors())  # noqa: PT017
