"""The attachments option: files in the MIME message, checked before anything is sent."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from norq_smtp import PreparedEmail

import norq

PDF = b"%PDF-1.4 not really a pdf \x00\xff"


def build() -> norq.Norq:
    settings = {"host": "smtp.example.test", "sender": "alerts@example.test"}
    return norq.Norq.from_dict(
        {"providers": {"mail": {"type": "smtp", "config": settings}}, "routing": {"email": "mail"}},
        environ={},
    )


def prepare(**options: Any) -> PreparedEmail:
    request = build().prepare("email", "ada@example.test", body="hi", subject="Hi", **options)
    assert isinstance(request.request, PreparedEmail)
    return request.request


def test_an_attachment_is_a_part_with_its_name_type_and_bytes() -> None:
    invoice = {"filename": "invoice.pdf", "content": PDF, "type": "application/pdf"}
    message = prepare(html="<p>hi</p>", attachments=[invoice]).message

    assert message.get_content_type() == "multipart/mixed"
    [part] = list(message.iter_attachments())
    assert part.get_filename() == "invoice.pdf"
    assert part.get_content_type() == "application/pdf"
    assert part.get_content() == PDF
    body = message.get_body(preferencelist=("html",))
    assert body is not None
    assert body.get_content().strip() == "<p>hi</p>"


def test_base64_text_is_taken_as_the_encoded_file_and_the_type_defaults() -> None:
    encoded = {"filename": "data.bin", "content": base64.b64encode(PDF).decode()}
    [part] = list(prepare(attachments=[encoded]).message.iter_attachments())

    assert part.get_content() == PDF
    assert part.get_content_type() == "application/octet-stream"


def test_an_inline_image_has_its_content_id() -> None:
    logo = {
        "filename": "logo.png",
        "content": b"\x89PNG",
        "type": "image/png",
        "disposition": "inline",
        "content_id": "logo",
    }
    message = prepare(html='<img src="cid:logo">', attachments=[logo]).message

    [part] = [p for p in message.walk() if p.get_filename() == "logo.png"]
    assert part["Content-ID"] == "<logo>"
    assert part.get_content_disposition() == "inline"


def test_showing_an_email_with_attachments_does_not_change_it() -> None:
    prepared = prepare(html="<p>hi</p>", attachments=[{"filename": "a.txt", "content": b"a"}])
    assert prepared.mime_bytes() == prepared.mime_bytes()


@pytest.mark.parametrize(
    ("attachments", "problem"),
    [
        ({"filename": "a", "content": b"x"}, "attachments must be a list"),
        (["invoice.pdf"], "attachments[0] must be a mapping"),
        ([{"content": b"x"}], "attachments[0].filename must be a non-empty file name"),
        ([{"filename": "a\r\nBcc: x", "content": b"x"}], "must be one line"),
        ([{"filename": "a", "content": "not base64!"}], "is text but not base64"),
        ([{"filename": "a", "content": 3}], "must be bytes or base64 text, got int"),
        ([{"filename": "a", "content": b"x", "type": "pdf"}], "must be a MIME type"),
        ([{"filename": "a", "content": b"x", "disposition": "x"}], "'attachment' or 'inline'"),
        ([{"filename": "a", "content": b"x", "disposition": "inline"}], "needs a content_id"),
        ([{"filename": "a", "content": b"x", "size": 1}], "unknown key(s) size"),
    ],
)
def test_attachment_problems_are_refused_before_anything_is_sent(
    attachments: Any, problem: str
) -> None:
    with pytest.raises(norq.MessageError) as caught:
        prepare(attachments=attachments)
    assert problem in str(caught.value)
