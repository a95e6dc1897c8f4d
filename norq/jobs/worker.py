"""The Celery side: the app built from ``norq.yaml`` and the task that sends one chunk.

Tasks are acknowledged late and rejected (so redelivered) when their worker
dies, and every recipient goes through the job's :class:`RedisLedger` before
and after its request, so a redelivered chunk skips what was accepted and never
blindly re-sends what may have been (see docs/scale.md, "The ledger").
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import redis
from celery import Celery

from norq.app import Norq
from norq.bulk import Recipient
from norq.config import CelerySettings
from norq.errors import MessageError, QueryError, UnsupportedOperation
from norq.jobs.ledger import Heartbeat, RedisLedger
from norq.jobs.store import JobStore
from norq.ledger import EntryState, RunInfo
from norq.message import EMPTY
from norq.notification import Notification
from norq.receipt import Receipt
from norq.reconcile import find_sent

logger = logging.getLogger("norq")

SEND_CHUNK = "norq.send_chunk"
# How often a row held by another, live worker is looked at again.
_HELD_POLL = 0.2


def celery_app(settings: CelerySettings, norq: Norq | None = None) -> Celery:
    """A Celery app for ``settings``; ``norq`` is the sender its tasks use in this process.

    Without ``norq``, a worker process builds one from the discovered config
    (``$NORQ_CONFIG``, which ``norq worker`` sets) on its first task.
    """
    app = Celery("norq", set_as_current=False)
    transport_options = {
        "visibility_timeout": settings.visibility_timeout,
        **settings.options.get("broker_transport_options", {}),
    }
    app.conf.update(
        broker_url=settings.broker_url,
        broker_connection_retry_on_startup=True,
        task_default_queue=settings.queue,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        # The ledger makes redelivery safe, and late acks make it happen.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
    )
    app.conf.update({k: v for k, v in settings.options.items() if k != "broker_transport_options"})
    app.conf.broker_transport_options = transport_options
    runtime = _Runtime(settings, norq)

    # Redis away for a moment: try the chunk again; the ledger skips what was done.
    @app.task(  # type: ignore[untyped-decorator]
        name=SEND_CHUNK,
        bind=True,
        autoretry_for=(redis.RedisError,),
        retry_backoff=True,
        max_retries=10,
    )
    def send_chunk(
        task: Any,
        job_id: str,
        rows: Sequence[tuple[int, Mapping[str, Any]]],
        content: Mapping[str, Any],
    ) -> int:
        return runtime.send_chunk(job_id, rows, content)

    app.norq_runtime = runtime
    return app


class _Runtime:
    """What a worker process keeps between tasks: its Norq, its Redis, its heartbeat."""

    def __init__(self, settings: CelerySettings, norq: Norq | None) -> None:
        self.settings = settings
        self._norq = norq
        self._client: redis.Redis | None = None
        self._heartbeat: Heartbeat | None = None

    def _sender(self) -> tuple[Norq, redis.Redis, Heartbeat]:
        # Built lazily, in the process that sends: a prefork child must not
        # inherit its parent's sockets.
        if self._client is None:
            self._client = redis.Redis.from_url(self.settings.store_url)
            self._heartbeat = Heartbeat(self._client)
        if self._norq is None:
            # Its config has this celery: section, so its rate limits live in Redis.
            self._norq = Norq.discover()
        assert self._heartbeat is not None
        return self._norq, self._client, self._heartbeat

    def send_chunk(
        self, job_id: str, rows: Sequence[tuple[int, Mapping[str, Any]]], content: Mapping[str, Any]
    ) -> int:
        norq, client, heartbeat = self._sender()
        ledger = RedisLedger(client, job_id, heartbeat=heartbeat, ttl=self.settings.result_ttl)
        run = ledger.open_run(
            RunInfo(
                content["channel"],
                content["fingerprint"],
                dt.datetime.fromisoformat(content["started_at"]),
            )
        )
        jobs = JobStore(client, self.settings.result_ttl)
        shared = shared_notification(content)
        sent = 0
        for row, recipient in rows:
            sent += _send_row(norq, ledger, jobs, run, row, recipient, shared, self.settings)
        return sent


def _send_row(
    norq: Norq,
    ledger: RedisLedger,
    jobs: JobStore,
    run: RunInfo,
    row: int,
    recipient: Mapping[str, Any],
    shared: Notification,
    settings: CelerySettings,
) -> int:
    """Send one recipient unless the ledger says it is done or held; 1 if a request went out."""
    to = str(recipient["to"])
    if "invalid" in recipient:
        receipt = Receipt.refused(
            shared.channel, "", to, recipient["code"], recipient["invalid"], index=row
        )
        ledger.record_outcome(row, receipt)
        return 0
    data = recipient.get("data") or {}
    while True:
        claim = ledger.claim(row, to, data, resend_unconfirmed=settings.retry_unconfirmed)
        if claim.granted:
            break
        if claim.previous is EntryState.ACCEPTED:
            return 0
        if claim.previous is EntryState.SENDING:
            # A live worker holds it; its receipt comes, or its heartbeat stops.
            time.sleep(_HELD_POLL)
            continue
        # Unconfirmed: a dead worker sent it and its answer was lost. Ask the provider.
        # Resolved: the next claim sees accepted (it was sent) or failed (safe to send).
        if not _resolve(norq, ledger, jobs, run, row, shared.for_recipient(to, data)):
            return 0
    one = Recipient(to, data=data or None, fields=recipient.get("fields") or None)
    receipt = next(iter(norq.send_many(shared, [one])))
    ledger.record_outcome(row, replace(receipt, index=row))
    return 1


def shared_notification(content: Mapping[str, Any]) -> Notification:
    """The job's notification without a recipient, as the task carries it."""
    return Notification(
        content["channel"],
        None,
        content.get("body"),
        content.get("template"),
        content.get("data") or EMPTY,
        content.get("fields") or EMPTY,
        content.get("provider"),
    )


def _resolve(
    norq: Norq,
    ledger: RedisLedger,
    jobs: JobStore,
    run: RunInfo,
    row: int,
    notification: Notification,
) -> bool:
    """Settle an unconfirmed row by asking its provider; ``False`` if nobody can tell."""
    try:
        message_id = find_sent(norq, notification, since=run.started_at)
    except (UnsupportedOperation, MessageError, QueryError) as exc:
        reason = norq.redactor.text(
            f"unconfirmed: the worker sending this died before the answer came back, and "
            f"the provider could not be asked ({exc}); not re-sent (retry_unconfirmed is off)"
        )
        ledger.leave_unconfirmed(row, reason)
        jobs.count(ledger.job_id, "left_unconfirmed")
        return False
    ledger.resolve(row, message_id)
    return True
