"""Enqueueing: a bulk send becomes a job record in Redis and chunk tasks on the broker.

The producer names the task (:data:`~norq.jobs.celery_app.SEND_CHUNK`); it never
imports the worker's module.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import redis

from norq.bulk import Recipient, RecipientLike, as_recipient
from norq.errors import MessageError
from norq.jobs.celery_app import SEND_CHUNK, celery_app
from norq.jobs.redis_ledger import RedisLedger, store_unavailable
from norq.jobs.store import JobStore
from norq.ledger import RunInfo, content_fingerprint

if TYPE_CHECKING:
    from celery import Celery

    from norq.config import CelerySettings
    from norq.notification import Notification


class Dispatcher:
    """Sends bulk jobs to the Celery workers and reads their progress.

    Tasks are sent by name: this process only enqueues, the workers send.
    """

    def __init__(self, settings: CelerySettings) -> None:
        self.settings = settings
        self._client = redis.Redis.from_url(settings.store_url)
        self.jobs = JobStore(self._client, settings.result_ttl)
        self._celery: Celery | None = None

    @property
    def celery(self) -> Celery:
        if self._celery is None:
            self._celery = celery_app(self.settings)
        return self._celery

    def enqueue_many(self, shared: Notification, recipients: Iterable[RecipientLike]) -> str:
        """Record the job, send its chunks to the queue; returns the job id."""
        job_id = uuid.uuid4().hex
        started_at = dt.datetime.now(dt.UTC)
        fingerprint = content_fingerprint(shared)
        content = {
            "channel": shared.channel,
            "body": shared.body,
            "template": shared.template,
            "data": dict(shared.data) if shared.data else None,
            "provider": shared.provider,
            "fields": dict(shared.fields) if shared.fields else None,
            "fingerprint": fingerprint,
            "started_at": started_at.isoformat(),
        }
        self.jobs.create(job_id, shared.channel, content)
        # The run starts now: unanswered sends are looked for at the provider from here.
        ledger = RedisLedger(self._client, job_id, ttl=self.settings.result_ttl)
        ledger.open_run(RunInfo(shared.channel, fingerprint, started_at))
        size = self.settings.chunk_size
        chunk: list[tuple[int, dict[str, Any]]] = []
        total = 0
        for index, item in enumerate(recipients):
            chunk.append((index, _as_task_row(item)))
            total += 1
            if len(chunk) >= size:
                self._send(job_id, chunk, content)
                chunk = []
        if chunk:
            self._send(job_id, chunk, content)
        self.jobs.set_total(job_id, total)
        return job_id

    def _send(
        self, job_id: str, chunk: list[tuple[int, dict[str, Any]]], content: Mapping[str, Any]
    ) -> None:
        try:
            self.celery.send_task(
                SEND_CHUNK, args=[job_id, chunk, content], queue=self.settings.queue
            )
        except Exception as exc:
            # kombu raises its own errors (OperationalError) for a broker it cannot reach.
            if isinstance(exc, redis.RedisError) or type(exc).__module__.startswith("kombu"):
                raise store_unavailable(self._client, redis.ConnectionError(str(exc))) from None
            raise

    def close(self) -> None:
        self._client.close()
        if self._celery is not None:
            self._celery.close()


def _as_task_row(item: RecipientLike) -> dict[str, Any]:
    try:
        recipient: Recipient = as_recipient(item)
    except MessageError as exc:
        # As in notify_many: one bad recipient is a failed receipt, not a failed job.
        return {"to": repr(item), "invalid": str(exc), "code": exc.code}
    row: dict[str, Any] = {"to": recipient.to}
    if recipient.data:
        row["data"] = dict(recipient.data)
    if recipient.fields:
        row["fields"] = dict(recipient.fields)
    return row
