"""What the sandbox says in Twilio's words: validation, magic numbers, resources, errors.

Everything here is pure: form parameters in, a message draft or a Twilio error
out. The numbers and codes follow Twilio's documentation for the Messages API
and its test credentials; ``ValidityPeriod`` follows Norq's Twilio spec
(1–14400 seconds), not Twilio's newer 36000 limit.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import format_datetime
from typing import Any

API_VERSION = "2010-04-01"
API_PREFIX = f"/{API_VERSION}/Accounts/"
MAX_BODY = 1600
MAX_VALIDITY_PERIOD = 14400
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 50

_E164 = re.compile(r"^\+[1-9]\d{1,14}$")
_ALPHANUMERIC_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
_MESSAGING_SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")

# Twilio's magic numbers for test credentials: (code, message) for each.
MAGIC_FROM: Mapping[str, tuple[int, str]] = {
    "+15005550001": (21212, "The 'From' number +15005550001 is not a valid phone number"),
    "+15005550007": (
        21606,
        "The 'From' phone number provided is not a valid, message-capable Twilio phone number",
    ),
    "+15005550008": (
        21611,
        "This 'From' number has exceeded the maximum number of queued messages",
    ),
}
MAGIC_TO: Mapping[str, tuple[int, str]] = {
    "+15005550001": (21211, "Invalid 'To' Phone Number: +15005550001"),
    "+15005550002": (21612, "The 'To' phone number is not currently reachable via SMS"),
    "+15005550003": (
        21408,
        "Permission to send an SMS has not been enabled for the region of the 'To' number",
    ),
    "+15005550004": (21610, "Attempt to send to unsubscribed recipient"),
    "+15005550009": (21614, "'To' number is not a valid mobile number"),
}

# Recipients whose messages are accepted but end badly, so an application's
# handling of delivery failures can be exercised. More can be chosen per run.
DEFAULT_UNDELIVERED = ("+15005550010",)
DEFAULT_FAILED = ("+15005550011",)
UNDELIVERED_ERROR = (30003, "Unreachable destination handset")
FAILED_ERROR = (30008, "Unknown error")


class TwilioError(Exception):
    """An error answer in Twilio's shape: ``{code, message, more_info, status}``."""

    def __init__(self, status: int, code: int, message: str, detail: str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }
        if self.detail is not None:
            body["detail"] = self.detail
        return body


def authentication_failed() -> TwilioError:
    return TwilioError(401, 20003, "Authenticate", "Your AccountSid or AuthToken was incorrect.")


def not_found(path: str) -> TwilioError:
    return TwilioError(404, 20404, f"The requested resource {path} was not found")


@dataclass(frozen=True, slots=True)
class MessageDraft:
    """A validated create request: what the sandbox will store as a new message."""

    to: str
    sender: str | None
    body: str
    messaging_service_sid: str | None
    status_callback: str | None
    media_urls: tuple[str, ...] = ()
    validity_period: int | None = None


def validate_create(params: Mapping[str, Sequence[str]]) -> MessageDraft:
    """Check a create request as Twilio does; raise :class:`TwilioError` if it would fail."""

    def one(name: str) -> str | None:
        values = params.get(name)
        return values[-1] if values else None

    to = one("To")
    sender = one("From")
    service = one("MessagingServiceSid")
    body = one("Body") or ""
    media = tuple(params.get("MediaUrl", ()))
    if not to:
        raise TwilioError(400, 21604, "A 'To' phone number is required.")
    if not sender and not service:
        raise TwilioError(400, 21603, "A 'From' phone number is required.")
    if not body and not media:
        raise TwilioError(400, 21602, "Message body is required.")
    if len(body) > MAX_BODY:
        raise TwilioError(
            400, 21617, f"The concatenated message body exceeds the {MAX_BODY} character limit."
        )
    validity = _validity_period(one("ValidityPeriod"))
    if service and not _MESSAGING_SERVICE_SID.match(service):
        raise TwilioError(400, 21701, f"The Messaging Service Sid {service} is invalid.")
    if sender:
        if sender in MAGIC_FROM:
            raise TwilioError(400, *MAGIC_FROM[sender])
        if not (_E164.match(sender) or _ALPHANUMERIC_SENDER.match(sender)):
            raise TwilioError(400, 21212, f"The 'From' number {sender} is not a valid phone number")
    if to in MAGIC_TO:
        raise TwilioError(400, *MAGIC_TO[to])
    if not _E164.match(to):
        raise TwilioError(400, 21211, f"Invalid 'To' Phone Number: {to}")
    callback = one("StatusCallback")
    if callback is not None and not re.match(r"^https?://[^/\s]+", callback):
        raise TwilioError(400, 21609, f"The StatusCallback URL {callback} is not a valid URL.")
    return MessageDraft(
        to=to,
        sender=sender,
        body=body,
        messaging_service_sid=service,
        status_callback=callback or None,
        media_urls=media,
        validity_period=validity,
    )


def _validity_period(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        seconds = int(raw)
    except ValueError:
        seconds = 0
    if not 1 <= seconds <= MAX_VALIDITY_PERIOD:
        raise TwilioError(
            400,
            90007,
            f"Invalid validity period value {raw!r}: "
            f"use whole seconds from 1 to {MAX_VALIDITY_PERIOD}",
        )
    return seconds


def new_message_sid() -> str:
    return "SM" + uuid.uuid4().hex


def rfc2822(moment: dt.datetime | None) -> str | None:
    return None if moment is None else format_datetime(moment)


@dataclass(frozen=True, slots=True)
class StatusStep:
    """One status a message passed through, and what its callback got back."""

    status: str
    at: dt.datetime
    callback: str | None = None


@dataclass(slots=True)
class SandboxMessage:
    """One message the sandbox accepted, and everything that happened to it since."""

    sid: str
    account_sid: str
    draft: MessageDraft
    num_segments: int
    date_created: dt.datetime
    status: str
    date_updated: dt.datetime
    date_sent: dt.datetime | None = None
    error_code: int | None = None
    error_message: str | None = None
    timeline: list[StatusStep] = field(default_factory=list)
    version: int = 0

    @property
    def uri(self) -> str:
        return f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}.json"

    def resource(self) -> dict[str, Any]:
        """The message as Twilio's API returns it."""
        draft = self.draft
        sent = self.date_sent is not None
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": draft.body,
            "date_created": rfc2822(self.date_created),
            "date_sent": rfc2822(self.date_sent),
            "date_updated": rfc2822(self.date_updated),
            "direction": "outbound-api",
            "error_code": self.error_code,
            "error_message": self.error_message,
            "from": draft.sender,
            "messaging_service_sid": draft.messaging_service_sid,
            "num_media": str(len(draft.media_urls)),
            "num_segments": str(self.num_segments),
            # The sandbox is free; Twilio fills the price in once a message is sent.
            "price": "0.00000" if sent else None,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {
                "media": self.uri.removesuffix(".json") + "/Media.json",
                "feedback": self.uri.removesuffix(".json") + "/Feedback.json",
            },
            "to": draft.to,
            "uri": self.uri,
        }

    def inbox_view(self) -> dict[str, Any]:
        """The message for the web inbox: the resource plus its status timeline."""
        return {
            **self.resource(),
            # Precise, unlike date_created, so the inbox can order messages within a second.
            "created_at": (self.timeline[0].at if self.timeline else self.date_created).isoformat(),
            "status_callback": self.draft.status_callback,
            "media_urls": list(self.draft.media_urls),
            "timeline": [
                {"status": step.status, "at": step.at.isoformat(), "callback": step.callback}
                for step in self.timeline
            ],
            "version": self.version,
        }
