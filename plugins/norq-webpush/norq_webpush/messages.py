"""What a Web Push message may hold, checked before any request, and its plaintext payload.

A push message is bytes the browser's service worker reads in its ``push``
event. Norq writes one of three:

- ``payload=`` given: exactly that, JSON for a mapping or a list, text for a
  string (nothing else may be given with it);
- ``title``, ``icon``, ``image``, ``badge``, ``tag`` or ``app_data`` given: a
  JSON object with those and ``body``, in the Notification API's names
  (``app_data`` as ``data``), ready for ``showNotification(msg.title, msg)``;
- otherwise the body as text.

``ttl``, ``urgency`` and ``topic`` are RFC 8030's delivery headers. Encrypted,
a payload may be at most 3993 bytes: push services take 4096 bytes of body,
of which the aes128gcm header and tag use 103.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import norq
from norq_webpush.config import URGENCIES

#: 4096 bytes of body, less the 86-byte aes128gcm header, the 16-byte tag and the delimiter.
MAX_PAYLOAD = 4096 - 86 - 16 - 1
NOTIFICATION_OPTIONS = ("title", "icon", "image", "badge", "tag")
# A Topic is at most 32 characters of the base64url alphabet (RFC 8030, section 5.4).
_TOPIC = re.compile(r"[A-Za-z0-9_\-]{1,32}")
MESSAGE_FIELDS = frozenset(
    {*NOTIFICATION_OPTIONS, "app_data", "payload", "ttl", "urgency", "topic"}
)


def check(message: norq.Message) -> None:
    """Options of the shape Web Push takes, and a payload that fits once encrypted."""
    fields = message.fields
    payload = fields.get("payload")
    if payload is not None:
        others = sorted(name for name in (*NOTIFICATION_OPTIONS, "app_data") if name in fields)
        if message.body or others:
            given = ", ".join(["body", *others] if message.body else others)
            raise norq.MessageError(
                f"payload= is the whole push message: give it alone, or {given} without it"
            )
        if not isinstance(payload, str | Mapping | list):
            raise norq.MessageError(
                f"payload must be text, a mapping or a list (sent as JSON), got "
                f"{type(payload).__name__}"
            )
    elif not (message.body or fields.get("title") or fields.get("app_data")):
        raise norq.MessageError(
            "a push needs a body, a title, app_data= or payload=: give what the service worker "
            "reads",
            code="invalid_message",
        )
    for name in NOTIFICATION_OPTIONS:
        value = fields.get(name)
        if value is not None and not isinstance(value, str):
            raise norq.MessageError(f"{name} must be text, got {type(value).__name__}")
    data = fields.get("app_data")
    if data is not None and not isinstance(data, Mapping):
        raise norq.MessageError("app_data must be a mapping (the notification's data)")
    ttl = fields.get("ttl")
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 0):
        raise norq.MessageError(f"ttl must be whole seconds, 0 or more, got {ttl!r}")
    urgency = fields.get("urgency")
    if urgency is not None and urgency not in URGENCIES:
        raise norq.MessageError(f"urgency must be one of {', '.join(URGENCIES)}, got {urgency!r}")
    topic = fields.get("topic")
    if topic is not None and not (isinstance(topic, str) and _TOPIC.fullmatch(topic)):
        raise norq.MessageError(
            "topic must be 1 to 32 letters, digits, - or _ (it replaces an undelivered message "
            "with the same topic)"
        )
    try:
        size = len(payload_bytes(message))
    except (TypeError, ValueError) as exc:
        raise norq.MessageError(f"the payload cannot be sent as JSON: {exc}") from None
    if size > MAX_PAYLOAD:
        raise norq.MessageError(
            f"the payload is {size} bytes; Web Push takes at most {MAX_PAYLOAD} before "
            "encryption: shorten it, or send a URL the service worker fetches",
            code="message_too_long",
        )


def payload_bytes(message: norq.Message) -> bytes:
    """The push message's plaintext: JSON or UTF-8 text."""
    fields = message.fields
    payload = fields.get("payload")
    if isinstance(payload, str):
        return payload.encode("utf-8")
    if payload is not None:
        return _json(payload)
    if any(fields.get(name) for name in (*NOTIFICATION_OPTIONS, "app_data")):
        shown: dict[str, Any] = {
            name: fields[name] for name in NOTIFICATION_OPTIONS if fields.get(name)
        }
        if message.body:
            shown["body"] = message.body
        if fields.get("app_data"):
            shown["data"] = fields["app_data"]
        return _json(shown)
    return (message.body or "").encode("utf-8")


def _json(value: Any) -> bytes:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_plain)
    return text.encode("utf-8")


def _plain(value: Any) -> Any:
    # Options may hold read-only mappings; JSON writes them as objects.
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def headers(message: norq.Message, ttl: int, urgency: str | None) -> tuple[tuple[str, str], ...]:
    """RFC 8030's headers: TTL always; Urgency and Topic when set."""
    fields = message.fields
    found = [("TTL", str(fields.get("ttl", ttl)))]
    chosen = fields.get("urgency", urgency)
    if chosen is not None:
        found.append(("Urgency", chosen))
    if fields.get("topic") is not None:
        found.append(("Topic", fields["topic"]))
    return tuple(found)
