"""What a job is and how far it got: its record in Redis, read back as a :class:`JobStatus`.

A job is one bulk send enqueued by :meth:`norq.Norq.enqueue_many`. Its keys
(``norq:job:<id>:*``) hold the shared content and the counters (``meta``), the
send ledger (``ledger``, :mod:`norq.jobs.redis_ledger`) and one final receipt
per recipient (``receipts``, keyed by the recipient's row, its index + 1). The
counters move with the receipts, in the same scripts, so a job's status costs
one read however large the job.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import redis

from norq.errors import NorqError
from norq.jobs.redis_ledger import UNCONFIRMED_COUNTERS, alive_key, job_key, store_unavailable
from norq.receipt import Receipt

T = TypeVar("T")


class JobNotFound(NorqError):
    """No job with that id in this Redis (never enqueued here, or expired)."""


@dataclass(frozen=True, slots=True)
class JobStatus:
    """A job's progress. ``total`` is ``None`` while recipients are still being enqueued.

    ``unconfirmed`` counts rows whose worker died (or stalled) with the request
    out; ``resolved_sent`` / ``resolved_not_sent`` how many of them the
    provider was asked about and had / did not have (those were then sent);
    ``resent_unconfirmed`` how many were sent again without asking
    (``resend_unconfirmed``); ``left_unconfirmed`` how many end as failed
    receipts with code ``interrupted`` because nobody could tell.
    """

    job_id: str
    channel: str
    created_at: dt.datetime
    total: int | None
    done: int
    ok: int
    errors: Mapping[str, int] = field(default_factory=dict)
    unconfirmed: int = 0
    resolved_sent: int = 0
    resolved_not_sent: int = 0
    resent_unconfirmed: int = 0
    left_unconfirmed: int = 0

    @property
    def failed(self) -> int:
        return self.done - self.ok

    @property
    def finished(self) -> bool:
        return self.total is not None and self.done >= self.total

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "channel": self.channel,
            "created_at": self.created_at.isoformat(),
            "total": self.total,
            "done": self.done,
            "ok": self.ok,
            "failed": self.failed,
            "finished": self.finished,
            "errors": dict(self.errors),
            **{name: getattr(self, name) for name in UNCONFIRMED_COUNTERS},
        }


@dataclass(frozen=True, slots=True)
class StoreHealth:
    """What the Redis of the jobs says about itself and its workers: why a job may stall.

    ``full``: used memory at ``maxmemory`` (writes fail). ``policy``: its
    ``maxmemory-policy``; ``persistent``: it writes an append-only file.
    ``workers``: worker processes whose heartbeat is alive. ``queued`` /
    ``unacknowledged``: chunk tasks waiting on the queue / taken by a worker
    and not yet done.
    """

    full: bool
    used_memory: int
    maxmemory: int
    policy: str
    persistent: bool
    workers: int
    queued: int
    unacknowledged: int

    def problems(self) -> list[str]:
        """What is wrong with the store for Norq's jobs, each with its fix (docs/scale.md)."""
        found = []
        if self.full:
            found.append(
                f"Redis is full ({self.used_memory:,} of maxmemory {self.maxmemory:,} bytes): "
                "no worker can record anything; raise maxmemory or free memory"
            )
        if self.maxmemory and self.policy != "noeviction":
            found.append(
                f"maxmemory-policy is {self.policy}: Redis may evict a job's ledger or its "
                "queued tasks when full; set maxmemory-policy noeviction"
            )
        if not self.persistent:
            found.append(
                "appendonly is off: a Redis restart loses the jobs, their ledgers and the "
                "queue; set appendonly yes (appendfsync everysec or always)"
            )
        return found


class JobStore:
    """Reads and writes jobs' records in one Redis."""

    def __init__(self, client: redis.Redis, ttl: float = 7 * 24 * 3600) -> None:
        self._client = client
        self._ttl = int(ttl)

    def create(self, job_id: str, channel: str, content: Mapping[str, Any]) -> dt.datetime:
        created_at = dt.datetime.now(dt.UTC)
        key = job_key(job_id, "meta")
        pipe = self._client.pipeline()
        pipe.hset(
            key,
            mapping={
                "channel": channel,
                "created_at": created_at.isoformat(),
                "content": json.dumps(content, default=str),
            },
        )
        pipe.expire(key, self._ttl)
        self._call(pipe.execute)
        return created_at

    def set_total(self, job_id: str, total: int) -> None:
        self._call(self._client.hset, job_key(job_id, "meta"), "total", total)

    def status(self, job_id: str) -> JobStatus:
        found: Mapping[Any, Any] = self._call(self._client.hgetall, job_key(job_id, "meta"))
        meta = {key.decode(): value.decode() for key, value in found.items()}
        if not meta:
            raise JobNotFound(
                f"no job {job_id!r} in this Redis: check the id (norq send --queue prints it) "
                "and that the config points at the same Redis; jobs expire after celery.result_ttl"
            )
        errors = {
            name.removeprefix("failed:"): int(count)
            for name, count in meta.items()
            if name.startswith("failed:") and int(count)
        }
        return JobStatus(
            job_id=job_id,
            channel=meta["channel"],
            created_at=dt.datetime.fromisoformat(meta["created_at"]),
            total=int(meta["total"]) if "total" in meta else None,
            done=int(meta.get("done", 0)),
            ok=int(meta.get("ok", 0)),
            errors=errors,
            **{name: int(meta.get(name, 0)) for name in UNCONFIRMED_COUNTERS},
        )

    def health(self, queue: str) -> StoreHealth:
        """How the store is, for ``norq jobs watch`` to say why a job does not move."""

        def read() -> StoreHealth:
            memory = self._client.info("memory")
            persistence = self._client.info("persistence")
            workers = sum(1 for _ in self._client.scan_iter(match=alive_key("*"), count=1000))
            maxmemory = int(memory.get("maxmemory", 0))
            used = int(memory.get("used_memory", 0))
            return StoreHealth(
                full=bool(maxmemory) and used >= maxmemory,
                used_memory=used,
                maxmemory=maxmemory,
                policy=str(memory.get("maxmemory_policy", "noeviction")),
                persistent=bool(int(persistence.get("aof_enabled", 0))),
                workers=workers,
                queued=int(self._client.llen(queue)),
                unacknowledged=int(self._client.hlen("unacked")),
            )

        return self._call(read)

    def receipts(self, job_id: str) -> Iterator[Receipt]:
        """The job's receipts so far, in recipient order."""
        return (receipt for receipt, _ in self.receipts_with_data(job_id))

    def receipts_with_data(self, job_id: str) -> Iterator[tuple[Receipt, Mapping[str, Any]]]:
        """Each receipt with its recipient's own template data, in recipient order."""
        found = self._call(self._client.hgetall, job_key(job_id, "receipts"))
        ledger = self._call(self._client.hgetall, job_key(job_id, "ledger"))
        for row, raw in sorted(found.items(), key=lambda item: int(item[0])):
            entry = json.loads(ledger[row]) if row in ledger else {}
            data = entry.get("data") or "{}"
            yield Receipt.from_dict(json.loads(raw)), json.loads(data)

    def _call(self, function: Callable[..., T], *args: Any) -> T:
        try:
            return function(*args)
        except redis.RedisError as exc:
            raise store_unavailable(self._client, exc) from None
