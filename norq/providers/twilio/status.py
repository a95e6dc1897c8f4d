"""Reading Twilio's words: message resources, status callbacks, inbound messages.

Pure functions from Twilio's JSON or form fields to Norq's
:class:`~norq.provider.MessageStatus` and :class:`~norq.provider.InboundMessage`,
shared by the status queries and the webhook app.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from norq.provider import InboundMessage, MessageStatus

# Twilio's message status words -> Norq's normalised statuses.
STATUS_WORDS: Mapping[str, str] = MappingProxyType(
    {
        "queued": "queued",
        "accepted": "queued",
        "scheduled": "scheduled",
        "sending": "sending",
        "sent": "sent",
        "delivered": "delivered",
        "undelivered": "undelivered",
        "failed": "failed",
        "receiving": "received",
        "received": "received",
        "read": "read",
        "canceled": "canceled",
    }
)

MAX_MEDIA = 10


class CallbackError(ValueError):
    """A webhook request lacks a field Twilio always sends."""


def normalise_status(word: str | None) -> str:
    """Norq's status for a Twilio status word; ``unknown`` for a word it does not know."""
    if not word:
        return "unknown"
    return STATUS_WORDS.get(word.strip().lower(), "unknown")


def parse_date(value: Any) -> dt.datetime | None:
    """A Twilio RFC 2822 date (``Wed, 18 Aug 2010 20:01:40 +0000``) as an aware datetime."""
    if not isinstance(value, str) or not value.strip():
        return None
    # Imported on first use: only status queries read dates, and email.utils
    # costs several milliseconds of every command's start-up.
    from email.utils import parsedate_to_datetime

    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        # RFC 2822's "-0000" means UTC with no stated offset.
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def message_status(resource: Mapping[str, Any]) -> MessageStatus:
    """A message resource from ``GET .../Messages/{Sid}.json`` or a listing."""
    sid = resource.get("sid")
    if not isinstance(sid, str) or not sid:
        raise CallbackError("the message resource has no 'sid'")
    word = _text(resource.get("status"))
    return MessageStatus(
        message_id=sid,
        status=normalise_status(word),
        provider_status=word,
        to=_text(resource.get("to")),
        sender=_text(resource.get("from")),
        body=_text(resource.get("body")),
        error_code=_text(resource.get("error_code")),
        error_message=_text(resource.get("error_message")),
        date_created=parse_date(resource.get("date_created")),
        date_sent=parse_date(resource.get("date_sent")),
        date_updated=parse_date(resource.get("date_updated")),
        segments=_integer(resource.get("num_segments")),
        raw=MappingProxyType(dict(resource)),
    )


def callback_status(fields: Mapping[str, str]) -> MessageStatus:
    """A status callback's form fields (``MessageSid``, ``MessageStatus``, ``ErrorCode``...)."""
    sid = fields.get("MessageSid") or fields.get("SmsSid")
    if not sid:
        raise CallbackError("a status callback must carry MessageSid")
    word = fields.get("MessageStatus") or fields.get("SmsStatus")
    if not word:
        raise CallbackError("a status callback must carry MessageStatus")
    return MessageStatus(
        message_id=sid,
        status=normalise_status(word),
        provider_status=word,
        to=fields.get("To") or None,
        sender=fields.get("From") or None,
        body=fields.get("Body") or None,
        error_code=fields.get("ErrorCode") or None,
        error_message=fields.get("ErrorMessage") or None,
        segments=_integer(fields.get("NumSegments")),
        raw=MappingProxyType(dict(fields)),
    )


def inbound_message(fields: Mapping[str, str]) -> InboundMessage:
    """An incoming message's form fields (``From``, ``To``, ``Body``, ``MediaUrl{N}``...)."""
    sid = fields.get("MessageSid") or fields.get("SmsMessageSid") or fields.get("SmsSid")
    if not sid:
        raise CallbackError("an inbound message must carry MessageSid")
    sender, to = fields.get("From"), fields.get("To")
    if not sender or not to:
        raise CallbackError("an inbound message must carry From and To")
    count = min(_integer(fields.get("NumMedia")) or 0, MAX_MEDIA)
    media = tuple(url for n in range(count) if (url := fields.get(f"MediaUrl{n}")))
    return InboundMessage(
        message_id=sid,
        sender=sender,
        to=to,
        body=fields.get("Body", ""),
        media_urls=media,
        raw=MappingProxyType(dict(fields)),
    )


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _integer(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
