"""An account's limits, enforced the way Twilio enforces them: 429 with error 20429.

``rate`` is requests per second over the whole account, kept by a token bucket
holding one second's worth (so a sender pacing itself evenly at the rate never
sees a 429, and one that bursts past it does). ``max_concurrent`` is how many
requests may be in progress at once. Either may be ``None``: no limit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


class AccountLimits:
    """Decides, request by request, whether the account is over a limit. Thread-safe."""

    def __init__(
        self,
        rate: float | None = None,
        max_concurrent: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate is not None and not rate > 0:
            raise ValueError(f"the account rate must be more than 0, got {rate}")
        if max_concurrent is not None and max_concurrent < 1:
            raise ValueError(f"max_concurrent must be at least 1, got {max_concurrent}")
        self.rate = rate
        self.max_concurrent = max_concurrent
        self._clock = clock
        self._lock = threading.Lock()
        self._capacity = max(1.0, rate) if rate is not None else 0.0
        self._tokens = self._capacity
        self._refilled = clock()
        self._in_progress = 0
        self.rejected = 0

    def enter(self) -> bool:
        """Admit a request (call :meth:`leave` when it is answered), or count a rejection."""
        with self._lock:
            if self.max_concurrent is not None and self._in_progress >= self.max_concurrent:
                self.rejected += 1
                return False
            if self.rate is not None:
                now = self._clock()
                self._tokens = min(
                    self._capacity, self._tokens + (now - self._refilled) * self.rate
                )
                self._refilled = now
                if self._tokens < 1:
                    self.rejected += 1
                    return False
                self._tokens -= 1
            self._in_progress += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self._in_progress -= 1

    def reset(self) -> None:
        """A full bucket and a zero rejection count (requests in progress stay counted)."""
        with self._lock:
            self._tokens = self._capacity
            self._refilled = self._clock()
            self.rejected = 0

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "rate": self.rate,
                "max_concurrent": self.max_concurrent,
                "in_progress": self._in_progress,
                "rejected": self.rejected,
            }
