"""``norq worker``: a Celery worker that sends the jobs ``norq send --queue`` enqueues."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from norq.cli import UsageFailure
from norq.cli._common import config_option, load_norq

if TYPE_CHECKING:
    from norq.config import CelerySettings

#: Seconds between looks at a Redis that is not up yet.
_WAIT_STEP = 1.0


@click.command(
    "worker",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
    epilog="""\b
Options after the Norq ones go to Celery's worker, for example:
  norq worker --config norq.yaml --concurrency 4 --loglevel INFO
""",
)
@config_option
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
def worker(config_path: str | None, celery_args: tuple[str, ...]) -> None:
    """Start a Celery worker that sends queued jobs with this config's providers and limits.

    It waits for Redis if it is not up yet (Ctrl-C or SIGTERM stop the wait at
    once), warns when Redis is set up in a way that can lose a job (no
    append-only file, an evicting maxmemory-policy), and exits with status 75
    when a worker process stopped because Redis stayed unusable for longer
    than celery.store_patience (its chunk stays on the queue).
    """
    norq = load_norq(config_path)
    settings = norq.config.celery
    redactor = norq.redactor
    if settings is None:
        raise UsageFailure(
            f"{norq.config.source}: no celery: section; add one with at least "
            "broker_url: redis://HOST:6379/0 (see docs/scale.md)"
        )
    try:
        from norq.jobs.worker import STORE_GAVE_UP, worker_app
    except ImportError as exc:
        raise UsageFailure(
            f"`norq worker` needs the celery extra ({exc.name} is missing): "
            "pip install 'norq[celery]'"
        ) from None
    norq.close()
    _wait_for_redis(settings, lambda text: click.echo(redactor.text(text), err=True))
    if config_path is not None:
        # Worker processes build their own Norq from the same file.
        os.environ["NORQ_CONFIG"] = os.path.abspath(config_path)
    import multiprocessing

    gave_up = multiprocessing.Value("i", 0)
    app = worker_app(settings, gave_up=gave_up)
    app.worker_main(["worker", "--queues", settings.queue, *celery_args])
    if gave_up.value:
        click.echo(
            "norq: stopped: Redis stayed unusable for longer than celery.store_patience "
            f"({settings.store_patience:g} s); the unfinished chunks stay queued for a worker "
            "to pick up when it is back",
            err=True,
        )
        sys.exit(STORE_GAVE_UP)


def _wait_for_redis(settings: CelerySettings, say: Callable[[str], None]) -> None:
    """Until the broker and the store answer, then warn about settings that can lose a job.

    Celery's own connection retries keep a worker deaf to SIGTERM for seconds; this
    wait is not: a signal ends it at once (exit 130 or 143).
    """
    import signal

    import redis

    from norq.jobs.redis_ledger import store_unavailable
    from norq.jobs.store import JobStore

    stopped: list[int] = []

    def stop(number: int, frame: object) -> None:
        stopped.append(number)

    previous = {number: signal.signal(number, stop) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        waiting = False
        for url in dict.fromkeys([settings.broker_url, settings.store_url]):
            client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
            try:
                while True:
                    if stopped:
                        raise SystemExit(128 + stopped[0])
                    try:
                        client.ping()
                        break
                    except redis.RedisError as exc:
                        if not waiting:
                            say(f"norq: waiting for Redis: {store_unavailable(client, exc)}")
                            waiting = True
                    _sleep_unless(stopped, _WAIT_STEP)
                if url == settings.store_url:
                    health = JobStore(client).health(settings.queue)
                    for problem in health.problems():
                        say(f"norq: warning: {problem} (see docs/scale.md, 'Redis settings')")
            finally:
                client.close()
        if waiting:
            say("norq: Redis is up")
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _sleep_unless(stopped: list[int], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not stopped and time.monotonic() < deadline:
        time.sleep(0.05)
