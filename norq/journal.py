"""The send journal: what a bulk send did to each recipient, kept so that a run
stopped half-way can resume without sending anyone a message twice.

A run is one bulk send: one channel, one content, an input of recipients.
Each recipient is keyed by its ``row``, its position in the input (from 1),
and moves through these states::

    (no entry) --claim--> sending --outcome--> accepted | failed | unconfirmed

``sending`` is written (and committed) *before* the request goes out, the
outcome when it returns. ``unconfirmed`` means a request went out and no
answer came back (a timeout, a lost connection, a run stopped while it was in
flight): the provider may or may not have accepted it. Sending that row again
may duplicate the message, so a :meth:`Ledger.claim` grants it only when the
caller says duplicates are acceptable, or after the provider was asked
(:meth:`Ledger.resolve`).

:class:`Ledger` is the contract every backend implements with the same
semantics; :class:`SqliteJournal` is the embedded one (a single file, the
standard library's ``sqlite3``). A distributed backend (Redis, for workers on
several machines) implements the same protocol; ``claim`` is its one
compare-and-set.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from norq.error_codes import ErrorCode
from norq.errors import NorqError
from norq.receipt import Receipt

if TYPE_CHECKING:
    from norq.notification import Notification

_SCHEMA_VERSION = 1
_NO_DATA: Mapping[str, Any] = MappingProxyType({})


class JournalError(NorqError):
    """The journal cannot be used for this run: another run's file, a changed input, a bad file."""


class EntryState(StrEnum):
    """Where one recipient of a run stands."""

    #: Claimed: its request is about to go out, or is out. A journal left by a
    #: process that died has its ``sending`` rows turned ``unconfirmed`` on resume.
    SENDING = "sending"
    #: The provider accepted it (``receipt.ok``). Never sent again.
    ACCEPTED = "accepted"
    #: The provider answered and did not accept it. Safe to send again.
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
    """The run a journal records. ``started_at`` is when it first started (UTC)."""

    channel: str
    fingerprint: str
    started_at: dt.datetime


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One recipient of a run, as the journal last recorded it.

    ``sends`` counts the requests sent for this row over all resumes.
    ``doubtful`` is true while an earlier send of the row went unanswered and
    the provider was not asked about it: sending the row now may duplicate it,
    even if its latest outcome is a definite failure.
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


@dataclass(frozen=True, slots=True)
class Claim:
    """The answer to :meth:`Ledger.claim`.

    ``granted``: the caller now owns the row (it is ``sending``) and sends it.
    ``previous``: the row's state before the claim (``None``: never seen).
    ``may_duplicate``: granted although an earlier send may have been accepted;
    count it, because the recipient may get the message twice.
    """

    granted: bool
    previous: EntryState | None
    may_duplicate: bool = False


class Ledger(Protocol):
    """What a bulk send needs from a journal; every backend keeps these semantics.

    - :meth:`open_run` first. A ledger holds one run; opening it for other
      content raises :class:`JournalError`.
    - :meth:`claim` before each request goes out; send only if granted. A
      claim is atomic: two senders claiming one row never both get it.
    - :meth:`record_outcome` when the receipt comes back.
    - :meth:`settle_open` when no sender is left (a stop, a resume after a
      crash): every ``sending`` row becomes ``unconfirmed``.
    - :meth:`resolve` records what the provider said about an unconfirmed row.

    Every write is durable when the method returns.
    """

    def open_run(self, run: RunInfo) -> RunInfo:
        """Start ``run``, or continue the same run; returns the run as first recorded."""
        ...

    def claim(
        self, row: int, to: str, data: Mapping[str, Any], *, resend_unconfirmed: bool = False
    ) -> Claim:
        """Mark ``row`` as sending if it may be sent (see :class:`Claim`)."""
        ...

    def record_outcome(self, row: int, receipt: Receipt) -> EntryState:
        """Record a claimed row's receipt; returns the row's new state."""
        ...

    def settle_open(self) -> int:
        """Turn every ``sending`` row ``unconfirmed``; returns how many there were."""
        ...

    def resolve(self, row: int, message_id: str | None) -> EntryState:
        """The provider was asked about ``row``: a ``message_id`` means it has the message
        (accepted); ``None`` means it has none (failed, safe to send again)."""
        ...

    def entry(self, row: int) -> JournalEntry | None: ...

    def doubtful(self) -> Iterator[JournalEntry]:
        """Rows an earlier send may have reached unseen: unconfirmed, or doubtful."""
        ...

    def counts(self) -> Mapping[EntryState, int]: ...

    def close(self) -> None: ...


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


_CREATE = """
CREATE TABLE IF NOT EXISTS run (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    schema_version INTEGER NOT NULL,
    channel TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    started_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS entries (
    row INTEGER PRIMARY KEY,
    recipient TEXT NOT NULL,
    state TEXT NOT NULL,
    data TEXT NOT NULL,
    provider TEXT,
    message_id TEXT,
    error_code TEXT,
    sends INTEGER NOT NULL DEFAULT 0,
    doubtful INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_by_state ON entries (state);
"""


class SqliteJournal:
    """The embedded :class:`Ledger`: one SQLite file, safe across threads and processes.

    WAL mode with ``synchronous=NORMAL``: each write is committed before the
    method returns, so it survives the process being killed (an operating
    system crash may lose the last few).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30.0
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_CREATE)
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{self.path} is not a usable journal: {exc}") from None
        self._run: RunInfo | None = None

    # -- the run -----------------------------------------------------------------

    def stored_run(self) -> RunInfo | None:
        """The run this file already records, if any."""
        with self._lock:
            found = self._db.execute(
                "SELECT schema_version, channel, fingerprint, started_at FROM run"
            ).fetchone()
        if found is None:
            return None
        version, channel, fingerprint, started_at = found
        if version != _SCHEMA_VERSION:
            raise JournalError(
                f"{self.path} was written by another version of Norq (journal format "
                f"{version}, this one reads {_SCHEMA_VERSION}); start a new journal file"
            )
        return RunInfo(channel, fingerprint, dt.datetime.fromisoformat(started_at))

    def open_run(self, run: RunInfo) -> RunInfo:
        stored = self.stored_run()
        if stored is None:
            with self._lock:
                self._db.execute(
                    "INSERT INTO run VALUES (1, ?, ?, ?, ?)",
                    (_SCHEMA_VERSION, run.channel, run.fingerprint, run.started_at.isoformat()),
                )
            stored = run
        elif (stored.channel, stored.fingerprint) != (run.channel, run.fingerprint):
            what = (
                f"channel {stored.channel!r}"
                if stored.channel != run.channel
                else "a different body, template, data, fields or provider"
            )
            raise JournalError(
                f"{self.path} records another send (started {stored.started_at:%Y-%m-%d %H:%M:%S}"
                f" UTC, {what}); resume it with the same options, or use a new journal file"
            )
        self._run = stored
        return stored

    # -- rows --------------------------------------------------------------------

    def claim(
        self, row: int, to: str, data: Mapping[str, Any], *, resend_unconfirmed: bool = False
    ) -> Claim:
        now = _now().isoformat()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                found = self._db.execute(
                    "SELECT recipient, state, doubtful FROM entries WHERE row = ?", (row,)
                ).fetchone()
                if found is None:
                    self._db.execute(
                        "INSERT INTO entries (row, recipient, state, data, sends, updated_at)"
                        " VALUES (?, ?, 'sending', ?, 1, ?)",
                        (row, to, json.dumps(dict(data), ensure_ascii=False, default=str), now),
                    )
                    claim = Claim(True, None)
                else:
                    recipient, raw_state, doubtful = found
                    if recipient != to:
                        raise JournalError(
                            f"row {row} was {recipient} in {self.path} and is {to} now: the "
                            "input changed since the run started; resume with the same input, "
                            "or use a new journal file"
                        )
                    claim = _decide(EntryState(raw_state), bool(doubtful), resend_unconfirmed)
                    if claim.granted:
                        self._db.execute(
                            "UPDATE entries SET state = 'sending', sends = sends + 1,"
                            " doubtful = ?, updated_at = ? WHERE row = ?",
                            (int(claim.may_duplicate), now, row),
                        )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return claim

    def record_outcome(self, row: int, receipt: Receipt) -> EntryState:
        state = state_for(receipt)
        error_code = receipt.error.code if receipt.error is not None else None
        with self._lock:
            self._db.execute(
                "UPDATE entries SET state = ?, provider = ?, message_id = ?, error_code = ?,"
                " updated_at = ? WHERE row = ?",
                (state, receipt.provider, receipt.message_id, error_code, _now().isoformat(), row),
            )
        return state

    def settle_open(self) -> int:
        with self._lock:
            cursor = self._db.execute(
                "UPDATE entries SET state = 'unconfirmed', error_code = ?, updated_at = ?"
                " WHERE state = 'sending'",
                (ErrorCode.INTERRUPTED.value, _now().isoformat()),
            )
            return cursor.rowcount

    def resolve(self, row: int, message_id: str | None) -> EntryState:
        state = EntryState.ACCEPTED if message_id is not None else EntryState.FAILED
        with self._lock:
            self._db.execute(
                "UPDATE entries SET state = ?, message_id = ?, error_code = ?, doubtful = 0,"
                " updated_at = ? WHERE row = ?",
                (
                    state,
                    message_id,
                    None if message_id is not None else ErrorCode.NOT_FOUND.value,
                    _now().isoformat(),
                    row,
                ),
            )
        return state

    # -- reading -----------------------------------------------------------------

    def entry(self, row: int) -> JournalEntry | None:
        with self._lock:
            found = self._db.execute(f"{_SELECT} WHERE row = ?", (row,)).fetchone()
        return None if found is None else _entry(found)

    def entries(self) -> Iterator[JournalEntry]:
        """Every row recorded, in row order."""
        with self._lock:
            found = self._db.execute(f"{_SELECT} ORDER BY row").fetchall()
        return (_entry(item) for item in found)

    def doubtful(self) -> Iterator[JournalEntry]:
        with self._lock:
            found = self._db.execute(
                f"{_SELECT} WHERE state = 'unconfirmed' OR (state = 'failed' AND doubtful = 1)"
                " ORDER BY row"
            ).fetchall()
        return (_entry(item) for item in found)

    def counts(self) -> Mapping[EntryState, int]:
        with self._lock:
            found = self._db.execute("SELECT state, COUNT(*) FROM entries GROUP BY state")
            counted = {EntryState(state): count for state, count in found}
        return {state: counted.get(state, 0) for state in EntryState}

    # -- lifecycle ---------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> SqliteJournal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<SqliteJournal {str(self.path)!r}>"


_SELECT = (
    "SELECT row, recipient, state, data, provider, message_id, error_code, sends, doubtful"
    " FROM entries"
)


def _entry(found: tuple[Any, ...]) -> JournalEntry:
    row, to, state, data, provider, message_id, error_code, sends, doubtful = found
    return JournalEntry(
        row,
        to,
        EntryState(state),
        json.loads(data),
        provider,
        message_id,
        error_code,
        sends,
        bool(doubtful),
    )


def _decide(state: EntryState, doubtful: bool, resend_unconfirmed: bool) -> Claim:
    """Whether a row already in the journal may be sent now. Pure; every backend uses it."""
    if state is EntryState.FAILED and not doubtful:
        return Claim(True, state)
    if state is EntryState.UNCONFIRMED or (state is EntryState.FAILED and doubtful):
        return Claim(resend_unconfirmed, state, may_duplicate=resend_unconfirmed)
    # accepted, or sending: another sender holds it, or a dead one left it (settle_open)
    return Claim(False, state)
