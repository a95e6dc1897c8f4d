"""What a failure means for delivery, when to try a request again, and how long to wait first.

A failed attempt has a :class:`Disposition`: the executor retries ``retry``
failures by the request's :class:`RetryPolicy`, and the delivery flow fails
over on ``retry`` (once retries are spent) and ``failover``, never on
``final``. Each normalised error code has a default disposition
(:data:`DEFAULT_DISPOSITIONS`); a provider may declare its own per code.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING

from pydantic import Field

from norq.error_codes import ErrorCode
from norq.provider_config import ProviderConfig

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
        # The provider could not say whether it sent: as good as no answer.
        ErrorCode.OUTCOME_UNKNOWN: Disposition.FINAL,
    }
)


def disposition_of(code: str) -> Disposition:
    """The default disposition of a normalised code; unknown codes are ``final``."""
    return DEFAULT_DISPOSITIONS.get(code, Disposition.FINAL)


SERVER_ERRORS = frozenset(range(500, 600))
DEFAULT_RETRY_STATUSES = frozenset({429}) | SERVER_ERRORS


class RetryPolicy(ProviderConfig):
    """How the executor retries one request; a provider's ``retry:`` section in YAML.

    The wait before retry *n* (counting from 0) is ``backoff * multiplier**n``,
    capped at ``max_backoff`` and stretched by up to ``jitter`` (a fraction) so
    that many clients failing together do not retry in lockstep. A
    wait hint from the provider (``Retry-After``, a declared rate-limit reset
    header, or one its ``read_send`` found) replaces the computed wait when it
    is at most ``retry_after_max`` seconds; a longer one ends the retries at
    once, because waiting minutes inside a send call helps nobody.

    A connect error (the request never left) is always retryable. A connection
    lost after the request was written is retried only with
    ``retry_unconfirmed``: the provider may already have accepted the message,
    and a duplicate SMS is worse than a reported failure.

    Its fields and their bounds are declared once, here: a provider's
    defaults, the YAML's overrides and the config file's JSON Schema all
    come from them.
    """

    max_retries: int = Field(default=2, ge=0, le=20, description="Retries after the first attempt")
    backoff: float = Field(default=0.5, ge=0, le=300, description="First wait, seconds")
    multiplier: float = Field(default=2.0, ge=1, le=10, description="Growth of each wait")
    max_backoff: float = Field(default=30.0, ge=0, le=3600, description="Longest wait, seconds")
    jitter: float = Field(default=0.25, ge=0, le=1, description="Random share of each wait")
    retry_after_max: float = Field(
        default=60.0, ge=0, le=3600, description="Longest Retry-After honoured, seconds"
    )
    retry_statuses: frozenset[int] = Field(
        default=DEFAULT_RETRY_STATUSES, description="HTTP statuses retried"
    )
    retry_unconfirmed: bool = Field(
        default=False, description="Retry a request whose answer was lost (may duplicate)"
    )

    def overridden(self, overrides: RetryPolicy) -> RetryPolicy:
        """This policy with the fields ``overrides`` was given explicitly (the YAML's keys)."""
        return self.model_copy(
            update={name: getattr(overrides, name) for name in overrides.model_fields_set}
        )

    def delay(self, retry_number: int, rng: random.Random) -> float:
        base = min(self.backoff * self.multiplier**retry_number, self.max_backoff)
        return base * (1.0 + self.jitter * rng.random())


#: The policy of a request that names none.
DEFAULT_RETRY = RetryPolicy()
