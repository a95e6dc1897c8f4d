"""Norq's normalised error codes: what went wrong, the same whichever provider failed."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Norq's normalised error codes, the same whichever provider failed."""

    INVALID_CREDENTIALS = "invalid_credentials"
    PERMISSION_DENIED = "permission_denied"
    QUOTA_EXCEEDED = "quota_exceeded"
    RATE_LIMITED = "rate_limited"
    INVALID_RECIPIENT = "invalid_recipient"
    RECIPIENT_UNREACHABLE = "recipient_unreachable"
    RECIPIENT_OPTED_OUT = "recipient_opted_out"
    INVALID_SENDER = "invalid_sender"
    MESSAGE_TOO_LONG = "message_too_long"
    INVALID_MESSAGE = "invalid_message"
    TEMPLATE_ERROR = "template_error"
    NOT_FOUND = "not_found"
    REJECTED = "rejected"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    CONNECT_ERROR = "connect_error"
    TIMEOUT = "timeout"
    CONNECTION_LOST = "connection_lost"
    INTERRUPTED = "interrupted"
    #: The provider answered that it failed, but part of the send may have
    #: happened (Slack's ``internal_error``): as good as no answer.
    OUTCOME_UNKNOWN = "outcome_unknown"
    BAD_RESPONSE = "bad_response"


#: Failures after which the provider may have accepted the message after all: the
#: request went out and no answer came back, or the answer could not say.
UNCONFIRMED_CODES = frozenset(
    {
        ErrorCode.TIMEOUT,
        ErrorCode.CONNECTION_LOST,
        ErrorCode.INTERRUPTED,
        ErrorCode.OUTCOME_UNKNOWN,
    }
)


def code_for_status(status: int) -> ErrorCode:
    """The normalised code an HTTP error status means when the body says nothing better."""
    if status == 401:
        return ErrorCode.INVALID_CREDENTIALS
    if status == 403:
        return ErrorCode.PERMISSION_DENIED
    if status == 404:
        return ErrorCode.NOT_FOUND
    if status == 413:
        return ErrorCode.MESSAGE_TOO_LONG
    if status == 429:
        return ErrorCode.RATE_LIMITED
    if status >= 500:
        return ErrorCode.PROVIDER_UNAVAILABLE
    if 200 <= status < 300:
        return ErrorCode.BAD_RESPONSE
    return ErrorCode.REJECTED
