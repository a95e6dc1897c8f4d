"""The send ledger in Redis: the :class:`norq.ledger.Ledger` of a job whose rows
many workers send, so a redelivered task never re-sends an accepted message.

Same states and the same claim rules as the SQLite journal (see
:mod:`norq.ledger`); what differs is who may be holding a ``sending`` row.
Here it is one of many worker processes, each named by an *owner* id and kept
alive by a heartbeat key that expires ``heartbeat`` seconds after the process
stops refreshing it. A claim finding a ``sending`` row whose owner's heartbeat
is gone turns it ``unconfirmed`` first, in the same atomic script: the process
died with the request out and its answer unrecorded. So does a claim by the
row's own owner: a process sends one row at a time (Celery's prefork pool), so
its own ``sending`` row is one an error cut short. :meth:`RedisLedger.settle_open`
does the same for every row of the job.

Each outcome is written together with its receipt (one transaction), so a row is
never accepted in the ledger without the receipt that says so. Every key of a job
expires ``ttl`` seconds after its last write.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import threading
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import redis

from norq.error_codes import ErrorCode
from norq.ledger import (
    Claim,
    EntryState,
    LedgerEntry,
    LedgerError,
    RunInfo,
    state_for,
)
from norq.receipt import Receipt

#: Seconds a worker's heartbeat outlives its last refresh: how long after a
#: worker dies its ``sending`` rows count as unconfirmed.
DEFAULT_HEARTBEAT = 5.0


def job_key(job_id: str, part: str) -> str:
    return f"norq:job:{job_id}:{part}"


def alive_key(owner: str) -> str:
    return f"norq:alive:{owner}"


# KEYS: ledger hash, job hash. ARGV: row, to, data (JSON), resend (0/1), owner,
# alive-key prefix, interrupted code, ttl. Returns {granted, previous, may_duplicate,
# settled, error}. The rules are norq.ledger's _decide, plus the dead-owner settle.
_CLAIM = """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
local ttl = tonumber(ARGV[8])
local function save(entry)
  redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(entry))
  redis.call('EXPIRE', KEYS[1], ttl)
end
if not raw then
  save({to = ARGV[2], state = 'sending', data = ARGV[3], sends = 1, doubtful = 0,
        owner = ARGV[5]})
  return {1, '', 0, 0, ''}
end
local entry = cjson.decode(raw)
if entry.to ~= ARGV[2] then
  return {0, entry.state, 0, 0, entry.to}
end
local settled = 0
if entry.state == 'sending' and (entry.owner == ARGV[5]
    or redis.call('EXISTS', ARGV[6] .. entry.owner) == 0) then
  entry.state = 'unconfirmed'
  entry.error_code = ARGV[7]
  settled = 1
  redis.call('HINCRBY', KEYS[2], 'unconfirmed', 1)
  save(entry)
end
local previous = entry.state
local doubtful = entry.doubtful == 1
local granted, may_duplicate = 0, 0
if previous == 'failed' and not doubtful then
  granted = 1
elseif previous == 'unconfirmed' or (previous == 'failed' and doubtful) then
  if ARGV[4] == '1' then
    granted, may_duplicate = 1, 1
    redis.call('HINCRBY', KEYS[2], 'resent_unconfirmed', 1)
  end
end
if granted == 1 then
  entry.state = 'sending'
  entry.sends = entry.sends + 1
  entry.doubtful = may_duplicate
  entry.owner = ARGV[5]
  save(entry)
end
return {granted, previous, may_duplicate, settled, ''}
"""

# KEYS: ledger hash. ARGV: alive-key prefix, interrupted code. Returns how many rows settled.
_SETTLE = """
local settled = 0
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local entry = cjson.decode(all[i + 1])
  if entry.state == 'sending' and redis.call('EXISTS', ARGV[1] .. entry.owner) == 0 then
    entry.state = 'unconfirmed'
    entry.error_code = ARGV[2]
    redis.call('HSET', KEYS[1], all[i], cjson.encode(entry))
    settled = settled + 1
  end
end
return settled
"""


# KEYS: ledger hash, receipts hash. ARGV: row, changes (JSON), receipt (JSON or ''),
# recipient, ttl. Merges the changes into the row's entry and stores its receipt, at once.
_RECORD = """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
local entry = raw and cjson.decode(raw) or {to = ARGV[4], sends = 0, doubtful = 0}
for name, value in pairs(cjson.decode(ARGV[2])) do
  entry[name] = value
end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(entry))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
  redis.call('EXPIRE', KEYS[2], tonumber(ARGV[5]))
end
return 1
"""


class Heartbeat:
    """This process's owner id, kept alive in Redis by a daemon thread.

    A forked child (a Celery prefork worker) is another owner: the id and the
    thread are made again the first time the child asks for them.
    """

    def __init__(self, client: redis.Redis, seconds: float = DEFAULT_HEARTBEAT) -> None:
        self._client = client
        self._seconds = seconds
        self._pid = -1
        self._owner = ""
        self._lock = threading.Lock()

    @property
    def owner(self) -> str:
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    self._start()
        return self._owner

    def _start(self) -> None:
        self._pid = os.getpid()
        self._owner = f"{socket.gethostname()}:{self._pid}:{uuid.uuid4().hex[:8]}"
        self._beat()
        thread = threading.Thread(target=self._run, name="norq-heartbeat", daemon=True)
        thread.start()

    def _beat(self) -> None:
        self._client.set(alive_key(self._owner), "1", px=int(self._seconds * 1000))

    def _run(self) -> None:
        stop = threading.Event()
        while not stop.wait(self._seconds / 4):
            try:
                self._beat()
            except redis.RedisError:
                # Redis is away: the next beat retries; meanwhile our rows may be
                # taken for a dead worker's, which only makes them unconfirmed.
                continue


class RedisLedger:
    """One job's :class:`norq.ledger.Ledger`, kept in Redis and shared by every worker."""

    def __init__(
        self,
        client: redis.Redis,
        job_id: str,
        *,
        heartbeat: Heartbeat | None = None,
        ttl: float = 7 * 24 * 3600,
    ) -> None:
        self.job_id = job_id
        self._client = client
        self._heartbeat = heartbeat or Heartbeat(client)
        self._ttl = int(ttl)
        self._entries = job_key(job_id, "ledger")
        self._receipts = job_key(job_id, "receipts")
        self._job = job_key(job_id, "meta")
        self._claim = client.register_script(_CLAIM)
        self._settle = client.register_script(_SETTLE)
        self._record = client.register_script(_RECORD)
        self._run: RunInfo | None = None

    # -- the run -----------------------------------------------------------------

    def open_run(self, run: RunInfo) -> RunInfo:
        fields = {
            "channel": run.channel,
            "fingerprint": run.fingerprint,
            "started_at": run.started_at.isoformat(),
        }
        key = job_key(self.job_id, "run")
        pipe = self._client.pipeline()
        for name, value in fields.items():
            pipe.hsetnx(key, name, value)
        pipe.expire(key, self._ttl)
        pipe.hgetall(key)
        stored = {k.decode(): v.decode() for k, v in pipe.execute()[-1].items()}
        if (stored["channel"], stored["fingerprint"]) != (run.channel, run.fingerprint):
            raise LedgerError(
                f"job {self.job_id} records another send (channel {stored['channel']!r}, "
                "other content); a job id names one bulk send"
            )
        self._run = RunInfo(
            stored["channel"],
            stored["fingerprint"],
            dt.datetime.fromisoformat(stored["started_at"]),
        )
        return self._run

    # -- rows --------------------------------------------------------------------

    def claim(
        self, row: int, to: str, data: Mapping[str, Any], *, resend_unconfirmed: bool = False
    ) -> Claim:
        granted, previous, may_duplicate, _, other = self._claim(
            keys=[self._entries, self._job],
            args=[
                row,
                to,
                json.dumps(dict(data), ensure_ascii=False, default=str),
                int(resend_unconfirmed),
                self._heartbeat.owner,
                alive_key(""),
                ErrorCode.INTERRUPTED.value,
                self._ttl,
            ],
        )
        if other:
            raise LedgerError(
                f"row {row} of job {self.job_id} was {other.decode()} and is {to} now: "
                "a task's rows changed after the job was enqueued"
            )
        return Claim(
            row,
            bool(granted),
            EntryState(previous.decode()) if previous else None,
            bool(may_duplicate),
        )

    def record_outcome(self, row: int, receipt: Receipt) -> EntryState:
        state = state_for(receipt)
        self._write(row, receipt, state=state, error_code=_code(receipt))
        return state

    def settle_open(self) -> int:
        """Turn ``sending`` rows whose worker is gone ``unconfirmed``; returns how many."""
        settled = int(self._settle(keys=[self._entries], args=[alive_key(""), "interrupted"]))
        if settled:
            self._client.hincrby(self._job, "unconfirmed", settled)
        return settled

    def resolve(self, row: int, message_id: str | None) -> EntryState:
        entry = self.entry(row)
        if entry is None:
            raise LedgerError(f"row {row} of job {self.job_id} was never claimed")
        if message_id is None:
            self._write(
                row, None, state=EntryState.FAILED, error_code=ErrorCode.NOT_FOUND, doubtful=False
            )
            self._client.hincrby(self._job, "resolved_not_sent", 1)
            return EntryState.FAILED
        # The provider has it: the row's receipt is the accepted one it never got.
        run = self._run
        channel = run.channel if run is not None else ""
        receipt = Receipt.found(channel, entry.provider or "", entry.to, message_id, index=row)
        self._write(row, receipt, state=EntryState.ACCEPTED, error_code=None, doubtful=False)
        self._client.hincrby(self._job, "resolved_sent", 1)
        return EntryState.ACCEPTED

    def leave_unconfirmed(self, row: int, reason: str) -> Receipt:
        """Give an unconfirmed row that is neither resolved nor re-sent its final receipt."""
        entry = self.entry(row)
        receipt = Receipt.interrupted(
            self._run.channel if self._run is not None else "",
            (entry.provider if entry else None) or "",
            entry.to if entry else "",
            reason,
            attempts=0,
            index=row,
        )
        self._write(row, receipt, state=EntryState.UNCONFIRMED, error_code="interrupted")
        return receipt

    def _write(
        self,
        row: int,
        receipt: Receipt | None,
        *,
        state: EntryState,
        error_code: str | None,
        doubtful: bool | None = None,
    ) -> None:
        changes: dict[str, Any] = {"state": str(state), "error_code": error_code}
        if receipt is not None:
            changes.update(provider=receipt.provider, message_id=receipt.message_id)
        if doubtful is not None:
            changes["doubtful"] = int(doubtful)
        self._record(
            keys=[self._entries, self._receipts],
            args=[
                row,
                json.dumps(changes),
                json.dumps(receipt.to_dict()) if receipt is not None else "",
                receipt.to if receipt is not None else "",
                self._ttl,
            ],
        )

    # -- reading -----------------------------------------------------------------

    def entry(self, row: int) -> LedgerEntry | None:
        raw = self._client.hget(self._entries, str(row))
        return None if raw is None else _entry(row, json.loads(raw))

    def entries(self) -> Iterator[LedgerEntry]:
        """Every row recorded, in row order."""
        found = self._client.hgetall(self._entries)
        rows = sorted((int(row), json.loads(raw)) for row, raw in found.items())
        return (_entry(row, fields) for row, fields in rows)

    def doubtful(self) -> Iterator[LedgerEntry]:
        return (
            entry
            for entry in self.entries()
            if entry.state is EntryState.UNCONFIRMED
            or (entry.state is EntryState.FAILED and entry.doubtful)
        )

    def counts(self) -> Mapping[EntryState, int]:
        counted = dict.fromkeys(EntryState, 0)
        for entry in self.entries():
            counted[entry.state] += 1
        return counted

    def stored_receipt(self, row: int) -> Receipt | None:
        raw = self._client.hget(self._receipts, str(row))
        return None if raw is None else receipt_from_dict(json.loads(raw))

    def close(self) -> None:
        return None  # the client belongs to whoever made the ledger

    def __repr__(self) -> str:
        return f"<RedisLedger job={self.job_id}>"


def _code(receipt: Receipt) -> str | None:
    return receipt.error.code if receipt.error is not None else None


def _entry(row: int, fields: Mapping[str, Any]) -> LedgerEntry:
    data = fields.get("data") or "{}"
    return LedgerEntry(
        row=row,
        to=fields["to"],
        state=EntryState(fields["state"]),
        data=json.loads(data) if isinstance(data, str) else data,
        provider=fields.get("provider"),
        message_id=fields.get("message_id"),
        error_code=fields.get("error_code"),
        sends=int(fields.get("sends", 0)),
        doubtful=bool(int(fields.get("doubtful", 0))),
    )


def receipt_from_dict(fields: Mapping[str, Any]) -> Receipt:
    """A :class:`Receipt` back from :meth:`Receipt.to_dict`'s JSON."""
    return Receipt.from_dict(fields)
