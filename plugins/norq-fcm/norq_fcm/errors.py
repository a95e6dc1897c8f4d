"""FCM's error codes as Norq's normalised codes and what to do next.

An FCM error answer is a ``google.rpc.Status``: ``{"error": {"code": 404,
"message": ..., "status": "NOT_FOUND", "details": [{"@type":
"type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode":
"UNREGISTERED"}]}}``. The FCM ``errorCode`` says the most; without one, the
``status`` is read. ``UNREGISTERED`` means the app is gone from that device
(uninstalled, or the token expired): it is ``final``, and the token should
be dropped, never retried.
"""

from __future__ import annotations

from typing import Any

import norq

E = norq.ErrorCode
RETRY = norq.Disposition.RETRY
FAILOVER = norq.Disposition.FAILOVER
FINAL = norq.Disposition.FINAL

FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"

FCM_ERRORS = norq.ErrorTable(
    {
        # FCM's own codes (FcmError.errorCode).
        "UNREGISTERED": (E.RECIPIENT_UNREACHABLE, FINAL),
        "INVALID_ARGUMENT": (E.INVALID_MESSAGE, FINAL),
        # The token belongs to another Firebase project: another instance may own it.
        "SENDER_ID_MISMATCH": (E.PERMISSION_DENIED, FAILOVER),
        "QUOTA_EXCEEDED": (E.RATE_LIMITED, RETRY),
        "UNAVAILABLE": (E.PROVIDER_UNAVAILABLE, RETRY),
        "INTERNAL": (E.PROVIDER_UNAVAILABLE, RETRY),
        # The APNs certificate or web push key uploaded to the Firebase project was refused.
        "THIRD_PARTY_AUTH_ERROR": (E.INVALID_CREDENTIALS, FAILOVER),
        "UNSPECIFIED_ERROR": (E.REJECTED, FINAL),
        # google.rpc statuses, for answers without an FcmError.
        "UNAUTHENTICATED": (E.INVALID_CREDENTIALS, FAILOVER),
        "PERMISSION_DENIED": (E.PERMISSION_DENIED, FAILOVER),
        "NOT_FOUND": (E.NOT_FOUND, FAILOVER),
        "RESOURCE_EXHAUSTED": (E.RATE_LIMITED, RETRY),
    }
)

#: How the default reader finds the message and the wait hint (Retry-After).
FCM_ERROR_FORMAT = norq.ErrorFormat(code_path=None, message_path="$.error.message")


def error_code(data: Any) -> str | None:
    """The FCM ``errorCode`` of an error answer, else its ``status``, else ``None``."""
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return None
    details = error.get("details")
    for detail in details if isinstance(details, list) else ():
        if isinstance(detail, dict) and detail.get("@type") == FCM_ERROR_TYPE:
            code = detail.get("errorCode")
            if isinstance(code, str) and code:
                return code
    status = error.get("status")
    return status if isinstance(status, str) and status else None
