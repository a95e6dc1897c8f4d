"""What goes on the wire for Vonage, what is refused before it, and the dry-run facts."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import respx
from norq_vonage import encoding

import norq
from tests_vonage.conftest import (
    API_KEY,
    API_SECRET,
    BASE_URL,
    RECIPIENT,
    SENDER,
    SMS_URL,
    MakeNorq,
    answer,
    document,
    sent,
    vonage,
)


def form_of(request: httpx.Request) -> list[tuple[str, str]]:
    return parse_qsl(request.content.decode(), keep_blank_values=True)


@respx.mock
def test_the_request_is_exactly_the_legacy_sms_api(make_norq: MakeNorq) -> None:
    route = respx.post(SMS_URL).mock(return_value=httpx.Response(200, json=answer(sent())))
    receipt = make_norq().notify("sms", RECIPIENT, body="Your code is 1234")
    assert receipt.ok
    assert receipt.message_id == "0C000000217B7F02"
    assert receipt.provider == "vonage"
    request = route.calls.last.request
    assert request.method == "POST"
    assert str(request.url) == SMS_URL
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    # HTTP Basic, as Vonage's v4 SDK sends them: never in the form.
    token = base64.b64encode(f"{API_KEY}:{API_SECRET}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {token}"
    assert form_of(request) == [
        ("from", SENDER),
        ("to", RECIPIENT[1:]),
        ("text", "Your code is 1234"),
        ("type", "text"),
    ]


@respx.mock
def test_per_message_options_are_sent_under_vonages_names(make_norq: MakeNorq) -> None:
    route = respx.post(SMS_URL).mock(return_value=httpx.Response(200, json=answer(sent())))
    make_norq().notify(
        "sms",
        RECIPIENT,
        body="Grüße ✓",
        type="unicode",
        client_ref="order-42",
        callback="https://hooks.example.com/dlr",
    )
    form = form_of(route.calls.last.request)
    assert form[-4:] == [
        ("text", "Grüße ✓"),
        ("type", "unicode"),
        ("client-ref", "order-42"),
        ("callback", "https://hooks.example.com/dlr"),
    ]


@respx.mock
def test_the_configured_callback_applies_unless_the_message_has_its_own(
    make_norq: MakeNorq,
) -> None:
    route = respx.post(SMS_URL).mock(return_value=httpx.Response(200, json=answer(sent())))
    app = make_norq(document(vonage=vonage(callback="https://hooks.example.com/default")))
    app.notify("sms", RECIPIENT, body="a")
    app.notify("sms", RECIPIENT, body="b", callback="https://hooks.example.com/mine")
    callbacks = [dict(form_of(call.request))["callback"] for call in route.calls]
    assert callbacks == ["https://hooks.example.com/default", "https://hooks.example.com/mine"]


def test_text_outside_gsm_goes_as_unicode_unless_the_type_says_text(make_norq: MakeNorq) -> None:
    app = make_norq()
    prepared = app.prepare("sms", RECIPIENT, body="Ready ✓")
    assert isinstance(prepared.request, norq.PreparedRequest)
    assert ("type", "unicode") in (prepared.request.form or ())
    with pytest.raises(norq.MessageError, match=r"type 'text' cannot carry ✓"):
        app.prepare("sms", RECIPIENT, body="Ready ✓", type="text")


def test_a_numeric_sender_is_sent_without_its_plus(make_norq: MakeNorq) -> None:
    app = make_norq(document(vonage=vonage(**{"from": "+447700900000"})))
    request = app.prepare("sms", RECIPIENT, body="hi").request
    assert isinstance(request, norq.PreparedRequest)
    assert ("from", "447700900000") in (request.form or ())


def test_prepare_send_is_pure(make_norq: MakeNorq) -> None:
    app = make_norq()
    first = app.prepare("sms", RECIPIENT, body="hi", client_ref="x").request
    second = app.prepare("sms", RECIPIENT, body="hi", client_ref="x").request
    assert first == second


@pytest.mark.parametrize(
    ("fields", "complaint"),
    [
        ({"type": "binary"}, "type must be 'text' or 'unicode'"),
        ({"client_ref": "x" * 101}, "client_ref must be text of 1 to 100"),
        ({"client_ref": 42}, "client_ref must be text"),
        ({"callback": "ftp://example.com/dlr"}, "callback is not an http"),
        ({"callback": 7}, "callback is not an http"),
        ({"priority": "high"}, "priority"),
        ({"ttl": 19_999}, "ttl must be a whole number of milliseconds from 20000"),
        ({"ttl": 604_800_001}, "ttl must be a whole number of milliseconds from 20000"),
        ({"ttl": "1h"}, "ttl must be a whole number of milliseconds"),
        ({"ttl": True}, "ttl must be a whole number of milliseconds"),
        ({"entity_id": ""}, "entity_id must be the DLT id"),
        ({"entity_id": 1101456789012345678}, "entity_id must be the DLT id"),
        ({"content_id": "TEMPLATE-1"}, "content_id must be the DLT id"),
    ],
)
def test_bad_options_are_refused_before_any_request(
    make_norq: MakeNorq, fields: dict[str, Any], complaint: str
) -> None:
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(SMS_URL)
        with pytest.raises(norq.MessageError, match=complaint):
            make_norq().notify("sms", RECIPIENT, body="hi", **fields)
        assert not route.called


def test_dry_run_facts_name_the_type_and_parts(make_norq: MakeNorq) -> None:
    app = make_norq()
    assert app.prepare("sms", RECIPIENT, body="x" * 161).notes == {"type": "text", "parts": "2"}
    assert app.prepare("sms", RECIPIENT, body="✓" * 70).notes == {"type": "unicode", "parts": "1"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a" * 160, ("text", 160, 1)),
        ("a" * 161, ("text", 161, 2)),
        ("€" * 80, ("text", 160, 1)),
        ("{" * 81, ("text", 162, 2)),
        ("ü" * 160, ("text", 160, 1)),
        ("✓" * 70, ("unicode", 70, 1)),
        ("✓" * 71, ("unicode", 71, 2)),
        ("😀" * 35, ("unicode", 70, 1)),
    ],
)
def test_encoding_counts_gsm_septets_and_utf16_units(
    text: str, expected: tuple[str, int, int]
) -> None:
    assert tuple(encoding(text)) == expected


def test_base_url_reaches_other_hosts(make_norq: MakeNorq) -> None:
    app = make_norq(document(vonage=vonage(base_url="http://127.0.0.1:8765/")))
    request = app.prepare("sms", RECIPIENT, body="hi").request
    assert isinstance(request, norq.PreparedRequest)
    assert request.url == "http://127.0.0.1:8765/sms/json"
    assert BASE_URL not in request.url


ENTITY = "1101456789012345678"
TEMPLATE = "1107161234567890123"


@respx.mock
def test_ttl_and_indias_dlt_ids_are_sent_under_vonages_names(make_norq: MakeNorq) -> None:
    route = respx.post(SMS_URL).mock(return_value=httpx.Response(200, json=answer(sent())))
    make_norq().notify(
        "sms",
        RECIPIENT,
        body="Your OTP is 1234",
        ttl=900_000,
        entity_id=ENTITY,
        content_id=TEMPLATE,
    )
    form = form_of(route.calls.last.request)
    assert form[-3:] == [("ttl", "900000"), ("entity-id", ENTITY), ("content-id", TEMPLATE)]


@respx.mock
def test_the_configured_entity_id_applies_unless_the_message_has_its_own(
    make_norq: MakeNorq,
) -> None:
    route = respx.post(SMS_URL).mock(return_value=httpx.Response(200, json=answer(sent())))
    app = make_norq(document(vonage=vonage(entity_id=ENTITY)))
    app.notify("sms", RECIPIENT, body="a", content_id=TEMPLATE)
    app.notify("sms", RECIPIENT, body="b", entity_id="1101000000000000001")
    entities = [dict(form_of(call.request)).get("entity-id") for call in route.calls]
    assert entities == [ENTITY, "1101000000000000001"]


def test_a_configured_entity_id_must_be_a_dlt_id(make_norq: MakeNorq) -> None:
    with pytest.raises(norq.ConfigError, match="entity_id: must be the DLT id"):
        make_norq(document(vonage=vonage(entity_id="ACME")))
