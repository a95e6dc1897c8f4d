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
from decimal import Decimal, InvalidOperation
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

API_VERSION = "2010-04-01"
API_PREFIX = f"/{API_VERSION}/Accounts/"
MAX_BODY = 1600
MAX_VALIDITY_PERIOD = 14400
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 50
MAX_MEDIA_URLS = 10
# Twilio schedules a message only if SendAt is 15 minutes to 35 days after the request.
SCHEDULE_AT_LEAST = dt.timedelta(minutes=15)
SCHEDULE_AT_MOST = dt.timedelta(days=35)

# ASCII digits only: Python's \d would let in every script's digits, which Twilio refuses.
_E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
# Short codes are 3 to 8 digits depending on the country (5 or 6 in the US).
_SHORT_CODE = re.compile(r"^[0-9]{3,8}$")
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
    """A validated create request: what the sandbox will store as a new message.

    ``send_at`` is set only for a message Twilio would schedule: ``SendAt`` with
    ``ScheduleType=fixed`` through a Messaging Service.
    """

    to: str
    sender: str | None
    body: str
    messaging_service_sid: str | None
    status_callback: str | None
    media_urls: tuple[str, ...] = ()
    validity_period: int | None = None
    send_at: dt.datetime | None = None
    provide_feedback: bool = False


def validate_create(params: Mapping[str, Sequence[str]], now: dt.datetime) -> MessageDraft:
    """Check a create request as Twilio does; raise :class:`TwilioError` if it would fail.

    ``now`` is the sandbox's clock, against which ``SendAt`` is checked.
    """

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
    if service and not _MESSAGING_SERVICE_SID.fullmatch(service):
        raise TwilioError(400, 21701, f"The Messaging Service Sid {service} is invalid.")
    if sender:
        _check_sender(sender)
    if to in MAGIC_TO:
        raise TwilioError(400, *MAGIC_TO[to])
    if not _E164.fullmatch(to):
        raise TwilioError(400, 21211, f"Invalid 'To' Phone Number: {to}")
    if sender == to:
        raise TwilioError(400, 21266, "'To' and 'From' number cannot be the same: " + to)
    _check_media_urls(media)
    callback = one("StatusCallback")
    if callback is not None:
        _check_status_callback(callback)
    _check_max_price(one("MaxPrice"))
    feedback = _boolean(one("ProvideFeedback"), "ProvideFeedback")
    send_at = one("SendAt")
    schedule_type = one("ScheduleType")
    if schedule_type is not None and schedule_type != "fixed":
        raise TwilioError(400, 20001, f"Invalid ScheduleType {schedule_type!r}: use 'fixed'")
    # Without a Messaging Service, Twilio drops the scheduling parameters and
    # sends the message at once; so does the sandbox.
    scheduled = service is not None and schedule_type == "fixed" and send_at is not None
    return MessageDraft(
        to=to,
        sender=sender,
        body=body,
        messaging_service_sid=service,
        status_callback=callback or None,
        media_urls=media,
        validity_period=validity,
        send_at=_schedule(send_at, now) if scheduled and send_at is not None else None,
        provide_feedback=feedback,
    )


def _check_sender(sender: str) -> None:
    if sender in MAGIC_FROM:
        raise TwilioError(400, *MAGIC_FROM[sender])
    if not (
        _E164.fullmatch(sender)
        or _SHORT_CODE.fullmatch(sender)
        or _ALPHANUMERIC_SENDER.fullmatch(sender)
    ):
        raise TwilioError(400, 21212, f"The 'From' number {sender} is not a valid phone number")


def _is_http_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and not any(char.isspace() for char in value)
    )


def _check_media_urls(media: Sequence[str]) -> None:
    if len(media) > MAX_MEDIA_URLS:
        raise TwilioError(
            400,
            21623,
            f"Number of media files exceeds allowed limit: {len(media)} MediaUrl given, "
            f"at most {MAX_MEDIA_URLS}",
        )
    for url in media:
        if not _is_http_url(url):
            raise TwilioError(400, 21620, f"Invalid media URL(s): {url!r}")


def _check_status_callback(url: str) -> None:
    if not _is_http_url(url):
        raise TwilioError(400, 21609, f"The StatusCallback URL {url} is not a valid URL.")
    if "_" in (urlsplit(url).hostname or ""):
        raise TwilioError(
            400,
            21609,
            f"The StatusCallback URL {url} is not a valid URL: its hostname contains '_'.",
        )


def _check_max_price(raw: str | None) -> None:
    if raw is None:
        return
    try:
        price = Decimal(raw)
    except InvalidOperation:
        price = Decimal("NaN")
    if not price.is_finite() or price <= 0:
        raise TwilioError(
            400, 20001, f"Invalid MaxPrice {raw!r}: use a positive number of US dollars"
        )


def _boolean(raw: str | None, name: str) -> bool:
    if raw is None:
        return False
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise TwilioError(400, 20001, f"Invalid {name} {raw!r}: use true or false")


def _schedule(raw: str, now: dt.datetime) -> dt.datetime:
    window = "SendAt must be at least 15 minutes and at most 35 days after the request"
    try:
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise TwilioError(
            400,
            35114,
            f"Scheduling does not support this timestamp: {raw!r} is not ISO 8601 "
            "(write it like 2030-05-04T08:00:00Z)",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    if not now + SCHEDULE_AT_LEAST <= moment <= now + SCHEDULE_AT_MOST:
        raise TwilioError(400, 35114, f"Scheduling does not support this timestamp: {window}")
    return moment


def _validity_period(raw: str | None) -> int | None:
    if raw is None:
        return None
    # Whole seconds in ASCII digits: int() would also take " 60", "6_0" and "６０".
    seconds = int(raw) if re.fullmatch(r"[0-9]{1,6}", raw) else 0
    if not 1 <= seconds <= MAX_VALIDITY_PERIOD:
        raise TwilioError(
            400,
            90007,
            f"Invalid validity period value {raw!r}: "
            f"use whole seconds from 1 to {MAX_VALIDITY_PERIOD}",
        )
    return seconds


# Abbreviations Twilio's own examples use in dates such as "06/11/2019 22:05:25 MST".
_ZONES = {
    "UTC": 0, "GMT": 0, "Z": 0,
    "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
}  # fmt: skip
_US_DATE_TIME = re.compile(
    r"(?P<month>[0-9]{1,2})/(?P<day>[0-9]{1,2})/(?P<year>[0-9]{4})"
    r"(?: (?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{2})(?::(?P<second>[0-9]{2}))?"
    r"(?: (?P<zone>[A-Za-z]+))?)?"
)


def parse_date_filter(value: str, name: str) -> dt.date | dt.datetime:
    """A ``DateSent`` filter in any format Twilio documents: a day, or an instant in UTC.

    ``2019-06-11``, ``2019-06-11T22:05:25Z`` (ISO 8601), ``Wed, 19 Jun 2019
    22:04:00 -0000`` (RFC 2822) and ``06/11/2019 22:05:25 MST``; a time
    without a zone is GMT, as Twilio's API reads it.
    """
    text = value.strip()
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            pass
    else:
        moment = _iso(text) or _rfc2822(text) or _us_date_time(text)
        if moment is not None:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=dt.UTC)
            return moment.astimezone(dt.UTC)
    raise TwilioError(
        400,
        20001,
        f"Invalid {name}: {value!r}; use YYYY-MM-DD, 2019-06-11T22:05:25Z, "
        "'Wed, 19 Jun 2019 22:04:00 -0000' or '06/11/2019 22:05:25 MST'",
    )


def _iso(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return None


def _rfc2822(text: str) -> dt.datetime | None:
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None


def _us_date_time(text: str) -> dt.datetime | None:
    match = _US_DATE_TIME.fullmatch(text)
    if match is None:
        return None
    zone = (match["zone"] or "UTC").upper()
    if zone not in _ZONES:
        return None
    try:
        return dt.datetime(
            int(match["year"]),
            int(match["month"]),
            int(match["day"]),
            int(match["hour"] or 0),
            int(match["minute"] or 0),
            int(match["second"] or 0),
            tzinfo=dt.timezone(dt.timedelta(hours=_ZONES[zone])),
        )
    except ValueError:
        return None


# Statuses in which a Messaging Service has not yet picked a sender.
_SENDER_NOT_CHOSEN = frozenset({"accepted", "scheduled", "canceled"})


def new_message_sid(*, with_media: bool = False) -> str:
    """A fresh message SID: ``MM`` for a message with media, ``SM`` otherwise, as Twilio does."""
    return ("MM" if with_media else "SM") + uuid.uuid4().hex


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
    # The number a Messaging Service picked; Twilio shows it once the message leaves "accepted".
    service_sender: str | None = None

    @property
    def sender(self) -> str | None:
        """The ``From`` the message goes out with, chosen by its service if not given."""
        return self.draft.sender or self.service_sender

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
            "from": draft.sender
            or (None if self.status in _SENDER_NOT_CHOSEN else self.service_sender),
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
            "id": self.sid,
            "api": "twilio",
            "channel": "sms",
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
