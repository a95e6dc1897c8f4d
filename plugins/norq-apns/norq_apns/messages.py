"""What an APNs notification may hold, checked before any request: its headers and JSON.

The body (or a template's) is the alert's text, ``title`` and ``subtitle``
its other lines; ``badge``, ``sound``, ``thread_id``, ``category`` and the
rest go in ``aps``; ``app_data`` adds the app's own keys beside ``aps``
(Norq's ``data=`` is the template's variables). A message with no alert is
a background push (``content_available``), sent with priority 5 as APNs
requires.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import norq

# Device tokens are hexadecimal: 64 digits today, longer allowed by Apple.
_HEX_TOKEN = re.compile(r"(?:[0-9a-fA-F]{2}){32,100}")
PUSH_TYPES = frozenset(
    {
        "alert",
        "background",
        "location",
        "voip",
        "complication",
        "fileprovider",
        "mdm",
        "liveactivity",
        "pushtotalk",
        "widgets",
    }
)
PRIORITIES = frozenset({1, 5, 10})
INTERRUPTION_LEVELS = frozenset({"passive", "active", "time-sensitive", "critical"})
MAX_PAYLOAD = 4096
MAX_VOIP_PAYLOAD = 5120
MAX_COLLAPSE_ID = 64
#: aps keys a message may set, by Norq's option name.
APS_OPTIONS = {
    "badge": "badge",
    "sound": "sound",
    "thread_id": "thread-id",
    "category": "category",
    "interruption_level": "interruption-level",
}
MESSAGE_FIELDS = frozenset(
    {
        "title",
        "subtitle",
        "app_data",
        "content_available",
        "mutable_content",
        "push_type",
        "priority",
        "expiration",
        "collapse_id",
        *APS_OPTIONS,
    }
)


def _device_token(to: str) -> str:
    if not _HEX_TOKEN.fullmatch(to):
        raise ValueError("a device token is the hexadecimal text the app registered, 64 digits")
    return to


#: An APNs device token: hexadecimal, as the app got it from ``registerForRemoteNotifications``.
DEVICE_TOKEN = norq.AddressFormat(
    "an APNs device token",
    "0f744707bebcf74f9b7c25d48e3358945f6aa01da5ddb387462c7eaf61bbad78",
    _device_token,
)


def _alert(message: norq.Message) -> dict[str, str]:
    fields = message.fields
    parts = (
        ("title", fields.get("title")),
        ("subtitle", fields.get("subtitle")),
        ("body", message.body),
    )
    return {key: value for key, value in parts if value}


def push_type(message: norq.Message) -> str:
    chosen = message.fields.get("push_type")
    if chosen is not None:
        return str(chosen)
    return "alert" if _alert(message) else "background"


def payload(message: norq.Message) -> dict[str, Any]:
    """The JSON body: ``aps`` and the app's own keys."""
    fields = message.fields
    aps: dict[str, Any] = {}
    alert = _alert(message)
    if alert:
        aps["alert"] = alert
    for option, key in APS_OPTIONS.items():
        if fields.get(option) is not None:
            aps[key] = fields[option]
    if fields.get("content_available"):
        aps["content-available"] = 1
    if fields.get("mutable_content"):
        aps["mutable-content"] = 1
    return {"aps": aps, **dict(fields.get("app_data") or {})}


def headers(message: norq.Message, topic: str) -> tuple[tuple[str, str], ...]:
    """The apns-* headers: topic, push type, priority, and expiration and collapse id if given."""
    fields = message.fields
    kind = push_type(message)
    default_priority = 10 if kind == "alert" else 5
    found = [
        ("apns-topic", topic),
        ("apns-push-type", kind),
        ("apns-priority", str(fields.get("priority", default_priority))),
    ]
    if fields.get("expiration") is not None:
        found.append(("apns-expiration", str(fields["expiration"])))
    if fields.get("collapse_id") is not None:
        found.append(("apns-collapse-id", fields["collapse_id"]))
    return tuple(found)


def check(message: norq.Message) -> None:
    """Options of the shape APNs takes, and a payload within its size."""
    fields = message.fields
    for name in ("title", "subtitle", "sound", "thread_id", "category", "collapse_id"):
        value = fields.get(name)
        if value is not None and not isinstance(value, str):
            raise norq.MessageError(f"{name} must be text, got {type(value).__name__}")
    kind = push_type(message)
    if kind not in PUSH_TYPES:
        raise norq.MessageError(
            f"push_type must be one of {', '.join(sorted(PUSH_TYPES))}, got {kind!r}"
        )
    if kind == "alert" and not _alert(message):
        raise norq.MessageError(
            "an alert push needs a body, title or subtitle", code="invalid_message"
        )
    if kind == "background" and not fields.get("content_available"):
        raise norq.MessageError(
            "a push without an alert is a background push: give a body, or content_available=True "
            "to wake the app",
            code="invalid_message",
        )
    priority = fields.get("priority")
    if priority is not None and priority not in PRIORITIES:
        raise norq.MessageError(f"priority must be 10, 5 or 1, got {priority!r}")
    if kind == "background" and priority == 10:
        raise norq.MessageError("a background push must have priority 5 or 1; APNs refuses 10")
    badge = fields.get("badge")
    if badge is not None and (isinstance(badge, bool) or not isinstance(badge, int) or badge < 0):
        raise norq.MessageError(f"badge must be a whole number, 0 or more, got {badge!r}")
    level = fields.get("interruption_level")
    if level is not None and level not in INTERRUPTION_LEVELS:
        raise norq.MessageError(
            f"interruption_level must be one of {', '.join(sorted(INTERRUPTION_LEVELS))}, "
            f"got {level!r}"
        )
    expiration = fields.get("expiration")
    if expiration is not None and (
        isinstance(expiration, bool) or not isinstance(expiration, int) or expiration < 0
    ):
        raise norq.MessageError(
            "expiration must be a Unix time in whole seconds (0: deliver now or never), "
            f"got {expiration!r}"
        )
    collapse_id = fields.get("collapse_id")
    if collapse_id is not None and len(collapse_id.encode()) > MAX_COLLAPSE_ID:
        raise norq.MessageError(f"collapse_id is over {MAX_COLLAPSE_ID} bytes; APNs refuses it")
    data = fields.get("app_data")
    if data is not None:
        if not isinstance(data, Mapping) or not all(isinstance(key, str) for key in data):
            raise norq.MessageError("app_data must be a mapping with text keys")
        if "aps" in data:
            raise norq.MessageError("app_data must not hold 'aps': that key is Apple's")
    try:
        size = len(json.dumps(payload(message), separators=(",", ":")).encode())
    except (TypeError, ValueError) as exc:
        raise norq.MessageError(f"app_data cannot be sent as JSON: {exc}") from None
    limit = MAX_VOIP_PAYLOAD if kind == "voip" else MAX_PAYLOAD
    if size > limit:
        raise norq.MessageError(
            f"the payload is {size} bytes; APNs takes at most {limit}: shorten the text or "
            "app_data",
            code="message_too_long",
        )
