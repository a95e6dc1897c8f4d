"""Kombu's Redis transport, kept from losing a task when Redis is full.

Kombu takes a task off the queue (``BRPOP``) and only then records it as
unacknowledged (``ZADD``/``HSET``), so that it comes back if the worker dies.
When Redis is at ``maxmemory`` (``noeviction``), the second step is refused and
the task is gone: it is on no queue and in no unacknowledged set, and the
worker's consumer stops with "Unrecoverable error". This transport keeps the
task in hand and tries the second step again until Redis has room, so a full
Redis delays a job instead of losing part of it. It also acknowledges a task
outside a transaction, which a full Redis allows (see ``_remove_from_indices``).
Everything else is kombu's.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
from kombu.transport import redis as kombu_redis

logger = logging.getLogger("norq")

#: The longest wait between two tries to record a task taken off the queue.
_MAX_WAIT = 2.0


class QoS(kombu_redis.QoS):
    def append(self, message: Any, delivery_tag: Any) -> None:
        wait = 0.1
        warned = False
        while True:
            try:
                super().append(message, delivery_tag)  # type: ignore[no-untyped-call]
            except redis.exceptions.OutOfMemoryError as exc:
                if not warned:
                    logger.warning(
                        "Redis is full (%s): a task taken off the queue is held in this worker "
                        "until Redis has room to record it",
                        exc,
                    )
                    warned = True
                time.sleep(wait)
                wait = min(wait * 2, _MAX_WAIT)
                continue
            if warned:
                logger.warning("Redis has room again: the held task is recorded")
            return

    def _remove_from_indices(self, delivery_tag: Any, pipe: Any = None) -> Any:
        if pipe is not None:  # part of kombu's own transaction (a restore)
            return super()._remove_from_indices(delivery_tag, pipe)  # type: ignore[no-untyped-call]
        # An ack (or a reject without requeue) removes the task from the unacknowledged
        # set and hash. Kombu does it in MULTI, and a full Redis refuses every command
        # queued in a transaction, even these two that free memory: the consumer then
        # stops with "Unrecoverable error". Outside MULTI, Redis lets them through.
        with self.channel.conn_or_acquire() as client:
            return (
                client.pipeline(transaction=False)
                .zrem(self.unacked_index_key, delivery_tag)
                .hdel(self.unacked_key, delivery_tag)
            )


class Channel(kombu_redis.Channel):
    QoS = QoS


class Transport(kombu_redis.Transport):
    Channel = Channel
