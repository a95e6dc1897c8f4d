"""The Celery app a config's ``celery:`` section describes, shared by the producer and
the workers, and the name of the one task: nothing here imports the facade or the task."""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from celery import Celery

    from norq.config import CelerySettings

#: The task that sends one chunk of a job's rows (registered by :mod:`norq.jobs.worker`).
SEND_CHUNK = "norq.send_chunk"


def celery_app(settings: CelerySettings) -> Celery:
    """A Celery app for ``settings``: broker, queue, JSON only, late acks."""
    from celery import Celery

    app = Celery("norq", set_as_current=False)
    transport_options = {
        "visibility_timeout": settings.visibility_timeout,
        **settings.options.get("broker_transport_options", {}),
    }
    app.conf.update(
        broker_url=settings.broker_url,
        # Kombu's Redis transport, except that a task taken off the queue while Redis
        # is full is held until it can be recorded, not lost (norq.jobs.transport).
        broker_transport="norq.jobs.transport:Transport",
        broker_connection_retry_on_startup=True,
        task_default_queue=settings.queue,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        # The ledger makes redelivery safe, and late acks make it happen: a chunk is
        # acknowledged once every row in it has its outcome recorded.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
    )
    if settings.broker_url.startswith("rediss://"):
        # Named by the transport, the URL no longer switches TLS on: say it, and verify
        # the server's certificate unless the options say otherwise.
        app.conf.broker_use_ssl = {"ssl_cert_reqs": ssl.CERT_REQUIRED}
    app.conf.update({k: v for k, v in settings.options.items() if k != "broker_transport_options"})
    app.conf.broker_transport_options = transport_options
    return app
