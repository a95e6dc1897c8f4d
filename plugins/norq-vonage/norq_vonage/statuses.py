"""Vonage's SMS status codes, as Norq's normalised codes and what to do next.

The legacy SMS API answers HTTP 200 whatever happened; each part of the
message carries its own ``status`` ("0" is success). Credentials, account
and quota problems are this account's, so another provider may succeed
(``failover``); a wrong message or number fails everywhere (``final``).
"""

from __future__ import annotations

import norq

E = norq.ErrorCode
RETRY = norq.Disposition.RETRY
FAILOVER = norq.Disposition.FAILOVER
FINAL = norq.Disposition.FINAL

#: A status Vonage adds later is ``rejected``/``final``, the table's default for unknown codes.
VONAGE_STATUSES = norq.ErrorTable(
    {
        "1": (E.RATE_LIMITED, RETRY),  # Throttled
        "2": (E.INVALID_MESSAGE, FINAL),  # Missing Parameters
        "3": (E.INVALID_MESSAGE, FINAL),  # Invalid Parameters
        "4": (E.INVALID_CREDENTIALS, FAILOVER),  # Invalid Credentials
        "5": (E.PROVIDER_UNAVAILABLE, RETRY),  # Internal Error
        "6": (E.INVALID_RECIPIENT, FINAL),  # Invalid Message (unroutable number)
        "7": (E.RECIPIENT_UNREACHABLE, FINAL),  # Number Barred
        "8": (E.PERMISSION_DENIED, FAILOVER),  # Partner Account Barred
        "9": (E.QUOTA_EXCEEDED, FAILOVER),  # Partner Quota Violation (no credit)
        "10": (E.PROVIDER_UNAVAILABLE, RETRY),  # Too Many Existing Binds
        "11": (E.PERMISSION_DENIED, FAILOVER),  # Account Not Enabled For HTTP
        "12": (E.MESSAGE_TOO_LONG, FINAL),  # Message Too Long
        "14": (E.INVALID_CREDENTIALS, FAILOVER),  # Invalid Signature
        # The next provider sends from its own sender, so it may well succeed.
        "15": (E.INVALID_SENDER, FAILOVER),  # Invalid Sender Address
        "22": (E.INVALID_MESSAGE, FINAL),  # Invalid Network Code
        "23": (E.INVALID_MESSAGE, FINAL),  # Invalid Callback URL
        # Trial accounts reach only whitelisted numbers; a paid provider reaches all.
        "29": (E.PERMISSION_DENIED, FAILOVER),  # Non-Whitelisted Destination
        "32": (E.INVALID_CREDENTIALS, FAILOVER),  # Signature And API Secret Disallowed
        "33": (E.RECIPIENT_UNREACHABLE, FINAL),  # Number De-activated
    }
)
