"""The Celery side: the task that sends one chunk of a job, through the bulk engine.

A worker process keeps one event loop, one Sender (its providers, executor and
shared Redis rate limits), one Redis client and one heartbeat between chunks.
Each chunk runs its rows through :class:`norq.bulk.BulkSend` on that loop, with
up to ``celery.rows_in_flight`` rows in flight, claiming and recording them in
batches in the job's :class:`~norq.jobs.redis_ledger.RedisLedger`. Tasks are
acknowledged late and rejected (so redelivered) when their worker dies, so a
redelivered chunk skips what was accepted and never blindly re-sends what may
have been (see docs/scale.md, "The ledger").

The sender is built when the first chunk arrives, not with this module; the
worker never imports the keyword facade (:mod:`norq.app`).
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from norq.errors import StoreUnavailable
from norq.jobs.celery_app import SEND_CHUNK, celery_app
from norq.ledger import ResendPolicy
from norq.message import EMPTY
from norq.notification import Notification

if TYPE_CHECKING:
    import asyncio
    from multiprocessing.sharedctypes import Synchronized

    import redis
    from celery import Celery

    from norq.bulk import BulkSend, RecipientLike, Refused
    from norq.config import CelerySettings
    from norq.jobs.redis_ledger import Heartbeat
    from norq.sender import Sender

logger = logging.getLogger("norq")

#: How ``norq worker`` exits when a chunk gave up waiting for the store (EX_TEMPFAIL).
STORE_GAVE_UP = 75


def worker_app(
    settings: CelerySettings,
    sender: Sender | None = None,
    gave_up: Synchronized[int] | None = None,
) -> Celery:
    """The Celery app with the chunk task; ``sender`` is what its tasks send with in this
    process (without one, each worker process builds one from the discovered config,
    ``$NORQ_CONFIG``, which ``norq worker`` sets). ``gave_up`` is set when a chunk gave
    up waiting for the store, so that ``norq worker`` can exit non-zero."""
    app = celery_app(settings)
    runtime = _Runtime(settings, sender, gave_up)

    @app.task(name=SEND_CHUNK, bind=True)  # type: ignore[untyped-decorator]
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
    """What a worker process keeps between chunks: its sender, its Redis, its heartbeat,
    its event loop (so its connections outlive a chunk)."""

    def __init__(
        self, settings: CelerySettings, sender: Sender | None, gave_up: Synchronized[int] | None
    ) -> None:
        self.settings = settings
        self._sender = sender
        self._gave_up = gave_up
        self._pid = -1
        self._client: redis.Redis | None = None
        self._heartbeat: Heartbeat | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _parts(self) -> tuple[Sender, redis.Redis, Heartbeat, asyncio.AbstractEventLoop]:
        # Built in the process that sends: a prefork child must not use its parent's
        # sockets or loop.
        if self._pid != os.getpid():
            import asyncio

            import redis

            from norq.jobs.redis_ledger import Heartbeat

            self._pid = os.getpid()
            self._client = redis.Redis.from_url(self.settings.store_url)
            self._heartbeat = Heartbeat(self._client)
            self._loop = asyncio.new_event_loop()
        if self._sender is None:
            from norq.sender import Sender

            # Its config has this celery: section, so its rate limits live in Redis.
            self._sender = Sender.discover()
        assert self._client is not None
        assert self._heartbeat is not None
        assert self._loop is not None
        return self._sender, self._client, self._heartbeat, self._loop

    def send_chunk(
        self, job_id: str, rows: Sequence[tuple[int, Mapping[str, Any]]], content: Mapping[str, Any]
    ) -> int:
        """Send a chunk's rows; returns how many rows it dealt with."""
        from norq.jobs.redis_ledger import RedisLedger

        sender, client, heartbeat, loop = self._parts()
        settings = self.settings
        ledger = RedisLedger(client, job_id, heartbeat=heartbeat, ttl=settings.result_ttl)
        bulk = sender.bulk_send(
            shared_notification(content),
            ledger=ledger,
            policy=ResendPolicy(resend_unconfirmed=settings.resend_unconfirmed),
            store_patience=settings.store_patience,
        )
        items = [(index, task_item(row)) for index, row in rows]
        try:
            return loop.run_until_complete(_drain(bulk, items, self._workers(sender, bulk)))
        except StoreUnavailable as exc:
            if self._gave_up is not None:  # under norq worker
                self._give_up(self._gave_up, exc)
            raise

    def _workers(self, sender: Sender, bulk: BulkSend) -> int:
        """``celery.rows_in_flight``, else the provider's in-flight limit, at most the pool."""
        wanted = self.settings.rows_in_flight
        if wanted is None:
            limits = [p.rate_limits.max_in_flight for p in bulk.chain]
            known = [limit for limit in limits if limit is not None]
            wanted = min(known) if known else sender.config.executor.max_connections
        return sender.bulk_workers(wanted)

    def _give_up(self, gave_up: Synchronized[int], exc: StoreUnavailable) -> None:
        """This worker cannot go on: leave the chunk unacknowledged for redelivery, stop the
        worker, and have ``norq worker`` exit non-zero."""
        logger.critical(
            "%s; waited %.0f s (celery.store_patience); this worker stops and the chunk "
            "stays on the queue for another worker",
            exc,
            self.settings.store_patience,
        )
        gave_up.value = 1
        os.kill(os.getppid(), signal.SIGTERM)  # the worker's warm shutdown
        # Exit without acknowledging: Celery rejects the task back to the queue (or
        # the broker restores it after its visibility timeout).
        os._exit(STORE_GAVE_UP)


async def _drain(
    bulk: BulkSend, items: list[tuple[int, RecipientLike | Refused]], workers: int
) -> int:
    done = 0
    async for _ in bulk.arun(items, workers):
        done += 1
    return done


def task_item(row: Mapping[str, Any]) -> RecipientLike | Refused:
    """A row as the task carries it, back as the bulk engine's input."""
    from norq.bulk import Recipient, Refused

    to = str(row["to"])
    if "invalid" in row:
        return Refused(to, row["code"], row["invalid"])
    return Recipient(to, data=row.get("data") or None, fields=row.get("fields") or None)


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
