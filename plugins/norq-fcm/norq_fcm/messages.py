"""What an FCM message may hold, checked before any request, and its JSON.

A message goes to one target: a registration token (one app on one
device), ``topic:NAME`` (every device subscribed) or ``condition:EXPRESSION``
(``'news' in topics && 'eu' in topics``). Its body and ``title`` make the
notification a phone shows; ``app_data`` (FCM's ``data``; Norq's own
``data=`` is the template's variables) goes to the app, with or without one;
``android``, ``apns`` and ``webpush`` are FCM's own override objects,
passed as given.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import norq

# Registration tokens are opaque; in practice ~160 characters of these.
_TOKEN = re.compile(r"[A-Za-z0-9_:\-]{20,4096}")
# FCM's own rule for topic names.
_TOPIC = re.compile(r"[a-zA-Z0-9\-_.~%]{1,900}")
TOPIC_PREFIX = "topic:"
CONDITION_PREFIX = "condition:"
OVERRIDES = ("android", "apns", "webpush")
#: Options a message may carry (notify(..., title=..., app_data={...})).
MESSAGE_FIELDS = frozenset({"title", "image", "app_data", "analytics_label", *OVERRIDES})


def _target(to: str) -> str:
    if to.startswith(TOPIC_PREFIX):
        if not _TOPIC.fullmatch(to.removeprefix(TOPIC_PREFIX)):
            raise ValueError("a topic name is letters, digits and - _ . ~ %")
        return to
    if to.startswith(CONDITION_PREFIX):
        if "in topics" not in to:
            raise ValueError("a condition combines 'NAME' in topics with && and ||")
        return to
    if not _TOKEN.fullmatch(to):
        raise ValueError("a registration token is the text the app got from FCM, unchanged")
    return to


#: A registration token, ``topic:NAME`` or ``condition:EXPRESSION``.
FCM_TARGET = norq.AddressFormat(
    "an FCM registration token, topic:NAME or condition:EXPRESSION", "topic:news", _target
)


def target(to: str) -> dict[str, str]:
    """The message's target as FCM names it: ``token``, ``topic`` or ``condition``."""
    if to.startswith(TOPIC_PREFIX):
        return {"topic": to.removeprefix(TOPIC_PREFIX)}
    if to.startswith(CONDITION_PREFIX):
        return {"condition": to.removeprefix(CONDITION_PREFIX)}
    return {"token": to}


def check(message: norq.Message) -> None:
    """A notification or data to send, and options of the shape FCM accepts."""
    fields = message.fields
    data = fields.get("app_data")
    if not message.body and not data:
        raise norq.MessageError(
            "a push needs a body (the notification a phone shows) or app_data= for the app; "
            "give either or both",
            code="invalid_message",
        )
    if data is not None:
        if not isinstance(data, Mapping) or not all(
            isinstance(key, str) and isinstance(value, str) for key, value in data.items()
        ):
            raise norq.MessageError(
                "app_data must map text to text (FCM carries data values as strings): "
                'convert numbers first, app_data={"order": "42"}'
            )
        reserved = sorted(key for key in data if key in ("from", "gcm") or key.startswith("google"))
        if reserved:
            raise norq.MessageError(f"app_data uses FCM's reserved keys {', '.join(reserved)}")
    for name in ("title", "image", "analytics_label"):
        value = fields.get(name)
        if value is not None and not isinstance(value, str):
            raise norq.MessageError(f"{name} must be text, got {type(value).__name__}")
    image = fields.get("image")
    if image is not None:
        try:
            norq.HTTP_URL.validate(image)
        except ValueError as exc:
            raise norq.MessageError(f"image {exc}") from None
    for name in OVERRIDES:
        value = fields.get(name)
        if value is not None and not isinstance(value, Mapping):
            raise norq.MessageError(
                f"{name} must be a mapping, FCM's {name} object (see the FCM v1 Message docs)"
            )


def payload(message: norq.Message, *, validate_only: bool) -> dict[str, Any]:
    """The JSON body of ``messages:send``."""
    fields = message.fields
    body: dict[str, Any] = target(message.to)
    notification = {
        key: value
        for key, value in (
            ("title", fields.get("title")),
            ("body", message.body),
            ("image", fields.get("image")),
        )
        if value
    }
    if message.body:
        body["notification"] = notification
    if fields.get("app_data"):
        body["data"] = dict(fields["app_data"])
    for name in OVERRIDES:
        if fields.get(name) is not None:
            body[name] = dict(fields[name])
    if fields.get("analytics_label"):
        body["fcm_options"] = {"analytics_label": fields["analytics_label"]}
    request: dict[str, Any] = {"message": body}
    if validate_only:
        request["validate_only"] = True
    return request
