"""What an observer of the delivery flow is told: the contract telemetry implements. No I/O.

A :class:`norq.Norq` given an :class:`Observer` reports to it each
notification it delivers (:meth:`Observer.start`, then
:meth:`Observation.finish` with the receipt) and every attempt in between
(:meth:`Observation.attempt`), retries and failover included.
:mod:`norq.contrib.opentelemetry` turns these reports into spans and metrics.
An observer must not raise: what it is told has already happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from norq.message import Message
    from norq.provider import Provider
    from norq.receipt import Receipt
    from norq.send_result import SendResult


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One attempt as the executor saw it.

    ``number`` counts from 1 within one provider's retries; ``status_code`` is
    the answer's status (``None`` when none came back); ``reading`` is what the
    answer meant (accepted, or failed with a code and a disposition);
    ``retrying`` is true when the same provider is tried again. Times are
    :func:`time.time_ns` values taken around the transport call only, so a
    wait for a rate-limit slot is not counted as latency.
    """

    number: int
    status_code: int | None
    reading: SendResult
    retrying: bool
    started_ns: int
    ended_ns: int


class Observation(Protocol):
    """The observation of one notification, from its first attempt to its receipt."""

    def attempt(self, provider: Provider, previous: int, record: AttemptRecord) -> None:
        """An attempt through ``provider``, after ``previous`` attempts on earlier providers."""

    def finish(self, receipt: Receipt) -> None:
        """The notification's outcome; nothing more is reported for it."""


class Observer(Protocol):
    """Told about every notification a :class:`norq.Norq` delivers."""

    def start(self, message: Message) -> Observation:
        """A notification is about to be delivered."""
