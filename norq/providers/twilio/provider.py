"""Twilio's Messages API as prepared requests: send, fetch one, list.

Everything constant for an instance (the URL, the Basic credentials, the
sender and account-wide options) is built once in ``__init__``; per message
``prepare_send`` only adds ``To``, ``Body`` and the message's own options, so
the framework's cost per SMS stays a handful of tuple operations.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from norq.error_codes import ErrorCode
from norq.errors import MessageError, QueryError
from norq.formats import E164, AddressFormat, is_e164
from norq.message import Message
from norq.provider import MessageQuery, MessageStatus, Page, Provider
from norq.providers.twilio.config import (
    SHORT_CODE,
    TwilioConfig,
    check_http_url,
    check_status_callback,
)
from norq.providers.twilio.errors import TWILIO_ERROR_CODES
from norq.providers.twilio.segments import segment_info
from norq.providers.twilio.status import CallbackError, message_status
from norq.rate_limits import RateLimits
from norq.receipt import DeliveryFailure
from norq.request import ApiBase, BasicAuth, Pairs, PreparedRequest
from norq.retry import RetryPolicy
from norq.send_result import ErrorFormat

API_VERSION = "2010-04-01"
MAX_BODY_CHARACTERS = 1600
MAX_MEDIA_URLS = 10
MAX_PAGE_SIZE = 1000
SUCCESS = frozenset({200, 201})
FOUND = frozenset({200})
MESSAGE_SID_PREFIXES = ("SM", "MM")
# Twilio's documented pace per sender, in messages per second (docs/providers/twilio.md).
LONG_CODE_RATE = 1.0
TOLL_FREE_RATE = 3.0
SHORT_CODE_RATE = 100.0
TOLL_FREE_PREFIXES = ("+1800", "+1833", "+1844", "+1855", "+1866", "+1877", "+1888")
# About 100 concurrent API requests per account before Twilio answers 429 / 20429.
ACCOUNT_CONCURRENCY = 100
_HEX = frozenset("0123456789abcdefABCDEF")

# Per-message switches and the form field each is sent as. ProvideFeedback
# asks Twilio to track the message for its Message Feedback API.
_BOOLEAN_FIELDS = {"smart_encoded": "SmartEncoded", "provide_feedback": "ProvideFeedback"}

TWILIO_ERRORS = ErrorFormat(
    code_path="$.code",
    message_path="$.message",
    more_info_path="$.more_info",
    code_map={code: str(normalised) for code, normalised in TWILIO_ERROR_CODES.items()},
)


class TwilioProvider(Provider[TwilioConfig]):
    """Sends SMS (and MMS with ``media_urls``) through Twilio's Messages API."""

    name = "twilio"
    channels = frozenset({"sms"})
    recipient_formats: ClassVar[Mapping[str, AddressFormat]] = {"sms": E164}
    env_prefix = "TWILIO"
    default_retry = RetryPolicy()
    description = "Twilio Programmable Messaging (SMS, MMS with media_urls)"
    message_fields: ClassVar[frozenset[str]] = frozenset(
        {"media_urls", "provide_feedback", "send_at", "smart_encoded", "status_callback"}
    )
    default_rate_limits = RateLimits(max_in_flight=ACCOUNT_CONCURRENCY)

    def __init__(
        self,
        config: TwilioConfig,
        *,
        instance: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        super().__init__(config, instance=instance, retry=retry)
        self.api_root = config.api_root
        self._account_url = f"{self.api_root}/{API_VERSION}/Accounts/{config.account_sid}"
        self._messages_url = f"{self._account_url}/Messages.json"
        if config.api_key_sid is not None and config.api_key_secret is not None:
            self._auth = BasicAuth(config.api_key_sid, config.api_key_secret.get_secret_value())
        else:
            assert config.auth_token is not None  # the config model guarantees one mode
            self._auth = BasicAuth(config.account_sid, config.auth_token.get_secret_value())
        if config.from_ is not None:
            self._sender: Pairs = (("From", config.from_),)
        else:
            assert config.messaging_service_sid is not None
            self._sender = (("MessagingServiceSid", config.messaging_service_sid),)
        options: list[tuple[str, str]] = []
        if config.max_price is not None:
            options.append(("MaxPrice", format(config.max_price, "f")))
        if config.validity_period is not None:
            options.append(("ValidityPeriod", str(config.validity_period)))
        #: The options every message sends but the status callback, which a message may replace.
        self._fixed_options: Pairs = tuple(options)
        if config.status_callback is not None:
            options.insert(0, ("StatusCallback", config.status_callback))
        self._options: Pairs = tuple(options)

    # -- sending ------------------------------------------------------------

    def check_message(self, message: Message) -> None:
        # The recipient's E.164 format was checked with the sms channel's
        # format (norq.message), before any provider saw the message.
        super().check_message(message)
        body = message.body or ""
        if len(body) > MAX_BODY_CHARACTERS:
            raise MessageError(
                f"SMS body is {len(body)} characters; Twilio accepts at most "
                f"{MAX_BODY_CHARACTERS}: shorten it or split it into several messages",
                code="message_too_long",
            )
        fields = message.fields
        if not fields:
            return
        if "media_urls" in fields:
            _check_media_urls(fields["media_urls"])
        if "send_at" in fields:
            self._check_send_at(fields["send_at"])
        if "status_callback" in fields:
            _check_status_callback(fields["status_callback"])
        for flag in _BOOLEAN_FIELDS:
            if flag in fields and not isinstance(fields[flag], bool):
                raise MessageError(f"{flag} must be True or False, got {fields[flag]!r}")

    def _check_send_at(self, value: Any) -> None:
        if self.config.messaging_service_sid is None:
            raise MessageError(
                "send_at needs a messaging service: Twilio schedules only messages sent "
                f"with MessagingServiceSid; set messaging_service_sid for {self.instance!r} "
                "instead of from"
            )
        if not isinstance(value, dt.datetime):
            raise MessageError(f"send_at must be a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise MessageError(
                f"send_at {value.isoformat()} has no timezone; pass an aware datetime such "
                "as datetime(2030, 1, 1, 9, 0, tzinfo=timezone.utc)"
            )

    def prepare_send(self, message: Message) -> PreparedRequest:
        options = self._options
        fields = message.fields
        if fields and "status_callback" in fields:
            options = (("StatusCallback", fields["status_callback"]), *self._fixed_options)
        form = (("To", message.to), *self._sender, ("Body", message.body or ""), *options)
        if fields:
            form += _message_options(fields)
        return PreparedRequest(
            method="POST",
            url=self._messages_url,
            form=form,
            auth=self._auth,
            success_statuses=SUCCESS,
            message_id_path="$.sid",
            retry=self.retry,
            errors=TWILIO_ERRORS,
        )

    @property
    def sender(self) -> str:
        return self.config.from_ or self.config.messaging_service_sid or ""

    def documented_sender_rate(self) -> float | None:
        sender = self.config.from_
        if sender is None:
            return None  # a Messaging Service's pace is the sum of its pool's senders
        if SHORT_CODE.fullmatch(sender):
            return SHORT_CODE_RATE
        if sender.startswith(TOLL_FREE_PREFIXES):
            return TOLL_FREE_RATE
        if is_e164(sender):
            return LONG_CODE_RATE
        return None  # alphanumeric sender IDs: the pace depends on the country

    def describe(self, message: Message) -> Mapping[str, str]:
        smart = message.fields.get("smart_encoded") is True
        info = segment_info(message.body or "", smart_encoded=smart)
        facts = {
            "encoding": info.encoding,
            "segments": str(info.segments),
            "characters": str(info.characters),
        }
        media = message.fields.get("media_urls")
        if media:
            facts["media"] = str(len(media))
        return facts

    # -- raw requests ---------------------------------------------------------

    def api_base(self) -> ApiBase:
        return ApiBase(
            url=self.api_root,
            auth=self._auth,
            errors=TWILIO_ERRORS,
            path_values={"AccountSid": self.config.account_sid},
        )

    # -- status queries -------------------------------------------------------

    def prepare_status(self, message_id: str) -> PreparedRequest:
        _check_message_sid(message_id)
        return PreparedRequest(
            method="GET",
            url=f"{self._account_url}/Messages/{message_id}.json",
            auth=self._auth,
            success_statuses=FOUND,
            message_id_path="$.sid",
            retry=self.retry,
            errors=TWILIO_ERRORS,
        )

    def read_status(self, data: Any) -> MessageStatus:
        if not isinstance(data, Mapping):
            raise _bad_answer("a status query was answered without a message resource")
        try:
            return message_status(data)
        except CallbackError as exc:
            raise _bad_answer(f"the answer is not a message resource: {exc}") from None

    def prepare_list(self, query: MessageQuery) -> PreparedRequest:
        if not 1 <= query.page_size <= MAX_PAGE_SIZE:
            raise MessageError(
                f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {query.page_size}"
            )
        params: list[tuple[str, str]] = []
        if query.to is not None:
            params.append(("To", query.to))
        if query.sender is not None:
            params.append(("From", query.sender))
        # Twilio's DateSent< and DateSent> are inclusive: on or before, on or after.
        for name, day in (
            ("DateSent", query.sent_on),
            ("DateSent<", query.sent_before),
            ("DateSent>", query.sent_after),
        ):
            if day is not None:
                params.append((name, _day(day)))
        params.append(("PageSize", str(query.page_size)))
        return self._listing_request(self._messages_url, tuple(params))

    def read_page(self, data: Any) -> Page:
        if not isinstance(data, Mapping) or not isinstance(data.get("messages"), list):
            raise _bad_answer("a listing was answered without a 'messages' list")
        items = []
        for resource in data["messages"]:
            if isinstance(resource, Mapping):
                items.append(self.read_status(resource))
        next_uri = data.get("next_page_uri")
        next_request = None
        if isinstance(next_uri, str) and next_uri.startswith("/"):
            # next_page_uri is relative to the API root and carries every parameter.
            next_request = self._listing_request(self.api_root + next_uri, ())
        return Page(items=tuple(items), next_request=next_request)

    def _listing_request(self, url: str, query: Pairs) -> PreparedRequest:
        return PreparedRequest(
            method="GET",
            url=url,
            query=query,
            auth=self._auth,
            success_statuses=FOUND,
            retry=self.retry,
            errors=TWILIO_ERRORS,
        )


def _message_options(fields: Mapping[str, Any]) -> Pairs:
    extra: list[tuple[str, str]] = []
    for url in fields.get("media_urls") or ():
        extra.append(("MediaUrl", url))
    send_at = fields.get("send_at")
    if send_at is not None:
        utc = send_at.astimezone(dt.UTC).replace(tzinfo=None)
        extra.append(("SendAt", utc.isoformat(timespec="seconds") + "Z"))
        extra.append(("ScheduleType", "fixed"))
    for flag, wire_name in _BOOLEAN_FIELDS.items():
        value = fields.get(flag)
        if value is not None:
            extra.append((wire_name, "true" if value else "false"))
    return tuple(extra)


def _check_status_callback(value: Any) -> None:
    if not isinstance(value, str):
        raise MessageError(f"status_callback must be an http(s) URL, got {value!r}")
    try:
        check_status_callback(value)
    except ValueError as exc:
        raise MessageError(f"{exc} (got {value!r})") from None


def _check_media_urls(value: Any) -> None:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise MessageError(
            "media_urls must be a list of URLs: in Python "
            'media_urls=["https://example.com/a.png"]; with norq send, '
            "--field-json 'media_urls=[\"https://example.com/a.png\"]'"
        )
    if len(value) > MAX_MEDIA_URLS:
        raise MessageError(
            f"media_urls has {len(value)} URLs; Twilio accepts at most {MAX_MEDIA_URLS} per "
            "message: send the rest in another message"
        )
    for url in value:
        if not isinstance(url, str):
            raise MessageError(f"media_urls must hold URL strings, got {url!r}")
        try:
            check_http_url(url, "media URL")
        except ValueError as exc:
            raise MessageError(str(exc)) from None


def _check_message_sid(message_id: str) -> None:
    if (
        not isinstance(message_id, str)
        or len(message_id) != 34
        or not message_id.startswith(MESSAGE_SID_PREFIXES)
        or not _HEX.issuperset(message_id[2:])
    ):
        raise MessageError(
            f"{message_id!r} is not a Twilio message SID: expected 'SM' or 'MM' followed by "
            "32 hex digits, as in a receipt's message_id"
        )


def _bad_answer(problem: str) -> QueryError:
    message = f"Twilio's answer cannot be read: {problem}"
    return QueryError(message, DeliveryFailure(code=ErrorCode.BAD_RESPONSE, message=message))


def _day(value: dt.date) -> str:
    if isinstance(value, dt.datetime):
        value = value.date()
    return value.isoformat()
