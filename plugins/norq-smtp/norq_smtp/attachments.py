"""The ``attachments`` option: files attached to an email, checked before anything is sent.

Each attachment is a mapping, as for the other email providers::

    {"filename": "invoice.pdf", "content": pdf_bytes, "type": "application/pdf"}

``content`` is the file's bytes, or their base64 text; ``type`` is its MIME
type (``application/octet-stream`` when not given); ``disposition`` is
``attachment`` (the default) or ``inline``, and an inline part needs the
``content_id`` that the HTML refers to as ``cid:...``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import norq

KEYS = frozenset({"filename", "content", "type", "disposition", "content_id"})
DISPOSITIONS = ("attachment", "inline")
DEFAULT_TYPE = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content: bytes
    maintype: str
    subtype: str
    disposition: str
    content_id: str | None


def _fail(text: str) -> norq.MessageError:
    return norq.MessageError(text, code="invalid_message")


def check_attachments(value: Any) -> None:
    """Raise :class:`norq.MessageError` naming the first attachment that cannot be sent."""
    attachments(value)


def attachments(value: Any) -> list[Attachment]:
    """The checked attachments of a message (none when ``value`` is ``None``)."""
    if value is None:
        return []
    if isinstance(value, Mapping | str | bytes) or not isinstance(value, Sequence):
        raise _fail(
            "attachments must be a list of mappings such as "
            '{"filename": "invoice.pdf", "content": pdf_bytes, "type": "application/pdf"}'
        )
    return [_attachment(item, f"attachments[{index}]") for index, item in enumerate(value)]


def _attachment(item: Any, where: str) -> Attachment:
    if not isinstance(item, Mapping):
        raise _fail(
            f"{where} must be a mapping with filename and content, got {type(item).__name__}"
        )
    unknown = sorted(set(item) - KEYS)
    if unknown:
        raise _fail(
            f"{where} has unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(KEYS))}"
        )
    filename = item.get("filename")
    if not isinstance(filename, str) or not filename.strip():
        raise _fail(f"{where}.filename must be a non-empty file name")
    if "\r" in filename or "\n" in filename:
        raise _fail(f"{where}.filename must be one line: a line break would start a new header")
    mime_type = item.get("type", DEFAULT_TYPE)
    maintype, _, subtype = mime_type.partition("/") if isinstance(mime_type, str) else ("", "", "")
    if not maintype or not subtype or any(c.isspace() for c in mime_type):
        raise _fail(f"{where}.type must be a MIME type such as application/pdf, got {mime_type!r}")
    disposition = item.get("disposition", "attachment")
    if disposition not in DISPOSITIONS:
        raise _fail(f"{where}.disposition must be 'attachment' or 'inline', got {disposition!r}")
    content_id = item.get("content_id")
    if content_id is not None and (
        not isinstance(content_id, str) or not content_id or any(c in content_id for c in "<>\r\n")
    ):
        raise _fail(
            f"{where}.content_id must be a word such as logo, without <>, got {content_id!r}"
        )
    if disposition == "inline" and content_id is None:
        raise _fail(f"{where} is inline, so it needs a content_id (cid: in the HTML)")
    return Attachment(
        filename=filename,
        content=_content(item.get("content"), where),
        maintype=maintype.lower(),
        subtype=subtype.lower(),
        disposition=disposition,
        content_id=content_id,
    )


def _content(content: Any, where: str) -> bytes:
    if isinstance(content, bytes | bytearray):
        return bytes(content)
    if isinstance(content, str):
        try:
            return base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            raise _fail(
                f"{where}.content is text but not base64: pass the file's bytes "
                "(Path(...).read_bytes()) or their base64 encoding"
            ) from None
    raise _fail(f"{where}.content must be bytes or base64 text, got {type(content).__name__}")
