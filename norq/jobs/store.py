"""What a job is and how far it got: its record in Redis, read back as a :class:`JobStatus`.

A job is one bulk send enqueued by :meth:`norq.Norq.enqueue_many`. Its keys
(``norq:job:<id>:*``) hold the shared content (``meta``), the send ledger
(``ledger``, :mod:`norq.jobs.ledger`) and one final receipt per recipient
(``receipts``, keyed by the recipient's index).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import redis

from norq.errors import NorqError
from norq.jobs.ledger import job_key, receipt_from_dict
from norq.receipt import Receipt

# Counters the workers keep in a job's meta hash, about rows found unconfirmed.
UNCONFIRMED_COUNTERS = (
    "unconfirmed",
    "resolved_sent",
    "resolved_not_sent",
    "resent_unconfirmed",
    "left_unconfirmed",
)


class JobNotFound(NorqError):
    """No job with that id in this Redis (never enqueued here, or expired)."""


@dataclass(frozen=True, slots=True)
class JobStatus:
    """A job's progress. ``total`` is ``None`` while recipients are still being enqueued.

    ``unconfirmed`` counts rows whose worker died with the request out;
    ``resolved_sent`` / ``resolved_not_sent`` how many of them the provider was
    asked about and had / did not have (those were then sent);
    ``resent_unconfirmed`` how many were sent again without asking
    (``retry_unconfirmed``); ``left_unconfirmed`` how many end as failed
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


class JobStore:
    """Reads and writes jobs' records in one Redis."""

    def __init__(self, client: redis.Redis, ttl: float = 7 * 24 * 3600) -> None:
        self._client = client
        self._ttl = int(ttl)

    def create(self, job_id: str, channel: str, content: Mapping[str, Any]) -> dt.datetime:
        created_at = dt.datetime.now(dt.UTC)
        key = job_key(job_id, "meta")
        self._client.hset(
            key,
            mapping={
                "channel": channel,
                "created_at": created_at.isoformat(),
                "content": json.dumps(content, default=str),
            },
        )
        self._client.expire(key, self._ttl)
        return created_at

    def set_total(self, job_id: str, total: int) -> None:
        self._client.hset(job_key(job_id, "meta"), "total", total)

    def count(self, job_id: str, counter: str, by: int = 1) -> None:
        self._client.hincrby(job_key(job_id, "meta"), counter, by)

    def status(self, job_id: str) -> JobStatus:
        found: dict[bytes, bytes] = self._client.hgetall(job_key(job_id, "meta"))  # type: ignore[assignment]
        meta = {key.decode(): value.decode() for key, value in found.items()}
        if not meta:
            raise JobNotFound(
                f"no job {job_id!r} in this Redis: check the id (norq send --queue prints it) "
                "and that the config points at the same Redis; jobs expire after celery.result_ttl"
            )
        ok = 0
        errors: Counter[str] = Counter()
        done = 0
        for raw in self._client.hvals(job_key(job_id, "receipts")):
            done += 1
            fields = json.loads(raw)
            if fields["ok"]:
                ok += 1
            else:
                errors[(fields.get("error") or {}).get("code") or "unknown"] += 1
        return JobStatus(
            job_id=job_id,
            channel=meta["channel"],
            created_at=dt.datetime.fromisoformat(meta["created_at"]),
            total=int(meta["total"]) if "total" in meta else None,
            done=done,
            ok=ok,
            errors=dict(errors),
            **{name: int(meta.get(name, 0)) for name in UNCONFIRMED_COUNTERS},
        )

    def receipts(self, job_id: str) -> Iterator[Receipt]:
        """The job's receipts so far, in recipient order."""
        return (receipt for receipt, _ in self.receipts_with_data(job_id))

    def receipts_with_data(self, job_id: str) -> Iterator[tuple[Receipt, Mapping[str, Any]]]:
        """Each receipt with its recipient's own template data, in recipient order."""
        found = self._client.hgetall(job_key(job_id, "receipts"))
        ledger = self._client.hgetall(job_key(job_id, "ledger"))
        for row, raw in sorted(found.items(), key=lambda item: int(item[0])):
            entry = json.loads(ledger[row]) if row in ledger else {}
            data = entry.get("data") or "{}"
            yield receipt_from_dict(json.loads(raw)), json.loads(data)
