"""The embedded :class:`~norq.ledger.Ledger`: one SQLite file, for a run sent by one process.

The library's resumable bulk sends (``notify_many(..., ledger=SqliteLedger(path))``)
and ``norq send --csv --journal FILE`` keep their run here. Each batch of claims
and each batch of outcomes is one transaction, committed before the call returns.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from norq.error_codes import ErrorCode
from norq.ledger import (
    HELD,
    Claim,
    EntryState,
    Lease,
    LedgerEntry,
    LedgerError,
    LedgerRow,
    ResendPolicy,
    RunInfo,
    decide,
    state_for,
)
from norq.receipt import Receipt

_SCHEMA_VERSION = 2

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
    final INTEGER NOT NULL DEFAULT 0,
    owner TEXT,
    claimed_at TEXT,
    before_claim TEXT,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_by_state ON entries (state);
"""

_SELECT = (
    "SELECT row, recipient, state, data, provider, message_id, error_code, sends, doubtful,"
    " final, claimed_at FROM entries"
)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class SqliteLedger:
    """A run's ledger in one SQLite file; safe across threads, one sender at a time.

    WAL mode with ``synchronous=NORMAL``: each write is committed before the
    method returns, so it survives the process being killed (an operating
    system crash may lose the last few). The file is created readable by its
    owner only: it holds recipients and their template data.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._owner = uuid.uuid4().hex
        try:
            if str(path) != ":memory:" and not self.path.exists():
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
            self._db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30.0
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_CREATE)
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"{self.path} is not a usable ledger file: {exc}") from None
        except OSError as exc:
            raise LedgerError(f"cannot create the ledger file {self.path}: {exc}") from None

    @property
    def lease(self) -> Lease:
        return HELD

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
            raise LedgerError(
                f"{self.path} was written by another version of Norq (ledger format "
                f"{version}, this one reads {_SCHEMA_VERSION}); start a new ledger file"
            )
        return RunInfo(channel, fingerprint, dt.datetime.fromisoformat(started_at))

    def open_run(self, run: RunInfo) -> RunInfo:
        """Start ``run``, or continue it: rows a previous sender left ``sending`` (it died
        with their requests out) become ``unconfirmed``."""
        stored = self.stored_run()
        if stored is None:
            with self._lock:
                self._db.execute(
                    "INSERT INTO run VALUES (1, ?, ?, ?, ?)",
                    (_SCHEMA_VERSION, run.channel, run.fingerprint, run.started_at.isoformat()),
                )
            return run
        if (stored.channel, stored.fingerprint) != (run.channel, run.fingerprint):
            what = (
                f"channel {stored.channel!r}"
                if stored.channel != run.channel
                else "a different body, template, data, fields or provider"
            )
            raise LedgerError(
                f"{self.path} records another send (started {stored.started_at:%Y-%m-%d %H:%M:%S}"
                f" UTC, {what}); resume it with the same options, or use a new ledger file"
            )
        # One sender at a time: rows still sending were left by one that died.
        self.settle_open()
        return stored

    # -- rows --------------------------------------------------------------------

    def claim(self, rows: Sequence[LedgerRow], policy: ResendPolicy) -> list[Claim]:
        now = _now()
        claims: list[Claim] = []
        with self._transaction():
            for wanted in rows:
                found = self._db.execute(
                    "SELECT recipient, state, doubtful, final, sends FROM entries WHERE row = ?",
                    (wanted.row,),
                ).fetchone()
                if found is None:
                    self._db.execute(
                        "INSERT INTO entries (row, recipient, state, data, sends, owner,"
                        " claimed_at, updated_at) VALUES (?, ?, 'sending', ?, 1, ?, ?, ?)",
                        (wanted.row, wanted.to, _json(wanted.data), self._owner, now, now),
                    )
                    claims.append(Claim(wanted.row, True, None))
                    continue
                recipient, state, doubtful, final, _ = found
                if recipient != wanted.to:
                    raise LedgerError(
                        f"row {wanted.row} was {recipient} in {self.path} and is {wanted.to} "
                        "now: the input changed since the run started; resume with the same "
                        "input, or use a new ledger file"
                    )
                claim = decide(wanted.row, EntryState(state), bool(doubtful), bool(final), policy)
                if claim.granted:
                    before = json.dumps({"state": state, "doubtful": doubtful, "final": final})
                    self._db.execute(
                        "UPDATE entries SET state = 'sending', sends = sends + 1, doubtful = ?,"
                        " owner = ?, claimed_at = ?, before_claim = ?, updated_at = ?"
                        " WHERE row = ?",
                        (int(claim.may_duplicate), self._owner, now, before, now, wanted.row),
                    )
                claims.append(claim)
        return claims

    def record(self, receipts: Sequence[tuple[int, Receipt]]) -> list[int]:
        now = _now()
        lost: list[int] = []
        with self._transaction():
            for row, receipt in receipts:
                error_code = receipt.error.code if receipt.error is not None else None
                changed = self._db.execute(
                    "UPDATE entries SET state = ?, provider = ?, message_id = ?, error_code = ?,"
                    " final = ?, owner = NULL, before_claim = NULL, updated_at = ?"
                    " WHERE row = ? AND state = 'sending' AND owner = ?",
                    (
                        state_for(receipt),
                        receipt.provider,
                        receipt.message_id,
                        error_code,
                        int(receipt.final),
                        now,
                        row,
                        self._owner,
                    ),
                ).rowcount
                if not changed:
                    lost.append(row)
        return lost

    def release(self, rows: Sequence[int]) -> None:
        now = _now()
        with self._transaction():
            for row in rows:
                found = self._db.execute(
                    "SELECT before_claim FROM entries WHERE row = ? AND state = 'sending'"
                    " AND owner = ?",
                    (row, self._owner),
                ).fetchone()
                if found is None:
                    continue
                if found[0] is None:
                    self._db.execute("DELETE FROM entries WHERE row = ?", (row,))
                    continue
                before = json.loads(found[0])
                self._db.execute(
                    "UPDATE entries SET state = ?, doubtful = ?, final = ?, sends = sends - 1,"
                    " owner = NULL, before_claim = NULL, updated_at = ? WHERE row = ?",
                    (before["state"], before["doubtful"], before["final"], now, row),
                )

    def still_held(self, rows: Sequence[int]) -> set[int]:
        with self._lock:
            return {
                row
                for row in rows
                if self._db.execute(
                    "SELECT 1 FROM entries WHERE row = ? AND state = 'sending' AND owner = ?",
                    (row, self._owner),
                ).fetchone()
            }

    def settle_open(self) -> int:
        with self._lock:
            cursor = self._db.execute(
                "UPDATE entries SET state = 'unconfirmed', error_code = ?, owner = NULL,"
                " before_claim = NULL, updated_at = ? WHERE state = 'sending'",
                (ErrorCode.INTERRUPTED.value, _now()),
            )
            return cursor.rowcount

    def resolve(self, answers: Sequence[tuple[int, str | None, str | None]]) -> None:
        now = _now()
        with self._transaction():
            for row, provider, message_id in answers:
                found = message_id is not None
                self._db.execute(
                    "UPDATE entries SET state = ?, message_id = ?, error_code = ?, doubtful = 0,"
                    " final = 0, provider = COALESCE(?, provider), updated_at = ? WHERE row = ?"
                    " AND state IN ('unconfirmed', 'failed')",
                    (
                        EntryState.ACCEPTED if found else EntryState.FAILED,
                        message_id,
                        None if found else ErrorCode.NOT_FOUND.value,
                        provider if found else None,
                        now,
                        row,
                    ),
                )

    def restore(self, entries: Iterable[LedgerEntry]) -> None:
        """Write rows as they stand, in one transaction: a run rebuilt from its receipts
        (``norq send --retry-failed``)."""
        now = _now()
        with self._transaction():
            for entry in entries:
                self._db.execute(
                    "INSERT OR REPLACE INTO entries (row, recipient, state, data, provider,"
                    " message_id, error_code, sends, doubtful, final, claimed_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        entry.row,
                        entry.to,
                        entry.state,
                        _json(entry.data),
                        entry.provider,
                        entry.message_id,
                        entry.error_code,
                        entry.sends,
                        int(entry.doubtful),
                        int(entry.final),
                        entry.claimed_at.isoformat() if entry.claimed_at else None,
                        now,
                    ),
                )

    def leave_unconfirmed(self, receipts: Sequence[tuple[int, Receipt]]) -> None:
        # The receipt goes to the caller; the row stays as it is, to be asked about next time.
        return None

    # -- reading -----------------------------------------------------------------

    def entry(self, row: int) -> LedgerEntry | None:
        with self._lock:
            found = self._db.execute(f"{_SELECT} WHERE row = ?", (row,)).fetchone()
        return None if found is None else _entry(found)

    def entries(self) -> Iterator[LedgerEntry]:
        """Every row recorded, in row order."""
        with self._lock:
            found = self._db.execute(f"{_SELECT} ORDER BY row").fetchall()
        return (_entry(item) for item in found)

    def doubtful(self) -> Iterator[LedgerEntry]:
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

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db, self._lock)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> SqliteLedger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<SqliteLedger {str(self.path)!r}>"


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` under the ledger's lock; rolled back on any error."""

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock) -> None:
        self._db = db
        self._lock = lock

    def __enter__(self) -> None:
        self._lock.acquire()
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
        finally:
            self._lock.release()


def _json(data: Mapping[str, Any]) -> str:
    return json.dumps(dict(data), ensure_ascii=False, default=str)


def _entry(found: tuple[Any, ...]) -> LedgerEntry:
    row, to, state, data, provider, message_id, error_code, sends, doubtful, final, claimed = found
    return LedgerEntry(
        row,
        to,
        EntryState(state),
        json.loads(data),
        provider,
        message_id,
        error_code,
        sends,
        bool(doubtful),
        bool(final),
        dt.datetime.fromisoformat(claimed) if claimed else None,
    )
