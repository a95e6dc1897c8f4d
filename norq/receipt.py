"""What happened to one notification: the :class:`Receipt`."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


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
    BAD_RESPONSE = "bad_response"


#: Failures after which the provider may have accepted the message after all: the
#: request went out and no answer came back.
UNCONFIRMED_CODES = frozenset({ErrorCode.TIMEOUT, ErrorCode.CONNECTION_LOST, ErrorCode.INTERRUPTED})


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


@dataclass(frozen=True, slots=True)
class DeliveryFailure:
    """Why a send failed: Norq's ``code`` plus what the provider itself said.

    ``disposition`` is what the failure meant for delivery: ``retry`` (retried
    here, then failed over), ``failover`` (not retried here) or ``final``
    (the message itself was wrong, or may have arrived: no failover).
    """

    code: str
    message: str
    provider_code: str | None = None
    more_info: str | None = None
    disposition: str = "final"


@dataclass(frozen=True, slots=True)
class Receipt:
    """The outcome of one notification to one recipient.

    ``provider`` is the configured instance that delivered (or last tried);
    ``attempts`` counts HTTP attempts across retries and failover. ``index`` is
    the recipient's position in a bulk send's input.
    """

    ok: bool
    channel: str
    provider: str
    to: str
    message_id: str | None = None
    status_code: int | None = None
    attempts: int = 0
    error: DeliveryFailure | None = None
    index: int | None = None

    @property
    def unconfirmed(self) -> bool:
        """Failed without an answer: the provider may have accepted it, so a re-send may
        duplicate the message (see docs/reliability.md)."""
        return not self.ok and self.error is not None and self.error.code in UNCONFIRMED_CODES

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
