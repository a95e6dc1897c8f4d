"""What Twilio's error codes mean in Norq's normalised terms.

Twilio answers a failed request with ``{code, message, more_info, status}``;
the executor keeps all of it on the receipt and uses this table to pick the
normalised :class:`~norq.receipt.ErrorCode`. A code not listed here falls back
to one derived from the HTTP status (401 → ``invalid_credentials``, 429 →
``rate_limited``, 5xx → ``provider_unavailable``...). The 30xxx codes arrive
in status callbacks rather than API answers; they are listed so a delivery
failure reads the same way. docs/providers/twilio.md shows this table, and a
test keeps the two in step.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from norq.error_codes import ErrorCode

TWILIO_ERROR_CODES: Mapping[str, ErrorCode] = MappingProxyType(
    {
        # Account and request
        "20003": ErrorCode.INVALID_CREDENTIALS,  # authentication failed
        "20005": ErrorCode.PERMISSION_DENIED,  # account not active
        "20404": ErrorCode.NOT_FOUND,  # no such resource (a message SID)
        "20429": ErrorCode.RATE_LIMITED,  # too many requests
        "20001": ErrorCode.INVALID_MESSAGE,  # unknown parameter
        # Recipient
        "21211": ErrorCode.INVALID_RECIPIENT,  # 'To' is not a valid phone number
        "21604": ErrorCode.INVALID_RECIPIENT,  # 'To' is required
        "21266": ErrorCode.INVALID_RECIPIENT,  # 'To' and 'From' are the same
        "21614": ErrorCode.RECIPIENT_UNREACHABLE,  # 'To' is not a mobile number
        "21612": ErrorCode.RECIPIENT_UNREACHABLE,  # 'To' is not reachable via SMS
        "21608": ErrorCode.RECIPIENT_UNREACHABLE,  # trial account: 'To' is not verified
        "21610": ErrorCode.RECIPIENT_OPTED_OUT,  # recipient replied STOP
        # Sender and permission
        "21212": ErrorCode.INVALID_SENDER,  # 'From' is not a valid phone number
        "21603": ErrorCode.INVALID_SENDER,  # 'From' is required
        "21606": ErrorCode.INVALID_SENDER,  # 'From' is not a message-capable Twilio number
        "21703": ErrorCode.INVALID_SENDER,  # messaging service sender pool exhausted
        "21704": ErrorCode.INVALID_SENDER,  # messaging service has no numbers
        "21408": ErrorCode.PERMISSION_DENIED,  # sending to this region not enabled
        "21611": ErrorCode.RATE_LIMITED,  # 'From' has too many queued messages
        # Message
        "21617": ErrorCode.MESSAGE_TOO_LONG,  # body over 1600 characters
        "21602": ErrorCode.INVALID_MESSAGE,  # body (or media) is required
        "21609": ErrorCode.INVALID_MESSAGE,  # invalid StatusCallback URL
        "21620": ErrorCode.INVALID_MESSAGE,  # invalid media URL
        "21623": ErrorCode.INVALID_MESSAGE,  # too many media URLs
        "35114": ErrorCode.INVALID_MESSAGE,  # SendAt outside the scheduling window
        "35115": ErrorCode.INVALID_MESSAGE,  # SendAt outside the scheduling window
        # Delivery (status callbacks)
        "30001": ErrorCode.RATE_LIMITED,  # queue overflow
        "30002": ErrorCode.PERMISSION_DENIED,  # account suspended
        "30003": ErrorCode.RECIPIENT_UNREACHABLE,  # handset unreachable
        "30004": ErrorCode.REJECTED,  # message blocked
        "30005": ErrorCode.INVALID_RECIPIENT,  # unknown destination handset
        "30006": ErrorCode.RECIPIENT_UNREACHABLE,  # landline or unreachable carrier
        "30007": ErrorCode.REJECTED,  # filtered by the carrier
        "30008": ErrorCode.PROVIDER_UNAVAILABLE,  # unknown error
    }
)


def normalised_error(code: str | int | None) -> ErrorCode | None:
    """Norq's code for a Twilio error code, or None when the code is not listed."""
    if code is None:
        return None
    return TWILIO_ERROR_CODES.get(str(code).strip())
