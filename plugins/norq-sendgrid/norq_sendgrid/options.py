"""Per-message options for SendGrid: checked before any request, then turned into JSON.

``check_options`` raises :class:`norq.MessageError` naming the option and how
to fix it; ``mail_parts`` builds the Mail Send fields from options that passed.
Sizes are checked up front because SendGrid refuses a message over its limit
only after the whole upload.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import norq
from norq_sendgrid.addresses import check_address

#: SendGrid refuses a message whose total size, attachments included, exceeds 30 MB.
MAX_MESSAGE_BYTES = 30_000_000
#: Recipients (to + cc + bcc) of one personalization.
MAX_RECIPIENTS = 1000
MAX_CATEGORIES = 10
MAX_CATEGORY_LENGTH = 255
DISPOSITIONS = ("attachment", "inline")
# A dynamic template's id, as SendGrid shows it under Email API > Dynamic Templates.
DYNAMIC_TEMPLATE_ID = re.compile(r"d-[0-9a-f]{32}")
ATTACHMENT_KEYS = frozenset({"filename", "content", "type", "disposition", "content_id"})


def _fail(text: str, code: str = "invalid_message") -> norq.MessageError:
    return norq.MessageError(text, code=code)


def address_list(value: Any, option: str) -> list[str]:
    """``cc``/``bcc`` as a list: one address or a list of them."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, Sequence) or not value:
        raise _fail(f"{option} must be an address or a non-empty list of addresses, got {value!r}")
    for item in value:
        try:
            check_address(item, option, show=True)
        except ValueError as exc:
            raise _fail(str(exc), "invalid_recipient") from None
    return list(value)


def categories(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, Sequence) or not all(isinstance(c, str) and c for c in value):
        raise _fail(f"categories must be a list of non-empty strings, got {value!r}")
    if len(value) > MAX_CATEGORIES:
        raise _fail(f"categories has {len(value)} entries; SendGrid accepts at most 10")
    for category in value:
        if len(category) > MAX_CATEGORY_LENGTH:
            raise _fail(f"category {category[:20]!r}... is longer than 255 characters")
    return list(value)


def custom_args(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise _fail(
            f"custom_args must map text to text (SendGrid refuses other values), got {value!r}; "
            'convert numbers first, e.g. {"order": str(order_id)}'
        )
    return dict(value)


def template_id(value: Any) -> str:
    if isinstance(value, str) and DYNAMIC_TEMPLATE_ID.fullmatch(value):
        return value
    raise _fail(
        "template_id must be a dynamic template's id, d- and 32 hex digits "
        f"(d-4ad23ad40a0e47d0a0232b85f24ca5c2, under Email API > Dynamic Templates), got {value!r}"
    )


def template_data(value: Any) -> dict[str, Any]:
    """``dynamic_template_data``: a mapping the template's handlebars read, JSON all through."""
    if not isinstance(value, Mapping):
        raise _fail(
            f"dynamic_template_data must be a mapping of the template's variables, got {value!r}"
        )
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise _fail(f"dynamic_template_data is not JSON: {exc}") from None
    return dict(value)


def attachment_content(item: Mapping[str, Any], index: int) -> str:
    """The attachment's content as base64: bytes are encoded, text must already be base64."""
    content = item.get("content")
    if isinstance(content, bytes | bytearray):
        return base64.b64encode(content).decode("ascii")
    if isinstance(content, str):
        try:
            base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            raise _fail(
                f"attachments[{index}].content is text but not base64: pass the file's bytes "
                "(Path(...).read_bytes()) or their base64 encoding"
            ) from None
        return content
    raise _fail(
        f"attachments[{index}].content must be bytes or base64 text, got {type(content).__name__}"
    )


def _encoded_size(item: Mapping[str, Any]) -> int:
    content = item["content"]
    if isinstance(content, str):
        return len(content)
    return 4 * -(-len(content) // 3)


def check_attachments(value: Any) -> int:
    """Check every attachment; return their total size as sent (base64)."""
    if isinstance(value, Mapping | str | bytes) or not isinstance(value, Sequence):
        raise _fail(
            "attachments must be a list of mappings such as "
            '{"filename": "invoice.pdf", "content": pdf_bytes, "type": "application/pdf"}'
        )
    total = 0
    for index, item in enumerate(value):
        where = f"attachments[{index}]"
        if not isinstance(item, Mapping):
            raise _fail(f"{where} must be a mapping with filename and content, got {item!r}")
        unknown = sorted(set(item) - ATTACHMENT_KEYS)
        if unknown:
            allowed = ", ".join(sorted(ATTACHMENT_KEYS))
            raise _fail(f"{where} has unknown key(s) {', '.join(unknown)}; allowed: {allowed}")
        filename = item.get("filename")
        if not isinstance(filename, str) or not filename.strip():
            raise _fail(f"{where}.filename must be a non-empty file name")
        attachment_content(item, index)
        disposition = item.get("disposition", "attachment")
        if disposition not in DISPOSITIONS:
            raise _fail(
                f"{where}.disposition must be 'attachment' or 'inline', got {disposition!r}"
            )
        if disposition == "inline" and not item.get("content_id"):
            raise _fail(f"{where} is inline, so it needs a content_id (cid: in the HTML)")
        for key in ("type", "content_id"):
            if key in item and not isinstance(item[key], str):
                raise _fail(f"{where}.{key} must be text, got {item[key]!r}")
        total += _encoded_size(item)
    return total


def check_options(message: norq.Message) -> None:
    """Raise :class:`norq.MessageError` if SendGrid would refuse these options."""
    fields = message.fields
    dynamic = "template_id" in fields
    size = 0
    if dynamic:
        template_id(fields["template_id"])
        if "dynamic_template_data" in fields:
            size += len(json.dumps(template_data(fields["dynamic_template_data"])))
    elif "dynamic_template_data" in fields:
        raise _fail("dynamic_template_data needs template_id: the dynamic template it fills in")
    subject = fields.get("subject")
    # A dynamic template carries its own subject; one given is sent all the same.
    if not (dynamic and subject is None):
        if not isinstance(subject, str) or not subject.strip():
            raise _fail(
                "SendGrid needs a subject: pass subject=..., use a template with a subject, "
                "or a dynamic template (template_id=...)"
                + ("" if subject is None else f" (got {subject!r})")
            )
        if "\n" in subject or "\r" in subject:
            raise _fail("subject must be one line; remove the line breaks")
    html = fields.get("html")
    if html is not None and not isinstance(html, str):
        raise _fail(f"html must be text, got {type(html).__name__}")
    seen = {message.to.lower(): "to"}
    for option in ("cc", "bcc"):
        if option in fields:
            for address in address_list(fields[option], option):
                previous = seen.get(address.lower())
                if previous is not None:
                    where = (
                        f"twice in {option}"
                        if previous == option
                        else (f"in both {previous} and {option}")
                    )
                    raise _fail(
                        f"{address} appears {where}; SendGrid accepts each address once "
                        "per message",
                        "invalid_recipient",
                    )
                seen[address.lower()] = option
    if len(seen) > MAX_RECIPIENTS:
        raise _fail(f"{len(seen)} recipients; SendGrid accepts at most {MAX_RECIPIENTS}")
    if "reply_to" in fields:
        try:
            check_address(fields["reply_to"], "reply_to", show=True)
        except ValueError as exc:
            raise _fail(str(exc)) from None
    if "categories" in fields:
        categories(fields["categories"])
    if "custom_args" in fields:
        custom_args(fields["custom_args"])
    size += len((subject or "").encode())
    size += len((message.body or "").encode()) + len((html or "").encode())
    if "attachments" in fields:
        size += check_attachments(fields["attachments"])
    if size > MAX_MESSAGE_BYTES:
        raise _fail(
            f"the message is {size / 1e6:.1f} MB with its attachments (base64); SendGrid accepts "
            "at most 30 MB: send large files as links",
            "message_too_long",
        )


def _emails(addresses: list[str]) -> list[dict[str, str]]:
    return [{"email": address} for address in addresses]


def mail_parts(message: norq.Message) -> tuple[dict[str, Any], dict[str, Any]]:
    """The personalization and the top-level Mail Send fields for checked options."""
    fields = message.fields
    personalization: dict[str, Any] = {"to": [{"email": message.to}]}
    for option in ("cc", "bcc"):
        if option in fields:
            personalization[option] = _emails(address_list(fields[option], option))
    mail: dict[str, Any] = {}
    if "subject" in fields:
        mail["subject"] = fields["subject"]
    # A dynamic template supplies the content SendGrid sends; without one, or
    # with a body given all the same, text/plain comes before text/html, or
    # SendGrid refuses the mail.
    content = []
    if message.body is not None or "template_id" not in fields:
        content.append({"type": "text/plain", "value": message.body or ""})
    if fields.get("html") is not None:
        content.append({"type": "text/html", "value": fields["html"]})
    if content:
        mail["content"] = content
    if "template_id" in fields:
        mail["template_id"] = fields["template_id"]
        if "dynamic_template_data" in fields:
            data = template_data(fields["dynamic_template_data"])
            personalization["dynamic_template_data"] = data
    if "reply_to" in fields:
        mail["reply_to"] = {"email": fields["reply_to"]}
    if "attachments" in fields:
        mail["attachments"] = [
            _attachment(item, index) for index, item in enumerate(fields["attachments"])
        ]
    if "categories" in fields:
        mail["categories"] = categories(fields["categories"])
    if "custom_args" in fields:
        mail["custom_args"] = custom_args(fields["custom_args"])
    return personalization, mail


def _attachment(item: Mapping[str, Any], index: int) -> dict[str, str]:
    attachment = {"content": attachment_content(item, index), "filename": item["filename"]}
    for key in ("type", "disposition", "content_id"):
        if item.get(key) is not None:
            attachment[key] = item[key]
    return attachment
