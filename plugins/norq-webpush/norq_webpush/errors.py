"""Push services' answers as Norq's normalised codes and what to do next.

Web Push failures are told by the HTTP status (RFC 8030, section 8; RFC
8292, section 4); the bodies differ from one push service to the next. A
subscription the service no longer knows (404, 410) is gone for good: the
browser unsubscribed or the subscription expired, so it is ``final`` and the
address should be dropped. A payload too large (413) is ``final`` too.
"""

from __future__ import annotations

import norq

E = norq.ErrorCode
RETRY = norq.Disposition.RETRY
FAILOVER = norq.Disposition.FAILOVER
FINAL = norq.Disposition.FINAL

WEBPUSH_ERRORS = norq.ErrorTable(
    {
        "400": (E.INVALID_MESSAGE, FINAL),
        # A token still refused once renewed: the key or the subject is wrong.
        "401": (E.INVALID_CREDENTIALS, FAILOVER),
        # A subscription made for another application server key (a restricted one).
        "403": (E.PERMISSION_DENIED, FAILOVER),
        "404": (E.RECIPIENT_UNREACHABLE, FINAL),
        "410": (E.RECIPIENT_UNREACHABLE, FINAL),
        "413": (E.MESSAGE_TOO_LONG, FINAL),
        "429": (E.RATE_LIMITED, RETRY),
        "500": (E.PROVIDER_UNAVAILABLE, RETRY),
        "502": (E.PROVIDER_UNAVAILABLE, RETRY),
        "503": (E.PROVIDER_UNAVAILABLE, RETRY),
        "504": (E.PROVIDER_UNAVAILABLE, RETRY),
    }
)
