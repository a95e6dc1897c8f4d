"""Bad input is refused with a specific MessageError before any request goes out."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import respx

import norq
from norq.message import check_body
from tests.conftest import acme_config

MakeNorq = Callable[..., norq.Norq]
TO = "+15551234567"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (5, "body= must be a string, got int 5"),
        (b"hi", "body= must be a string, got bytes"),
        (["hi"], "body= must be a string, got list"),
        ("   ", "body= is only whitespace"),
        ("\n\t \r\n", "body= is only whitespace"),
        ("hi\x00there", "control character U+0000 at position 2"),
        ("bell\x07", "control character U+0007 at position 4"),
        ("esc \x1b[31mred", "control character U+001B at position 4"),
        ("del\x7f", "control character U+007F"),
        ("c1\x85", "control character U+0085"),
    ],
)
@respx.mock
def test_a_bad_body_is_refused_before_sending(make_norq: MakeNorq, body: Any, problem: str) -> None:
    with pytest.raises(norq.MessageError, match=re.escape(problem)) as caught:
        make_norq().notify("sms", TO, body=body)
    assert caught.value.code == "invalid_message"
    assert not respx.calls


@pytest.mark.parametrize("body", [5, "  ", "nul\x00"])
@respx.mock
async def test_a_bad_body_is_refused_before_sending_async(make_norq: MakeNorq, body: Any) -> None:
    with pytest.raises(norq.MessageError):
        await make_norq().anotify("sms", TO, body=body)
    with pytest.raises(norq.MessageError):
        make_norq().anotify_many("sms", [TO], body=body)
    with pytest.raises(norq.MessageError):
        make_norq().notify_many("sms", [TO], body=body)
    assert not respx.calls


@pytest.mark.parametrize(
    "body", ["Hello", "Two\nlines\r\nand a\ttab", "Ünïcödé 👋 — “quotes”", "  padded  "]
)
def test_ordinary_text_is_accepted(body: str) -> None:
    assert check_body(body) == body


@respx.mock
def test_a_template_that_renders_a_blank_body_fails_that_recipient_only(
    make_norq: MakeNorq,
) -> None:
    document = acme_config(templates={"hello": {"sms": {"body": "{{ greeting }}"}}})
    app = make_norq(document)
    respx.post("https://api.acme.test/v1/messages").respond(201, json={"data": {"id": "m1"}})
    receipts = list(
        app.notify_many(
            "sms",
            [
                norq.Recipient(TO, data={"greeting": "   "}),
                norq.Recipient("+15551234568", data={"greeting": "Hi"}),
                norq.Recipient("+15551234569", data={"greeting": "a\x00b"}),
            ],
            template="hello",
        )
    )
    assert [r.ok for r in receipts] == [False, True, False]
    assert [r.attempts for r in receipts] == [0, 1, 0]
    assert receipts[0].error is not None
    assert "template 'hello' rendered a body that is only whitespace" in receipts[0].error.message
    assert receipts[2].error is not None
    assert "U+0000" in receipts[2].error.message
    assert len(respx.calls) == 1
