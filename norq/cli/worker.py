"""``norq worker``: a Celery worker that sends the jobs ``norq send --queue`` enqueues."""

from __future__ import annotations

import os

import click

from norq.cli import UsageFailure
from norq.cli._common import config_option, load_norq


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
    """Start a Celery worker that sends queued jobs with this config's providers and limits."""
    norq = load_norq(config_path)
    settings = norq.config.celery
    if settings is None:
        raise UsageFailure(
            f"{norq.config.source}: no celery: section; add one with at least "
            "broker_url: redis://HOST:6379/0 (see docs/scale.md)"
        )
    try:
        from norq.jobs.worker import celery_app
    except ImportError as exc:
        raise UsageFailure(
            f"`norq worker` needs the celery extra ({exc.name} is missing): "
            "pip install 'norq[celery]'"
        ) from None
    if config_path is not None:
        # Worker processes build their own Norq from the same file.
        os.environ["NORQ_CONFIG"] = os.path.abspath(config_path)
    norq.close()
    app = celery_app(settings)
    app.worker_main(["worker", "--queues", settings.queue, *celery_args])
