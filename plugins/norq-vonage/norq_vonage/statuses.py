"""Vonage's SMS status codes, as Norq's normalised codes and what to do next.

The legacy SMS API answers HTTP 200 whatever happened; each part of the
message carries its own ``status`` ("0" is success). Credentials, account
and quota problems are this account's, so another provider may succeed
(``failover``); a wrong message or number fails everywhere (``final``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

import norq

E = norq.ErrorCode
RETRY = norq.Disposition.RETRY
FAILOVER = norq.Disposition.FAILOVER
FINAL = norq.Disposition.FINAL


class Meaning(NamedTuple):
    code: str
    disposition: norq.Disposition


VONAGE_STATUSES: Mapping[str, Meaning] = MappingProxyType(
    {
        "1": Meaning(E.RATE_LIMITED, RETRY),  # Throttled
        "2": Meaning(E.INVALID_MESSAGE, FINAL),  # Missing Parameters
        "3": Meaning(E.INVALID_MESSAGE, FINAL),  # Invalid Parameters
        "4": Meaning(E.INVALID_CREDENTIALS, FAILOVER),  # Invalid Credentials
        "5": Meaning(E.PROVIDER_UNAVAILABLE, RETRY),  # Internal Error
        "6": Meaning(E.INVALID_RECIPIENT, FINAL),  # Invalid Message (unroutable number)
        "7": Meaning(E.RECIPIENT_UNREACHABLE, FINAL),  # Number Barred
        "8": Meaning(E.PERMISSION_DENIED, FAILOVER),  # Partner Account Barred
        "9": Meaning(E.QUOTA_EXCEEDED, FAILOVER),  # Partner Quota Violation (no credit)
        "10": Meaning(E.PROVIDER_UNAVAILABLE, RETRY),  # Too Many Existing Binds
        "11": Meaning(E.PERMISSION_DENIED, FAILOVER),  # Account Not Enabled For HTTP
        "12": Meaning(E.MESSAGE_TOO_LONG, FINAL),  # Message Too Long
        "14": Meaning(E.INVALID_CREDENTIALS, FAILOVER),  # Invalid Signature
        # The next provider sends from its own sender, so it may well succeed.
        "15": Meaning(E.INVALID_SENDER, FAILOVER),  # Invalid Sender Address
        "22": Meaning(E.INVALID_MESSAGE, FINAL),  # Invalid Network Code
        "23": Meaning(E.INVALID_MESSAGE, FINAL),  # Invalid Callback URL
        # Trial accounts reach only whitelisted numbers; a paid provider reaches all.
        "29": Meaning(E.PERMISSION_DENIED, FAILOVER),  # Non-Whitelisted Destination
        "32": Meaning(E.INVALID_CREDENTIALS, FAILOVER),  # Signature And API Secret Disallowed
        "33": Meaning(E.RECIPIENT_UNREACHABLE, FINAL),  # Number De-activated
    }
)

#: A status Vonage adds later: the message was refused and nothing says another try helps.
UNKNOWN_STATUS = Meaning(E.REJECTED, FINAL)


def meaning_of(status: str) -> Meaning:
    return VONAGE_STATUSES.get(status, UNKNOWN_STATUS)
