"""Sending through Twilio: the exact request on the wire, for each auth mode and option."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import httpx
import pytest
import respx

import norq
from norq.plugins import get_plugin_manager, provider_registry
from norq.providers.twilio import TwilioProvider
from tests.twilio.conftest import (
    ACCOUNT_SID,
    API_KEY_SECRET,
    API_KEY_SID,
    AUTH_TOKEN,
    MESSAGE_SID,
    MESSAGES_URL,
    RECIPIENT,
    SENDER,
    SERVICE_SID,
    basic,
    created,
    document,
    form_of,
)

MakeNorq = Callable[..., norq.Norq]


@respx.mock
def test_api_key_send_is_a_form_post_with_basic_key_auth(make_norq: MakeNorq) -> None:
    route = respx.post(MESSAGES_URL).mock(return_value=created())
    receipt = make_norq().notify("sms", RECIPIENT, body="Your code is 428913")

    sent = route.calls.last.request
    assert sent.method == "POST"
    assert str(sent.url) == MESSAGES_URL
    assert sent.headers["content-type"] == "application/x-www-form-urlencoded"
    assert sent.headers["authorization"] == basic(API_KEY_SID, API_KEY_SECRET)
    assert form_of(sent) == [("To", RECIPIENT), ("From", SENDER), ("Body", "Your code is 428913")]
    assert (receipt.ok, receipt.message_id, receipt.provider, receipt.attempts) == (
        True,
        MESSAGE_SID,
        "twilio",
        1,
    )


@respx.mock
def test_auth_token_send_uses_account_sid_as_username(make_norq: MakeNorq) -> None:
    route = respx.post(MESSAGES_URL).mock(return_value=created())
    app = make_norq(document(api_key_sid=None, api_key_secret=None, auth_token=AUTH_TOKEN))
    app.notify("sms", RECIPIENT, body="hi")
    assert route.calls.last.request.headers["authorization"] == basic(ACCOUNT_SID, AUTH_TOKEN)


@respx.mock
def test_account_wide_options_follow_the_body(make_norq: MakeNorq) -> None:
    route = respx.post(MESSAGES_URL).mock(return_value=created())
    app = make_norq(
        document(
            status_callback="https://hooks.example.com/twilio/status",
            max_price="0.0500",
            validity_period=3600,
        )
    )
    app.notify("sms", RECIPIENT, body="hi")
    assert form_of(route.calls.last.request) == [
        ("To", RECIPIENT),
        ("From", SENDER),
        ("Body", "hi"),
        ("StatusCallback", "https://hooks.example.com/twilio/status"),
        ("MaxPrice", "0.0500"),
        ("ValidityPeriod", "3600"),
    ]


@respx.mock
def test_messaging_service_replaces_from(make_norq: MakeNorq) -> None:
    route = respx.post(MESSAGES_URL).mock(return_value=created())
    make_norq(document(**{"from": None, "messaging_service_sid": SERVICE_SID})).notify(
        "sms", RECIPIENT, body="hi"
    )
    assert form_of(route.calls.last.request) == [
        ("To", RECIPIENT),
        ("MessagingServiceSid", SERVICE_SID),
        ("Body", "hi"),
    ]


@respx.mock
def test_media_urls_repeat_the_media_url_key(make_norq: MakeNorq) -> None:
    route = respx.post(MESSAGES_URL).mock(return_value=created())
    urls = ["https://cdn.example.com/a.png", "https://cdn.example.com/b.jpg?size=2"]
    make_norq().notify("sms", RECIPIENT, body="pics", media_urls=urls)
    assert form_of(route.calls.last.request)[3:] == [("MediaUrl", urls[0]), ("MediaUrl", urls[1])]


@respx.mock
def test_send_at_is_sent_in_utc_with_a_fixed_schedule(make_norq: MakeNorq) -> None:
    route = respx.post(MESSAGES_URL).mock(return_value=created(status="scheduled"))
    paris = dt.timezone(dt.timedelta(hours=2))
    app = make_norq(document(**{"from": None, "messaging_service_sid": SERVICE_SID}))
    app.notify(
        "sms", RECIPIENT, body="later", send_at=dt.datetime(2030, 6, 1, 11, 30, tzinfo=paris)
    )
    assert form_of(route.calls.last.request)[3:] == [
        ("SendAt", "2030-06-01T09:30:00Z"),
        ("ScheduleType", "fixed"),
    ]


@respx.mock
@pytest.mark.parametrize(("flag", "wire"), [(True, "true"), (False, "false")])
def test_smart_encoded_is_a_boolean_field(make_norq: MakeNorq, flag: bool, wire: str) -> None:
    route = respx.post(MESSAGES_URL).mock(return_value=created())
    make_norq().notify("sms", RECIPIENT, body="“quoted”", smart_encoded=flag)
    assert form_of(route.calls.last.request)[3:] == [("SmartEncoded", wire)]


@respx.mock
@pytest.mark.parametrize(("flag", "wire"), [(True, "true"), (False, "false")])
def test_provide_feedback_is_sent_as_provide_feedback(
    make_norq: MakeNorq, flag: bool, wire: str
) -> None:
    # Twilio's ProvideFeedback: true when the message has a trackable user action
    # whose delivery will be confirmed through the Message Feedback API.
    route = respx.post(MESSAGES_URL).mock(return_value=created())
    make_norq().notify("sms", RECIPIENT, body="Your code is 123456", provide_feedback=flag)
    assert form_of(route.calls.last.request)[3:] == [("ProvideFeedback", wire)]


@respx.mock
def test_provide_feedback_is_absent_unless_asked_for(make_norq: MakeNorq) -> None:
    route = respx.post(MESSAGES_URL).mock(return_value=created())
    make_norq().notify("sms", RECIPIENT, body="hello")
    assert "ProvideFeedback" not in dict(form_of(route.calls.last.request))


@respx.mock
def test_unicode_body_is_utf8_percent_encoded(make_norq: MakeNorq) -> None:
    route = respx.post(MESSAGES_URL).mock(return_value=created())
    make_norq().notify("sms", RECIPIENT, body="Grüße & 👋 = ok?")
    assert ("Body", "Grüße & 👋 = ok?") in form_of(route.calls.last.request)


@respx.mock
def test_200_is_success_too(make_norq: MakeNorq) -> None:
    respx.post(MESSAGES_URL).mock(return_value=httpx.Response(200, json={"sid": MESSAGE_SID}))
    assert make_norq().notify("sms", RECIPIENT, body="hi").message_id == MESSAGE_SID


@respx.mock
def test_base_url_reaches_a_local_sandbox(make_norq: MakeNorq) -> None:
    url = f"http://127.0.0.1:8765/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    route = respx.post(url).mock(return_value=created())
    make_norq(document(base_url="http://127.0.0.1:8765/")).notify("sms", RECIPIENT, body="hi")
    assert route.called


@respx.mock
@pytest.mark.parametrize(
    ("edge", "region", "host"),
    [
        ("dublin", "ie1", "api.dublin.ie1.twilio.com"),
        ("sydney", "au1", "api.sydney.au1.twilio.com"),
        ("ashburn", None, "api.ashburn.us1.twilio.com"),
    ],
)
def test_edge_and_region_choose_the_host(
    make_norq: MakeNorq, edge: str, region: str | None, host: str
) -> None:
    route = respx.post(f"https://{host}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json").mock(
        return_value=created()
    )
    make_norq(document(edge=edge, region=region)).notify("sms", RECIPIENT, body="hi")
    assert route.called


@respx.mock
async def test_async_send_builds_the_same_request(make_norq: MakeNorq) -> None:
    route = respx.post(MESSAGES_URL).mock(return_value=created())
    receipt = await make_norq().anotify("sms", RECIPIENT, body="hi", media_urls=["https://a.io/x"])
    assert receipt.message_id == MESSAGE_SID
    assert form_of(route.calls.last.request)[-1] == ("MediaUrl", "https://a.io/x")


@respx.mock
def test_429_then_201_is_retried_with_the_default_policy(make_norq: MakeNorq) -> None:
    route = respx.post(MESSAGES_URL).mock(
        side_effect=[
            httpx.Response(429, json={"code": 20429, "message": "Too Many Requests"}),
            httpx.Response(503, text="unavailable"),
            created(),
        ]
    )
    receipt = make_norq().notify("sms", RECIPIENT, body="hi")
    assert (receipt.ok, receipt.attempts, route.call_count) == (True, 3, 3)


def test_default_retry_is_seed_000s() -> None:
    policy = norq.RetryPolicy()
    assert TwilioProvider.default_retry == policy
    assert (policy.max_retries, policy.backoff) == (2, 0.5)
    assert policy.retry_statuses == frozenset({429, *range(500, 600)})


def test_prepare_send_is_pure_and_shares_the_constant_parts(make_norq: MakeNorq) -> None:
    provider = make_norq().providers["twilio"]
    message = norq.Message("sms", RECIPIENT, "hi")
    first, second = provider.prepare_send(message), provider.prepare_send(message)
    assert first.form == second.form
    assert first.auth is second.auth
    assert first.url == second.url == MESSAGES_URL
    assert first.success_statuses == frozenset({200, 201})
    assert first.message_id_path == "$.sid"


def test_dry_run_reports_encoding_segments_and_characters(make_norq: MakeNorq) -> None:
    prepared = make_norq().prepare("sms", RECIPIENT, body="é" * 161)
    assert prepared.notes == {"encoding": "GSM-7", "segments": "2", "characters": "161"}
    unicode = make_norq().prepare("sms", RECIPIENT, body="👋" * 36, media_urls=["https://a.io/x"])
    assert unicode.notes == {
        "encoding": "UCS-2",
        "segments": "2",
        "characters": "36",
        "media": "1",
    }


def test_dry_run_counts_what_smart_encoding_sends(make_norq: MakeNorq) -> None:
    body = "“Hello” — it’s here…"
    assert make_norq().prepare("sms", RECIPIENT, body=body).notes["encoding"] == "UCS-2"
    smart = make_norq().prepare("sms", RECIPIENT, body=body, smart_encoded=True)
    assert smart.notes["encoding"] == "GSM-7"


def test_provider_is_registered_by_the_default_plugins() -> None:
    registry = provider_registry(get_plugin_manager(load_entry_points=False))
    assert registry["twilio"].plugin == "norq.providers.twilio"
    assert registry["twilio"].cls.channels == frozenset({"sms"})


@respx.mock
def test_a_message_status_callback_replaces_the_configured_one(make_norq: MakeNorq) -> None:
    route = respx.post(MESSAGES_URL).mock(return_value=created())
    app = make_norq(document(status_callback="https://hooks.example.com/default"))
    app.notify("sms", RECIPIENT, body="a")
    app.notify("sms", RECIPIENT, body="b", status_callback="https://hooks.example.com/order/42")
    sent = [form_of(call.request) for call in route.calls]
    assert [dict(form)["StatusCallback"] for form in sent] == [
        "https://hooks.example.com/default",
        "https://hooks.example.com/order/42",
    ]
    assert [name for name, _ in sent[1]].count("StatusCallback") == 1


@respx.mock
def test_a_message_status_callback_needs_none_configured(make_norq: MakeNorq) -> None:
    route = respx.post(MESSAGES_URL).mock(return_value=created())
    make_norq().notify("sms", RECIPIENT, body="a", status_callback="https://hooks.example.com/s")
    assert ("StatusCallback", "https://hooks.example.com/s") in form_of(route.calls.last.request)


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("ftp://hooks.example.com/s", "status_callback is not an http"),
        ("https://my_hooks.example.com/s", "Twilio rejects hostnames containing '_'"),
        (42, "status_callback must be an http"),
    ],
)
def test_a_bad_message_status_callback_is_refused_before_sending(
    make_norq: MakeNorq, url: object, complaint: str
) -> None:
    with pytest.raises(norq.MessageError, match=complaint):
        make_norq().prepare("sms", RECIPIENT, body="a", status_callback=url)
