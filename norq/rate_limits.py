"""Rate limits: how fast, and how many at once, requests may go to a provider.

Three limits, each optional, declared per provider instance
(``providers.<name>.rate_limits``):

- ``requests_per_second``: every request of the instance, retries included;
- ``max_in_flight``: requests sent and not yet answered;
- ``sender_per_second``: messages from one sender (Twilio: the ``from`` number or
  the Messaging Service), shared by every instance that sends from it.

These are values only; :mod:`norq.throttle` holds requests to them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RateLimits:
    """The limits of one provider instance; ``None`` means no limit of that kind."""

    requests_per_second: float | None = None
    max_in_flight: int | None = None
    sender_per_second: float | None = None

    def __post_init__(self) -> None:
        for name in ("requests_per_second", "sender_per_second"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be more than 0, got {value}")
        if self.max_in_flight is not None and self.max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, got {self.max_in_flight}")

    @property
    def active(self) -> bool:
        return any(
            value is not None
            for value in (self.requests_per_second, self.max_in_flight, self.sender_per_second)
        )
