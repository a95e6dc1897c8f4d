"""The Redis ledger: one job's :class:`~norq.ledger.Ledger`, shared by every worker.

Same states and the same claim rule as the SQLite ledger (:func:`norq.ledger.decide`,
carried here in Lua); what differs is who may be holding a ``sending`` row. Here
it is one of many worker processes. Each process keeps an *alive* key that
expires ``heartbeat`` seconds after it stops refreshing it (:class:`Heartbeat`),
and each run of a chunk claims as ``<process>/<run>``. A claim finding a
``sending`` row whose process is gone, or that an earlier run of its own
process left (an error cut it short), turns it ``unconfirmed`` in the same
script: the request may be out and its answer is lost.

The fence (Kleppmann's token): a row is recorded only by the run that holds it,
checked in the recording script; and a run sends a row only while its
heartbeat is known to be alive (:attr:`RedisLedger.lease`). A process that
stalled past its heartbeat (SIGSTOP, a long pause) and wakes up asks which of
its claimed rows are still its own before sending any of them.

Every call is one script, one round trip, for a whole batch of rows: a batch
costs about ten Redis commands however many rows it holds. Each row's receipt is
written with its outcome, and the job's counters (``done``, ``ok``, failures by
code) move with them, so reading a job's progress costs one ``HGETALL``. Every
key of a job expires ``ttl`` seconds after its last write.

Redis errors become :class:`~norq.errors.StoreUnavailable`, naming the store;
the bulk engine waits for the store to come back rather than lose a row.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import redis

from norq.error_codes import ErrorCode
from norq.errors import StoreUnavailable
from norq.ledger import (
    Claim,
    EntryState,
    Lease,
    LedgerEntry,
    LedgerError,
    LedgerRow,
    ResendPolicy,
    RunInfo,
    state_for,
)
from norq.receipt import Receipt

T = TypeVar("T")

#: Seconds a worker's heartbeat outlives its last refresh: how long after a
#: worker dies (or stalls) its ``sending`` rows count as unconfirmed.
DEFAULT_HEARTBEAT = 5.0

#: Counters of a job's meta hash about rows found unconfirmed.
UNCONFIRMED_COUNTERS = (
    "unconfirmed",
    "resolved_sent",
    "resolved_not_sent",
    "resent_unconfirmed",
    "left_unconfirmed",
)


def job_key(job_id: str, part: str) -> str:
    return f"norq:job:{job_id}:{part}"


def alive_key(process: str) -> str:
    return f"norq:alive:{process}"


# Shared by the scripts: the job counters that follow a row's receipt.
_COUNT = """
local function count(meta, entry, delta)
  if entry.counted then
    redis.call('HINCRBY', meta, 'done', delta)
    local counter = entry.counted == 'ok' and 'ok' or ('failed:' .. entry.counted)
    redis.call('HINCRBY', meta, counter, delta)
  end
end
local function store_receipt(meta, receipts, writes, entry, row, receipt, counted)
  count(meta, entry, -1)
  entry.counted = counted
  count(meta, entry, 1)
  writes[#writes + 1] = row
  writes[#writes + 1] = receipt
end
"""

# KEYS: ledger, meta. ARGV: run owner, process, alive prefix, resend (0/1), retry final
# (0/1), ttl, now, interrupted code, then (row, to, data) per row.
# Returns per row {granted, previous, may_duplicate, doubtful, final, other recipient}.
_CLAIM = """
local owner, process, prefix = ARGV[1], ARGV[2], ARGV[3]
local resend, retry_final = ARGV[4] == '1', ARGV[5] == '1'
local n = (#ARGV - 8) / 3
local rows = {}
for i = 1, n do rows[i] = ARGV[6 + i * 3] end
local found = redis.call('HMGET', KEYS[1], unpack(rows))
local alive = {}
local function gone(holder)
  local its = string.match(holder, '^(.*)/') or holder
  if its == process then return true end  -- an earlier run of this process: it ended
  if alive[its] == nil then alive[its] = redis.call('EXISTS', prefix .. its) == 1 end
  return not alive[its]
end
local writes, results = {}, {}
local settled, resent = 0, 0
for i = 1, n do
  local row, to, data = ARGV[6 + i * 3], ARGV[7 + i * 3], ARGV[8 + i * 3]
  local raw = found[i]
  if not raw then
    local entry = {to = to, state = 'sending', data = data, sends = 1, doubtful = 0, final = 0,
                   owner = owner, claimed_at = ARGV[7]}
    writes[#writes + 1] = row
    writes[#writes + 1] = cjson.encode(entry)
    results[i] = {1, '', 0, 0, 0, ''}
  else
    local entry = cjson.decode(raw)
    local changed = false
    if entry.to ~= to then
      results[i] = {0, entry.state, 0, 0, 0, entry.to}
    elseif entry.state == 'sending' and entry.owner == owner then
      results[i] = {1, 'sending', 0, 0, 0, ''}  -- ours already: a claim whose answer was lost
    else
      if entry.state == 'sending' and gone(entry.owner) then
        entry.state = 'unconfirmed'
        entry.error_code = ARGV[8]
        entry.owner = nil
        settled = settled + 1
        changed = true
      end
      local previous = entry.state
      local doubtful = entry.doubtful == 1
      local granted, duplicate, unsure, final = 0, 0, 0, 0
      if previous == 'unconfirmed' or (previous == 'failed' and doubtful) then
        if resend then granted, duplicate = 1, 1 else unsure = 1 end
      elseif previous == 'failed' then
        if entry.final ~= 1 or retry_final then granted = 1 else final = 1 end
      end
      if granted == 1 then
        entry.before = cjson.encode({state = previous, doubtful = entry.doubtful,
                                     final = entry.final})
        entry.state = 'sending'
        entry.sends = entry.sends + 1
        entry.doubtful = duplicate
        entry.owner = owner
        entry.claimed_at = ARGV[7]
        resent = resent + duplicate
        changed = true
      end
      if changed then
        writes[#writes + 1] = row
        writes[#writes + 1] = cjson.encode(entry)
      end
      results[i] = {granted, previous, duplicate, unsure, final, ''}
    end
  end
end
if #writes > 0 then
  redis.call('HSET', KEYS[1], unpack(writes))
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[6]))
end
if settled > 0 then redis.call('HINCRBY', KEYS[2], 'unconfirmed', settled) end
if resent > 0 then redis.call('HINCRBY', KEYS[2], 'resent_unconfirmed', resent) end
return results
"""

# KEYS: ledger, receipts, meta. ARGV: run owner, ttl, then (row, state, final, provider,
# message id, error code, counted as, receipt) per row. Returns the rows not ours to record.
_RECORD = (
    _COUNT
    + """
local owner = ARGV[1]
local n = (#ARGV - 2) / 8
local rows = {}
for i = 1, n do rows[i] = ARGV[i * 8 - 5] end
local found = redis.call('HMGET', KEYS[1], unpack(rows))
local writes, receipts, lost = {}, {}, {}
for i = 1, n do
  local base = i * 8 - 5
  local raw = found[i]
  local entry = raw and cjson.decode(raw)
  if entry and entry.state == 'sending' and entry.owner == owner then
    entry.state = ARGV[base + 1]
    entry.final = tonumber(ARGV[base + 2])
    entry.provider = ARGV[base + 3]
    entry.message_id = ARGV[base + 4] ~= '' and ARGV[base + 4] or nil
    entry.error_code = ARGV[base + 5] ~= '' and ARGV[base + 5] or nil
    entry.owner = nil
    entry.before = nil
    entry.recorded_by = owner
    store_receipt(KEYS[3], KEYS[2], receipts, entry, ARGV[base], ARGV[base + 7], ARGV[base + 6])
    writes[#writes + 1] = ARGV[base]
    writes[#writes + 1] = cjson.encode(entry)
  elseif not (entry and entry.recorded_by == owner and entry.state ~= 'sending') then
    lost[#lost + 1] = ARGV[base]  -- taken over (recorded already by this run: a retry)
  end
end
if #writes > 0 then
  redis.call('HSET', KEYS[1], unpack(writes))
  redis.call('HSET', KEYS[2], unpack(receipts))
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
  redis.call('EXPIRE', KEYS[2], tonumber(ARGV[2]))
  redis.call('EXPIRE', KEYS[3], tonumber(ARGV[2]))
end
return lost
"""
)

# KEYS: ledger. ARGV: run owner, then rows. Claimed rows never sent go back as they were.
_RELEASE = """
local found = redis.call('HMGET', KEYS[1], unpack(ARGV, 2))
local writes, gone = {}, {}
for i = 2, #ARGV do
  local raw = found[i - 1]
  local entry = raw and cjson.decode(raw)
  if entry and entry.state == 'sending' and entry.owner == ARGV[1] then
    if entry.before then
      local before = cjson.decode(entry.before)
      entry.state, entry.doubtful, entry.final = before.state, before.doubtful, before.final
      entry.sends = entry.sends - 1
      entry.owner, entry.before = nil, nil
      writes[#writes + 1] = ARGV[i]
      writes[#writes + 1] = cjson.encode(entry)
    else
      gone[#gone + 1] = ARGV[i]
    end
  end
end
if #writes > 0 then redis.call('HSET', KEYS[1], unpack(writes)) end
if #gone > 0 then redis.call('HDEL', KEYS[1], unpack(gone)) end
return #writes + #gone
"""

# KEYS: ledger. ARGV: run owner, then rows. Returns the rows this run still holds.
_HELD = """
local found = redis.call('HMGET', KEYS[1], unpack(ARGV, 2))
local held = {}
for i = 2, #ARGV do
  local raw = found[i - 1]
  local entry = raw and cjson.decode(raw)
  if entry and entry.state == 'sending' and entry.owner == ARGV[1] then
    held[#held + 1] = ARGV[i]
  end
end
return held
"""

# KEYS: ledger, receipts, meta. ARGV: ttl, not-found code, then (row, provider,
# message id or '', receipt or '') per row: what the provider said about unconfirmed rows.
_RESOLVE = (
    _COUNT
    + """
local n = (#ARGV - 2) / 4
local rows = {}
for i = 1, n do rows[i] = ARGV[i * 4 - 1] end
local found = redis.call('HMGET', KEYS[1], unpack(rows))
local writes, receipts = {}, {}
local sent, not_sent = 0, 0
for i = 1, n do
  local base = i * 4 - 1
  local raw = found[i]
  local entry = raw and cjson.decode(raw)
  if entry and (entry.state == 'unconfirmed'
      or (entry.state == 'failed' and entry.doubtful == 1)) then
    entry.doubtful, entry.final = 0, 0
    if ARGV[base + 2] ~= '' then
      entry.state, entry.message_id, entry.provider = 'accepted', ARGV[base + 2], ARGV[base + 1]
      entry.error_code = nil
      store_receipt(KEYS[3], KEYS[2], receipts, entry, ARGV[base], ARGV[base + 3], 'ok')
      sent = sent + 1
    else
      entry.state, entry.error_code = 'failed', ARGV[2]
      not_sent = not_sent + 1
    end
    writes[#writes + 1] = ARGV[base]
    writes[#writes + 1] = cjson.encode(entry)
  end
end
if #writes > 0 then redis.call('HSET', KEYS[1], unpack(writes)) end
if #receipts > 0 then redis.call('HSET', KEYS[2], unpack(receipts)) end
if sent > 0 then redis.call('HINCRBY', KEYS[3], 'resolved_sent', sent) end
if not_sent > 0 then redis.call('HINCRBY', KEYS[3], 'resolved_not_sent', not_sent) end
return sent + not_sent
"""
)

# KEYS: ledger, receipts, meta. ARGV: ttl, then (row, counted as, receipt) per row: the
# final receipt of unconfirmed rows nobody could settle. They stay unconfirmed.
_LEAVE = (
    _COUNT
    + """
local n = (#ARGV - 1) / 3
local rows = {}
for i = 1, n do rows[i] = ARGV[i * 3 - 1] end
local found = redis.call('HMGET', KEYS[1], unpack(rows))
local writes, receipts = {}, {}
local left = 0
for i = 1, n do
  local base = i * 3 - 1
  local raw = found[i]
  local entry = raw and cjson.decode(raw)
  if entry and entry.left ~= 1 and (entry.state == 'unconfirmed'
      or (entry.state == 'failed' and entry.doubtful == 1)) then
    entry.left = 1
    store_receipt(KEYS[3], KEYS[2], receipts, entry, ARGV[base], ARGV[base + 2], ARGV[base + 1])
    writes[#writes + 1] = ARGV[base]
    writes[#writes + 1] = cjson.encode(entry)
    left = left + 1
  end
end
if #writes > 0 then
  redis.call('HSET', KEYS[1], unpack(writes))
  redis.call('HSET', KEYS[2], unpack(receipts))
end
if left > 0 then redis.call('HINCRBY', KEYS[3], 'left_unconfirmed', left) end
return left
"""
)

# KEYS: ledger, meta. ARGV: alive prefix, interrupted code. Rows of dead processes.
_SETTLE = """
local settled = 0
local alive = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local entry = cjson.decode(all[i + 1])
  if entry.state == 'sending' then
    local its = string.match(entry.owner, '^(.*)/') or entry.owner
    if alive[its] == nil then alive[its] = redis.call('EXISTS', ARGV[1] .. its) == 1 end
    if not alive[its] then
      entry.state, entry.error_code, entry.owner = 'unconfirmed', ARGV[2], nil
      redis.call('HSET', KEYS[1], all[i], cjson.encode(entry))
      settled = settled + 1
    end
  end
end
if settled > 0 then redis.call('HINCRBY', KEYS[2], 'unconfirmed', settled) end
return settled
"""


class Heartbeat:
    """This process's alive key in Redis, refreshed by a daemon thread; the lease of
    its claims.

    A forked child (a Celery prefork worker) is another process: its id and its
    thread are made again the first time it asks for them. :meth:`generation`
    is the fence: ``None`` when the last refresh is too old to trust (Redis is
    slow or away, or the process was stopped), and a new number after the key
    was found expired, when other workers may have taken this process's rows.
    """

    def __init__(self, client: redis.Redis, seconds: float = DEFAULT_HEARTBEAT) -> None:
        self._client = client
        self._seconds = seconds
        self._pid = -1
        self._process = ""
        self._lock = threading.Lock()
        self._generation = 0
        self._refreshed = float("-inf")  # monotonic time the last good refresh started

    @property
    def process(self) -> str:
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    self._start()
        return self._process

    def generation(self) -> int | None:
        self.process  # noqa: B018  (starts the thread in a new process)
        # A margin under the expiry: a claim is trusted only while the key surely lives.
        if time.monotonic() - self._refreshed > 0.8 * self._seconds:
            return None
        return self._generation

    def _start(self) -> None:
        self._pid = os.getpid()
        self._process = f"{socket.gethostname()}:{self._pid}:{uuid.uuid4().hex[:8]}"
        self._generation = 0
        self._refreshed = float("-inf")
        # Redis away: the thread tries again; until then nothing is sent.
        with contextlib.suppress(redis.RedisError):
            self._beat(first=True)
        thread = threading.Thread(target=self._run, name="norq-heartbeat", daemon=True)
        thread.start()

    def _beat(self, *, first: bool = False) -> None:
        started = time.monotonic()
        key, ttl = alive_key(self._process), int(self._seconds * 1000)
        if not first and self._client.set(key, "1", px=ttl, xx=True):
            self._refreshed = started
            return
        # Expired while this process was stopped or cut off: other workers may have
        # taken its rows, so what it claimed before must be checked again.
        self._client.set(key, "1", px=ttl)
        if not first:
            self._generation += 1
        self._refreshed = started

    def _run(self) -> None:
        stop = threading.Event()
        while not stop.wait(self._seconds / 4):
            try:
                self._beat()
            except redis.RedisError:
                continue  # Redis is away: the lease lapses and nothing is sent meanwhile


class RedisLedger:
    """One job's ledger in Redis, for one run (a chunk) of one worker process."""

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
        self._owner = ""
        self._entries = job_key(job_id, "ledger")
        self._receipts = job_key(job_id, "receipts")
        self._meta = job_key(job_id, "meta")
        self._run: RunInfo | None = None
        self._scripts = {
            name: client.register_script(source)
            for name, source in (
                ("claim", _CLAIM),
                ("record", _RECORD),
                ("release", _RELEASE),
                ("held", _HELD),
                ("resolve", _RESOLVE),
                ("leave", _LEAVE),
                ("settle", _SETTLE),
            )
        }

    @property
    def lease(self) -> Lease:
        return self._heartbeat

    @property
    def owner(self) -> str:
        """``<process>/<run>``: who holds the rows this ledger claims."""
        if not self._owner:
            self._owner = f"{self._heartbeat.process}/{uuid.uuid4().hex[:8]}"
        return self._owner

    # -- the run -----------------------------------------------------------------

    def open_run(self, run: RunInfo) -> RunInfo:
        key = job_key(self.job_id, "run")
        fields = {
            "channel": run.channel,
            "fingerprint": run.fingerprint,
            "started_at": run.started_at.isoformat(),
        }

        def opened() -> dict[str, str]:
            pipe = self._client.pipeline()
            for name, value in fields.items():
                pipe.hsetnx(key, name, value)
            pipe.expire(key, self._ttl)
            pipe.hgetall(key)
            return {k.decode(): v.decode() for k, v in pipe.execute()[-1].items()}

        stored = self._call(opened)
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

    def claim(self, rows: Sequence[LedgerRow], policy: ResendPolicy) -> list[Claim]:
        if not rows:
            return []
        args: list[Any] = [
            self.owner,
            self._heartbeat.process,
            alive_key(""),
            int(policy.resend_unconfirmed),
            int(policy.retry_final),
            self._ttl,
            dt.datetime.now(dt.UTC).isoformat(),
            ErrorCode.INTERRUPTED.value,
        ]
        for wanted in rows:
            args += [wanted.row, wanted.to, json.dumps(dict(wanted.data), default=str)]
        answers = self._call(self._scripts["claim"], keys=[self._entries, self._meta], args=args)
        claims: list[Claim] = []
        for wanted, answer in zip(rows, answers, strict=True):
            granted, previous, duplicate, unsure, final, other = answer
            if other:
                raise LedgerError(
                    f"row {wanted.row} of job {self.job_id} was {other.decode()} and is "
                    f"{wanted.to} now: a task's rows changed after the job was enqueued"
                )
            claims.append(
                Claim(
                    wanted.row,
                    bool(granted),
                    EntryState(previous.decode()) if previous else None,
                    may_duplicate=bool(duplicate),
                    doubtful=bool(unsure),
                    final=bool(final),
                )
            )
        return claims

    def record(self, receipts: Sequence[tuple[int, Receipt]]) -> list[int]:
        if not receipts:
            return []
        args: list[Any] = [self.owner, self._ttl]
        for row, receipt in receipts:
            error = receipt.error
            args += [
                row,
                state_for(receipt).value,
                int(receipt.final),
                receipt.provider,
                receipt.message_id or "",
                error.code if error is not None else "",
                _counted(receipt),
                json.dumps(receipt.to_dict(), ensure_ascii=False),
            ]
        lost = self._call(
            self._scripts["record"], keys=[self._entries, self._receipts, self._meta], args=args
        )
        return [int(row) for row in lost]

    def release(self, rows: Sequence[int]) -> None:
        if rows:
            self._call(self._scripts["release"], keys=[self._entries], args=[self.owner, *rows])

    def still_held(self, rows: Sequence[int]) -> set[int]:
        if not rows:
            return set()
        held = self._call(self._scripts["held"], keys=[self._entries], args=[self.owner, *rows])
        return {int(row) for row in held}

    def settle_open(self) -> int:
        """Turn ``sending`` rows whose worker is gone ``unconfirmed``; returns how many."""
        settled = self._call(
            self._scripts["settle"],
            keys=[self._entries, self._meta],
            args=[alive_key(""), ErrorCode.INTERRUPTED.value],
        )
        return int(settled)

    def resolve(self, answers: Sequence[tuple[int, str | None, str | None]]) -> None:
        if not answers:
            return
        args: list[Any] = [self._ttl, ErrorCode.NOT_FOUND.value]
        channel = self._run.channel if self._run is not None else ""
        for row, provider, message_id in answers:
            receipt = ""
            if message_id is not None:
                entry = self.entry(row)
                found = Receipt.found(
                    channel,
                    provider or "",
                    entry.to if entry else "",
                    message_id,
                    index=row - 1,
                )
                receipt = json.dumps(found.to_dict(), ensure_ascii=False)
            args += [row, provider or "", message_id or "", receipt]
        self._call(
            self._scripts["resolve"], keys=[self._entries, self._receipts, self._meta], args=args
        )

    def leave_unconfirmed(self, receipts: Sequence[tuple[int, Receipt]]) -> None:
        if not receipts:
            return
        args: list[Any] = [self._ttl]
        for row, receipt in receipts:
            args += [row, _counted(receipt), json.dumps(receipt.to_dict(), ensure_ascii=False)]
        self._call(
            self._scripts["leave"], keys=[self._entries, self._receipts, self._meta], args=args
        )

    # -- reading -----------------------------------------------------------------

    def entry(self, row: int) -> LedgerEntry | None:
        raw = self._call(self._client.hget, self._entries, str(row))
        return None if raw is None else _entry(row, json.loads(raw))

    def entries(self) -> Iterator[LedgerEntry]:
        """Every row recorded, in row order."""
        found = self._call(self._client.hgetall, self._entries)
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
        raw = self._call(self._client.hget, self._receipts, str(row))
        return None if raw is None else Receipt.from_dict(json.loads(raw))

    def close(self) -> None:
        return None  # the client belongs to whoever made the ledger

    def _call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return function(*args, **kwargs)
        except redis.RedisError as exc:
            raise store_unavailable(self._client, exc) from None

    def __repr__(self) -> str:
        return f"<RedisLedger job={self.job_id}>"


def store_unavailable(client: redis.Redis, exc: redis.RedisError) -> StoreUnavailable:
    """A Redis error as Norq's own, naming the store (its URL without a password)."""
    kwargs = client.connection_pool.connection_kwargs
    where = kwargs.get("path") or f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}"
    url = f"redis://{where}/{kwargs.get('db', 0)}"  # no password: it is never in kwargs' text
    text = str(exc)
    if text.startswith("OOM"):
        why = (
            "it is full (maxmemory reached; Norq needs maxmemory-policy noeviction and "
            "room for its jobs, see docs/scale.md)"
        )
    else:
        why = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return StoreUnavailable(f"the Redis store at {url} cannot be used: {why}")


def _counted(receipt: Receipt) -> str:
    """What a receipt counts as in the job's counters: ``ok`` or its error code."""
    if receipt.ok:
        return "ok"
    return receipt.error.code if receipt.error is not None else "unknown"


def _entry(row: int, fields: Mapping[str, Any]) -> LedgerEntry:
    data = fields.get("data") or "{}"
    claimed_at = fields.get("claimed_at")
    return LedgerEntry(
        row=row,
        to=fields["to"],
        state=EntryState(fields["state"]),
        data=json.loads(data) if isinstance(data, str) else data,
        provider=fields.get("provider") or None,
        message_id=fields.get("message_id"),
        error_code=fields.get("error_code"),
        sends=int(fields.get("sends", 0)),
        doubtful=bool(int(fields.get("doubtful", 0))),
        final=bool(int(fields.get("final", 0))),
        claimed_at=dt.datetime.fromisoformat(claimed_at) if claimed_at else None,
    )
