"""What a failure means for delivery, when to try a request again, and how long to wait first.

A failed attempt has a :class:`Disposition`: the executor retries ``retry``
failures by the request's :class:`RetryPolicy`, and the delivery flow fails
over on ``retry`` (once retries are spent) and ``failover``, never on
``final``. Each normalised error code has a default disposition
(:data:`DEFAULT_DISPOSITIONS`); a provider may declare its own per code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from norq.error_codes import ErrorCode

if TYPE_CHECKING:
    import random


class Disposition(StrEnum):
    """What to do after a failed attempt."""

    #: Transient here: retry on this provider with backoff, then fail over.
    RETRY = "retry"
    #: Do not retry here, but the next provider may succeed.
    FAILOVER = "failover"
    #: The message itself is wrong: stop, no failover.
    FINAL = "final"


#: The disposition of each normalised code, unless the provider says otherwise
#: for its own code. docs/plugins.md shows this table; a test keeps them in step.
DEFAULT_DISPOSITIONS: Mapping[str, Disposition] = MappingProxyType(
    {
        ErrorCode.INVALID_CREDENTIALS: Disposition.FAILOVER,
        ErrorCode.PERMISSION_DENIED: Disposition.FAILOVER,
        # Out of credit or over a plan's quota: this account's problem, not the message's.
        ErrorCode.QUOTA_EXCEEDED: Disposition.FAILOVER,
        ErrorCode.RATE_LIMITED: Disposition.RETRY,
        ErrorCode.INVALID_RECIPIENT: Disposition.FINAL,
        ErrorCode.RECIPIENT_UNREACHABLE: Disposition.FINAL,
        ErrorCode.RECIPIENT_OPTED_OUT: Disposition.FINAL,
        ErrorCode.INVALID_SENDER: Disposition.FAILOVER,
        ErrorCode.MESSAGE_TOO_LONG: Disposition.FINAL,
        ErrorCode.INVALID_MESSAGE: Disposition.FINAL,
        ErrorCode.TEMPLATE_ERROR: Disposition.FINAL,
        ErrorCode.NOT_FOUND: Disposition.FAILOVER,
        ErrorCode.REJECTED: Disposition.FINAL,
        ErrorCode.PROVIDER_UNAVAILABLE: Disposition.RETRY,
        ErrorCode.CONNECT_ERROR: Disposition.RETRY,
        # The request may have arrived: another attempt anywhere risks a
        # duplicate message (RetryPolicy.retry_unconfirmed makes these retry).
        ErrorCode.TIMEOUT: Disposition.FINAL,
        ErrorCode.CONNECTION_LOST: Disposition.FINAL,
        ErrorCode.BAD_RESPONSE: Disposition.FINAL,
        # The run stopped with the request in flight: it may have arrived.
        ErrorCode.INTERRUPTED: Disposition.FINAL,
    }
)


def disposition_of(code: str) -> Disposition:
    """The default disposition of a normalised code; unknown codes are ``final``."""
    return DEFAULT_DISPOSITIONS.get(code, Disposition.FINAL)


SERVER_ERRORS = frozenset(range(500, 600))
DEFAULT_RETRY_STATUSES = frozenset({429}) | SERVER_ERRORS


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How the executor retries one request.

    The wait before retry *n* (counting from 0) is ``backoff * multiplier**n``,
    capped at ``max_backoff`` and stretched by up to ``jitter`` (a fraction) so
    that many clients failing together do not retry in lockstep. A
    wait hint from the provider (``Retry-After``, a declared rate-limit reset
    header, or one its ``read_send`` found) replaces the computed wait when it
    is at most ``retry_after_max`` seconds; a longer one ends the retries at once, because
    waiting minutes inside a send call helps nobody.

    A connect error (the request never left) is always retryable. A connection
    lost after the request was written is retried only with
    ``retry_unconfirmed``: the provider may already have accepted the message,
    and a duplicate SMS is worse than a reported failure.
    """

    max_retries: int = 2
    backoff: float = 0.5
    multiplier: float = 2.0
    max_backoff: float = 30.0
    jitter: float = 0.25
    retry_after_max: float = 60.0
    retry_statuses: frozenset[int] = field(default=DEFAULT_RETRY_STATUSES)
    retry_unconfirmed: bool = False

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        if self.backoff < 0 or self.max_backoff < 0 or self.retry_after_max < 0:
            raise ValueError("backoff, max_backoff and retry_after_max must be 0 or more")
        if self.multiplier < 1:
            raise ValueError("multiplier must be at least 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be between 0 and 1")

    def with_overrides(self, overrides: dict[str, Any]) -> RetryPolicy:
        if "retry_statuses" in overrides:
            overrides = {**overrides, "retry_statuses": frozenset(overrides["retry_statuses"])}
        return replace(self, **overrides)

    def delay(self, retry_number: int, rng: random.Random) -> float:
        base = min(self.backoff * self.multiplier**retry_number, self.max_backoff)
        return base * (1.0 + self.jitter * rng.random())
