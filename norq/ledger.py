"""The send ledger: what a bulk send did to each recipient, kept so that a run
stopped half-way resumes without sending anyone a message twice.

This module is the contract, with no I/O: the :class:`Ledger` protocol, its
value types and the one rule that decides whether a row may be sent
(:func:`decide`). Two implementations keep it: :class:`norq.SqliteLedger`
(one file, for runs in one process: the library and ``norq send --journal``)
and :class:`norq.jobs.redis_ledger.RedisLedger` (one job shared by Celery
workers on many machines).

A run is one bulk send: one channel, one content, an input of recipients.
Each recipient is keyed by its ``row``, its position in the input (from 1),
and moves through these states::

    (no entry) --claim--> sending --record--> accepted | failed | unconfirmed

``sending`` is written (and durable) *before* the request goes out, the
outcome when it returns. ``unconfirmed`` means a request went out and no
answer came back (a timeout, a lost connection, a sender that died or was
stopped in flight): the provider may or may not have it. Sending that row
again may duplicate the message, so a claim does not grant it; the bulk
engine asks the provider first (:meth:`Ledger.resolve` records the answer)
and sends it again without asking only when the caller allows duplicates.
A ``failed`` row whose failure is *final* (the provider refused this message
itself: an invalid number) is not sent again either, unless asked for.

The protocol works in batches: one call claims many rows and one records
many outcomes, each a single round trip (one SQLite transaction, one Redis
script).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

from norq.errors import NorqError
from norq.receipt import Receipt

if TYPE_CHECKING:
    from norq.notification import Notification

_NO_DATA: Mapping[str, Any] = MappingProxyType({})


class LedgerError(NorqError):
    """The ledger cannot be used for this run: another run's file or job, a changed
    input, a file that is not a ledger."""


class EntryState(StrEnum):
    """Where one recipient of a run stands."""

    #: Claimed: its request is about to go out, or is out.
    SENDING = "sending"
    #: The provider accepted it (``receipt.ok``). Never sent again.
    ACCEPTED = "accepted"
    #: The provider answered and did not accept it, or it could not be built.
    FAILED = "failed"
    #: Sent, no answer: may or may not have been accepted.
    UNCONFIRMED = "unconfirmed"


def state_for(receipt: Receipt) -> EntryState:
    """The state a receipt puts its recipient in."""
    if receipt.ok:
        return EntryState.ACCEPTED
    return EntryState.UNCONFIRMED if receipt.unconfirmed else EntryState.FAILED


def content_fingerprint(shared: Notification) -> str:
    """A digest of what every recipient of a run gets, so a resume can check it is the same run."""
    content = {
        "channel": shared.channel,
        "body": shared.body,
        "template": shared.template,
        "data": dict(shared.data),
        "fields": dict(shared.fields),
        "provider": shared.provider,
    }
    text = json.dumps(content, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class RunInfo:
    """The run a ledger records. ``started_at`` is when it first started (UTC)."""

    channel: str
    fingerprint: str
    started_at: dt.datetime


@dataclass(frozen=True, slots=True)
class LedgerRow:
    """A row to claim: its position in the input (from 1), its address and its own data."""

    row: int
    to: str
    data: Mapping[str, Any] = field(default_factory=lambda: _NO_DATA)


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One recipient of a run, as the ledger last recorded it.

    ``sends`` counts the claims granted for this row over all resumes.
    ``doubtful`` is true while an earlier send of the row went unanswered and
    the provider was not asked about it: sending the row now may duplicate it,
    even if its latest outcome is a definite failure. ``final`` is true when
    the latest failure was final (see :attr:`Receipt.final`). ``claimed_at``
    is when the row was last claimed: its request went out after that.
    """

    row: int
    to: str
    state: EntryState
    data: Mapping[str, Any] = field(default_factory=lambda: _NO_DATA)
    provider: str | None = None
    message_id: str | None = None
    error_code: str | None = None
    sends: int = 0
    doubtful: bool = False
    final: bool = False
    claimed_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class ResendPolicy:
    """What a claim may grant beyond rows never sent and rows that failed safely.

    ``resend_unconfirmed``: rows whose earlier send went unanswered and that the
    provider could not be asked about (each may become a duplicate message).
    ``retry_final``: rows whose last failure was final (an invalid number),
    which would most likely fail the same way again.
    """

    resend_unconfirmed: bool = False
    retry_final: bool = False


@dataclass(frozen=True, slots=True)
class Claim:
    """The answer to a claim of one row.

    ``granted``: the caller now holds the row (it is ``sending``) and sends it.
    ``previous``: the row's state before the claim (``None``: never seen).
    ``may_duplicate``: granted although an earlier send may have been accepted.
    When not granted, ``doubtful`` says an earlier send may have arrived unseen
    (ask the provider, :meth:`Ledger.resolve`), ``final`` that the row failed
    for good earlier, and ``previous`` is ``sending`` while another live sender
    holds it.
    """

    row: int
    granted: bool
    previous: EntryState | None
    may_duplicate: bool = False
    doubtful: bool = False
    final: bool = False


def decide(
    row: int, previous: EntryState | None, doubtful: bool, final: bool, policy: ResendPolicy
) -> Claim:
    """Whether a row may be sent now, from what the ledger holds. Pure; every backend uses it
    (the Redis scripts carry the same rules in Lua, and a test keeps them in step)."""
    if previous is None:
        return Claim(row, True, None)
    if previous is EntryState.UNCONFIRMED or (previous is EntryState.FAILED and doubtful):
        granted = policy.resend_unconfirmed
        return Claim(row, granted, previous, may_duplicate=granted, doubtful=not granted)
    if previous is EntryState.FAILED:
        granted = not final or policy.retry_final
        return Claim(row, granted, previous, final=final and not granted)
    # accepted; or sending: another sender holds it, or a dead one left it
    return Claim(row, False, previous)


class Lease(Protocol):
    """Whether this sender still holds what it claimed: the fence before each send.

    :meth:`generation` is a number that changes each time the claims may have
    been lost (a sender stalled past its heartbeat), or ``None`` while that is
    not known (the heartbeat is overdue). Rows claimed under one generation are
    sent only while it is current; after a change, :meth:`Ledger.still_held`
    says which of them are still this sender's.
    """

    def generation(self) -> int | None: ...


class Ledger(Protocol):
    """What the bulk engine needs from a ledger; every backend keeps these semantics.

    - :meth:`open_run` first. A ledger holds one run; other content raises
      :class:`LedgerError`.
    - :meth:`claim` before rows' requests go out; send only the granted ones.
      A claim is atomic: two senders claiming one row never both get it.
    - :meth:`record` when receipts come back. A row another sender has taken
      over since (see :attr:`lease`) is not recorded, and is returned.
    - :meth:`release` for rows claimed and never sent (a stop): they are as before.
    - :meth:`settle_open` when no other sender is left (a resume after a
      crash): every ``sending`` row of a dead sender becomes ``unconfirmed``.
    - :meth:`resolve` records what the provider said about unconfirmed rows.

    Every write is durable when the method returns.
    """

    @property
    def lease(self) -> Lease:
        """The fence of this sender's claims."""
        ...

    def open_run(self, run: RunInfo) -> RunInfo:
        """Start ``run``, or continue the same run; returns the run as first recorded."""
        ...

    def claim(self, rows: Sequence[LedgerRow], policy: ResendPolicy) -> list[Claim]:
        """Claim each row that may be sent (see :func:`decide`), in one round trip.

        Raises :class:`LedgerError` if a row already recorded names another recipient.
        """
        ...

    def record(self, receipts: Sequence[tuple[int, Receipt]]) -> list[int]:
        """Record claimed rows' receipts in one round trip; returns the rows not recorded
        because this sender no longer holds them."""
        ...

    def release(self, rows: Sequence[int]) -> None:
        """Give back claimed rows whose request never went out."""
        ...

    def still_held(self, rows: Sequence[int]) -> set[int]:
        """Which of ``rows`` this sender still holds (claimed, not taken over)."""
        ...

    def settle_open(self) -> int:
        """Turn ``sending`` rows whose sender is gone ``unconfirmed``; returns how many."""
        ...

    def resolve(self, answers: Sequence[tuple[int, str | None, str | None]]) -> None:
        """The provider was asked about unconfirmed rows: ``(row, provider, message_id)``.
        A message id means it has the message (accepted, by that provider); ``None``
        means no provider has it (failed, safe to send again)."""
        ...

    def leave_unconfirmed(self, receipts: Sequence[tuple[int, Receipt]]) -> None:
        """Keep the receipt of unconfirmed rows nobody could settle; they stay unconfirmed."""
        ...

    def entry(self, row: int) -> LedgerEntry | None: ...

    def doubtful(self) -> Iterator[LedgerEntry]:
        """Rows an earlier send may have reached unseen: unconfirmed, or doubtful."""
        ...

    def counts(self) -> Mapping[EntryState, int]: ...

    def close(self) -> None: ...


class Held:
    """The lease of a ledger used by one process at a time: its claims never lapse."""

    def generation(self) -> int | None:
        return 0


HELD = Held()
