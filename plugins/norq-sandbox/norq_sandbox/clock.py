"""The sandbox's clock: real time plus an offset a test can move forward.

Scheduled messages wait for ``SendAt``, which Twilio requires to be at least
15 minutes away; moving the clock lets a test or a developer see a message
released without waiting. Waiters on any event loop are woken when it moves.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import threading
from collections.abc import Callable


class SandboxClock:
    """``now()`` is the wall clock plus everything :meth:`advance` added. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = dt.timedelta()
        self._listeners: list[Callable[[], None]] = []

    def now(self) -> dt.datetime:
        with self._lock:
            offset = self._offset
        return dt.datetime.now(dt.UTC) + offset

    @property
    def offset(self) -> dt.timedelta:
        with self._lock:
            return self._offset

    def advance(self, seconds: float) -> dt.datetime:
        """Move the clock forward by ``seconds`` and wake every waiter; return the new now."""
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward: give seconds >= 0")
        with self._lock:
            self._offset += dt.timedelta(seconds=seconds)
            listeners = list(self._listeners)
        for listener in listeners:
            listener()
        return self.now()

    async def sleep_until(self, moment: dt.datetime) -> None:
        """Return once ``now()`` reaches ``moment``, whether by waiting or by :meth:`advance`."""
        loop = asyncio.get_running_loop()
        moved = asyncio.Event()

        def wake() -> None:
            # RuntimeError: the waiter's loop has closed, so nobody is left to wake.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(moved.set)

        with self._lock:
            self._listeners.append(wake)
        try:
            while (remaining := (moment - self.now()).total_seconds()) > 0:
                moved.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(moved.wait(), remaining)
        finally:
            with self._lock:
                self._listeners.remove(wake)
