"""What goes on the wire for SendGrid, and what is refused before any request."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
import respx

import norq
from tests_sendgrid.conftest import (
    API_KEY,
    RECIPIENT,
    SEND_URL,
    SENDER,
    MakeNorq,
    document,
    sendgrid,
)

ACCEPTED = httpx.Response(202, headers={"X-Message-Id": "msg-1"})


@respx.mock
def test_the_request_is_exactly_v3_mail_send(make_norq: MakeNorq) -> None:
    route = respx.post(SEND_URL).mock(return_value=ACCEPTED)
    receipt = make_norq().notify("email", RECIPIENT, body="Your order shipped.", subject="Shipped")
    assert (receipt.ok, receipt.message_id, receipt.status_code) == (True, "msg-1", 202)
    request = route.calls.last.request
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {
        "personalizations": [{"to": [{"email": RECIPIENT}]}],
        "from": {"email": SENDER},
        "subject": "Shipped",
        "content": [{"type": "text/plain", "value": "Your order shipped."}],
    }


@respx.mock
def test_every_option_lands_where_sendgrid_expects_it(make_norq: MakeNorq) -> None:
    route = respx.post(SEND_URL).mock(return_value=ACCEPTED)
    pdf = b"%PDF-1.4 fake"
    doc = document(sendgrid=sendgrid(from_name="Shop", sandbox_mode=False))
    make_norq(doc).notify(
        "email",
        RECIPIENT,
        body="text",
        subject="Receipt",
        html="<p>text</p>",
        cc=["bob@example.com"],
        bcc="audit@example.com",
        reply_to="help@example.com",
        categories=["receipt", "shop"],
        custom_args={"order": "42"},
        attachments=[
            {"filename": "r.pdf", "content": pdf, "type": "application/pdf"},
            {
                "filename": "logo.png",
                "content": base64.b64encode(b"png").decode(),
                "disposition": "inline",
                "content_id": "logo",
            },
        ],
    )
    assert json.loads(route.calls.last.request.content) == {
        "personalizations": [
            {
                "to": [{"email": RECIPIENT}],
                "cc": [{"email": "bob@example.com"}],
                "bcc": [{"email": "audit@example.com"}],
            }
        ],
        "from": {"email": SENDER, "name": "Shop"},
        "subject": "Receipt",
        "content": [
            {"type": "text/plain", "value": "text"},
            {"type": "text/html", "value": "<p>text</p>"},
        ],
        "reply_to": {"email": "help@example.com"},
        "attachments": [
            {
                "content": base64.b64encode(pdf).decode(),
                "filename": "r.pdf",
                "type": "application/pdf",
            },
            {
                "content": base64.b64encode(b"png").decode(),
                "filename": "logo.png",
                "disposition": "inline",
                "content_id": "logo",
            },
        ],
        "categories": ["receipt", "shop"],
        "custom_args": {"order": "42"},
    }


@respx.mock
def test_sandbox_mode_asks_sendgrid_to_validate_only(make_norq: MakeNorq) -> None:
    route = respx.post(SEND_URL).mock(return_value=httpx.Response(200))
    app = make_norq(document(sendgrid=sendgrid(sandbox_mode=True)))
    receipt = app.notify("email", RECIPIENT, body="hi", subject="Test")
    assert json.loads(route.calls.last.request.content)["mail_settings"] == {
        "sandbox_mode": {"enable": True}
    }
    # Validated, not delivered: SendGrid gives no id, and the receipt says so.
    assert (receipt.ok, receipt.message_id, receipt.status_code) == (True, None, 200)


@respx.mock
def test_outside_sandbox_mode_a_200_is_not_a_delivery(make_norq: MakeNorq) -> None:
    respx.post(SEND_URL).mock(return_value=httpx.Response(200))
    with pytest.raises(norq.DeliveryError) as caught:
        make_norq().notify("email", RECIPIENT, body="hi", subject="Test")
    assert caught.value.receipt.error is not None
    # Delivered or not, nobody can tell: reported, neither retried nor failed over.
    assert (caught.value.receipt.error.code, caught.value.receipt.error.disposition) == (
        "bad_response",
        "final",
    )


def test_prepare_send_is_pure(make_norq: MakeNorq) -> None:
    app = make_norq()
    options = {"subject": "s", "attachments": [{"filename": "a.txt", "content": b"a"}]}
    first = app.prepare("email", RECIPIENT, body="hi", **options).request
    assert first == app.prepare("email", RECIPIENT, body="hi", **options).request


BIG = b"x" * 22_600_000  # 30.1 MB once base64-encoded


@pytest.mark.parametrize(
    ("fields", "complaint"),
    [
        ({"subject": None}, "SendGrid needs a subject"),
        ({"subject": "  "}, "SendGrid needs a subject"),
        ({"subject": "a\nb"}, "subject must be one line"),
        ({"html": 3}, "html must be text"),
        ({"cc": "not-an-address"}, "cc 'not-an-address' is not an email address"),
        ({"cc": []}, "cc must be an address or a non-empty list"),
        ({"bcc": [RECIPIENT]}, f"{RECIPIENT} appears in both to and bcc"),
        ({"cc": ["b@example.com", "B@example.com"]}, "appears twice in cc"),
        ({"cc": "b@example.com", "bcc": "b@example.com"}, "in both cc and bcc"),
        ({"cc": [f"u{i}@example.com" for i in range(1000)]}, "1001 recipients"),
        ({"reply_to": "nope"}, "reply_to 'nope' is not an email address"),
        ({"categories": [str(i) for i in range(11)]}, "at most 10"),
        ({"categories": ["x" * 256]}, "longer than 255"),
        ({"categories": [1]}, "categories must be a list of non-empty strings"),
        ({"custom_args": {"order": 42}}, "custom_args must map text to text"),
        ({"attachments": {"filename": "a"}}, "attachments must be a list"),
        ({"attachments": [{"content": b"x"}]}, r"attachments\[0\].filename"),
        ({"attachments": [{"filename": "a", "content": "not base64!"}]}, "not base64"),
        ({"attachments": [{"filename": "a", "content": 5}]}, "must be bytes or base64"),
        ({"attachments": [{"filename": "a", "content": b"x", "size": 1}]}, "unknown key"),
        (
            {"attachments": [{"filename": "a", "content": b"x", "disposition": "inline"}]},
            "needs a content_id",
        ),
        (
            {"attachments": [{"filename": "a", "content": b"x", "disposition": "embed"}]},
            "disposition must be",
        ),
        ({"attachments": [{"filename": "big.bin", "content": BIG}]}, "at most 30 MB"),
        ({"template_id": "d-1"}, "template_id"),
    ],
)
def test_bad_messages_are_refused_before_any_request(
    make_norq: MakeNorq, fields: dict[str, Any], complaint: str
) -> None:
    fields = {"subject": "Hello", **fields}
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(SEND_URL)
        with pytest.raises(norq.MessageError, match=complaint):
            make_norq().notify("email", RECIPIENT, body="hi", **fields)
        assert not route.called


def test_a_message_just_under_the_size_limit_is_prepared(make_norq: MakeNorq) -> None:
    content = b"x" * 22_000_000  # 29.3 MB as base64
    prepared = make_norq().prepare(
        "email",
        RECIPIENT,
        body="hi",
        subject="s",
        attachments=[{"filename": "a", "content": content}],
    )
    assert isinstance(prepared.request, norq.PreparedRequest)


TEMPLATE_ID = "d-4ad23ad40a0e47d0a0232b85f24ca5c2"
ORDER = {"name": "Ada", "order": {"id": 42, "total": 99.5, "items": ["book", "pen"]}}


@respx.mock
def test_a_dynamic_template_sends_its_id_and_data_without_content(make_norq: MakeNorq) -> None:
    route = respx.post(SEND_URL).mock(return_value=ACCEPTED)
    receipt = make_norq().notify(
        "email", RECIPIENT, template_id=TEMPLATE_ID, dynamic_template_data=ORDER
    )
    assert receipt.ok
    assert json.loads(route.calls.last.request.content) == {
        "personalizations": [{"to": [{"email": RECIPIENT}], "dynamic_template_data": ORDER}],
        "from": {"email": SENDER},
        "template_id": TEMPLATE_ID,
    }


@respx.mock
def test_a_dynamic_template_keeps_a_subject_and_body_given_with_it(make_norq: MakeNorq) -> None:
    route = respx.post(SEND_URL).mock(return_value=ACCEPTED)
    make_norq().notify("email", RECIPIENT, body="fallback", subject="Hi", template_id=TEMPLATE_ID)
    sent = json.loads(route.calls.last.request.content)
    assert sent["template_id"] == TEMPLATE_ID
    assert sent["subject"] == "Hi"
    assert sent["content"] == [{"type": "text/plain", "value": "fallback"}]
    assert "dynamic_template_data" not in sent["personalizations"][0]


@respx.mock
def test_a_message_with_neither_body_nor_dynamic_template_is_refused_before_sending(
    make_norq: MakeNorq,
) -> None:
    route = respx.post(SEND_URL).mock(return_value=ACCEPTED)
    with pytest.raises(norq.MessageError, match=r"has an empty body: .*or template_id="):
        make_norq().notify("email", RECIPIENT, subject="Hi")
    assert not route.called


@pytest.mark.parametrize(
    ("fields", "complaint"),
    [
        ({"template_id": "welcome"}, "template_id must be a dynamic template's id"),
        ({"template_id": 42}, "template_id must be a dynamic template's id"),
        (
            {"template_id": TEMPLATE_ID, "dynamic_template_data": ["a"]},
            "dynamic_template_data must be a mapping",
        ),
        (
            {"template_id": TEMPLATE_ID, "dynamic_template_data": {"when": object()}},
            "dynamic_template_data is not JSON",
        ),
        ({"subject": "Hi", "dynamic_template_data": ORDER}, "needs template_id"),
    ],
)
def test_bad_dynamic_templates_are_refused_before_any_request(
    make_norq: MakeNorq, fields: dict[str, Any], complaint: str
) -> None:
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(SEND_URL)
        with pytest.raises(norq.MessageError, match=complaint):
            make_norq().notify("email", RECIPIENT, body="x", **fields)
        assert not route.called
