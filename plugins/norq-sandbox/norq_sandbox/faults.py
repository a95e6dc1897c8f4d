"""Fault injection: what the next API requests suffer, queued or at random.

A fault is written as ``KIND[:ARG]``, the same in the CLI, the admin endpoint
and Python:

- ``429`` or ``429:SECONDS`` — Too Many Requests, with ``Retry-After`` when given;
- ``500``, ``502``, ``503`` — a server error;
- ``delay:SECONDS`` — wait, then answer normally;
- ``drop`` — read the request, then close the connection without answering
  (before any message is created);
- ``accept-drop`` — handle the request (a message *is* created), then close the
  connection before the answer goes out: the client cannot tell whether it was
  accepted, which is how duplicates happen in real life;
- ``body-error`` — answer ``200`` with a failure inside the body, for the APIs
  that report failures that way (Vonage's per-message ``status``, Slack's
  ``"ok": false``).

Each emulated API has its own plan, and renders a fault in that provider's
own words: Twilio's and SendGrid's 429 carry their rate-limit headers, Vonage
answers a 429 as ``status`` 1 (Throttled) inside a 200, Slack with
``Retry-After``, and the SMTP server with a ``451`` reply.

Queued faults apply to the next requests in order; once the queue is empty a
``rate`` (0–1) draws faults at random from ``kinds`` with a seedable RNG, for
soak runs.
"""

from __future__ import annotations

import random
import re
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

KINDS = ("429", "500", "502", "503", "delay", "drop", "accept-drop", "body-error")
# What every emulated API can suffer; body-error only where a 200 can carry a failure.
COMMON_KINDS = frozenset(KINDS) - {"body-error"}
_SPEC = re.compile(
    r"^(?P<kind>429|500|502|503|delay|drop|accept-drop|body-error)"
    r"(?::(?P<arg>[0-9]+(?:\.[0-9]+)?))?$"
)
_COUNTED = re.compile(r"^(?P<spec>.+?)(?:x(?P<count>[0-9]+))?$")


class FaultSpecError(ValueError):
    """A fault written in a way the sandbox does not understand."""


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected fault. ``seconds`` is the Retry-After of a 429 or a delay's length."""

    kind: str
    seconds: float | None = None

    @property
    def status(self) -> int | None:
        """The HTTP status this fault answers with, if it answers at all."""
        return int(self.kind) if self.kind.isdigit() else None

    def __str__(self) -> str:
        if self.seconds is None:
            return self.kind
        return f"{self.kind}:{self.seconds:g}"


def parse_fault(spec: str) -> Fault:
    """``"429:2"`` → ``Fault("429", 2.0)``; raise :class:`FaultSpecError` if malformed."""
    match = _SPEC.fullmatch(spec.strip())
    if match is None:
        raise FaultSpecError(
            f"unknown fault {spec!r}: use 429, 429:SECONDS, 500, 502, 503, delay:SECONDS,"
            " drop, accept-drop or body-error"
        )
    kind, arg = match["kind"], match["arg"]
    if kind == "delay" and arg is None:
        raise FaultSpecError("a delay needs its length: delay:SECONDS")
    if kind not in ("429", "delay") and arg is not None:
        raise FaultSpecError(f"fault {kind!r} takes no argument")
    return Fault(kind, None if arg is None else float(arg))


def parse_counted(spec: str) -> tuple[Fault, int]:
    """``"503x2"`` → the fault and how many requests it applies to (the CLI form)."""
    match = _COUNTED.fullmatch(spec.strip())
    assert match is not None  # the pattern matches any non-empty string
    count = int(match["count"]) if match["count"] else 1
    return parse_fault(match["spec"]), count


class FaultPlan:
    """The faults waiting for the next requests, plus an optional random rate. Thread-safe."""

    def __init__(self, api: str = "twilio", supported: Iterable[str] = COMMON_KINDS) -> None:
        self.api = api
        self.supported = frozenset(supported)
        self._lock = threading.Lock()
        self._queue: deque[Fault] = deque()
        self._rate = 0.0
        self._kinds: tuple[Fault, ...] = ()
        self._seed: int | None = None
        self._rng = random.Random()
        self.injected = 0

    def add(self, fault: Fault | str, count: int = 1) -> None:
        """Make the next ``count`` requests (after those already queued) suffer ``fault``."""
        if count < 1:
            raise FaultSpecError("count must be at least 1")
        chosen = self._check(parse_fault(fault) if isinstance(fault, str) else fault)
        with self._lock:
            self._queue.extend([chosen] * count)

    def set_rate(
        self, rate: float, kinds: Iterable[Fault | str] = ("429", "503"), seed: int | None = None
    ) -> None:
        """Fault a fraction ``rate`` of requests at random, drawn from ``kinds``."""
        if not 0.0 <= rate <= 1.0:
            raise FaultSpecError(f"the fault rate must be between 0 and 1, got {rate}")
        chosen = tuple(self._check(parse_fault(k) if isinstance(k, str) else k) for k in kinds)
        if rate > 0 and not chosen:
            raise FaultSpecError("a fault rate needs at least one fault kind")
        with self._lock:
            self._rate = rate
            self._kinds = chosen
            self._seed = seed
            self._rng = random.Random(seed)

    def _check(self, fault: Fault) -> Fault:
        if fault.kind not in self.supported:
            raise FaultSpecError(
                f"{self.api} cannot suffer {fault.kind!r}: none of its successful answers "
                f"can carry a failure; use one of {', '.join(sorted(self.supported))}"
            )
        return fault

    def clear(self) -> None:
        """No more faults: empty the queue and set the rate to 0."""
        with self._lock:
            self._queue.clear()
            self._rate = 0.0
            self._kinds = ()

    def reset(self) -> None:
        """As :meth:`clear`, and count injected faults from zero again."""
        self.clear()
        with self._lock:
            self._seed = None
            self.injected = 0

    def next(self) -> Fault | None:
        """The fault the request arriving now suffers, if any."""
        with self._lock:
            fault: Fault | None = None
            if self._queue:
                fault = self._queue.popleft()
            elif self._rate > 0 and self._rng.random() < self._rate:
                fault = self._rng.choice(self._kinds)
            if fault is not None:
                self.injected += 1
            return fault

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "queued": [str(fault) for fault in self._queue],
                "rate": self._rate,
                "kinds": [str(fault) for fault in self._kinds],
                "seed": self._seed,
                "injected": self.injected,
            }
