"""When to try a request again, and how long to wait first."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import random

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
