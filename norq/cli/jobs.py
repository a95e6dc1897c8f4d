"""``norq jobs``: follow a queued job and collect its receipts."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from norq.cli import FAILED, UsageFailure
from norq.cli._common import config_option, dumps, json_option, load_norq

if TYPE_CHECKING:
    from norq.app import Norq
    from norq.jobs.store import JobStatus


@click.group("jobs")
def jobs() -> None:
    """Follow bulk jobs sent by Celery workers (norq send --queue)."""


@jobs.command("watch")
@click.argument("job_id", metavar="JOB")
@config_option
@json_option("Print the final status as JSON instead of the summary.")
@click.option(
    "--interval",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0.05),
    help="Seconds between looks at the job.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=None,
    help="Give up after this many seconds (exit 1) instead of waiting for the end.",
)
@click.option(
    "--stalled-after",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds without progress after which the job is called stalled, and why is said.",
)
@click.pass_context
def watch(
    ctx: click.Context,
    job_id: str,
    config_path: str | None,
    as_json: bool,
    interval: float,
    timeout: float | None,
    stalled_after: float,
) -> None:
    """Show JOB's progress until every recipient has a receipt, then the summary by error code.

    When the job makes no progress for --stalled-after seconds, a line on stderr
    says why, as far as Redis tells: no worker alive, Redis full, chunks waiting
    for a dead worker's visibility timeout.
    """
    with load_norq(config_path) as norq:
        status = _status(norq, job_id)
        started = moved = time.monotonic()
        bar = _Bar(status) if sys.stderr.isatty() and not as_json else None
        said = ""
        while not status.finished:
            now = time.monotonic()
            if timeout is not None and now - started > timeout:
                break
            if bar is not None:
                bar.update(status)
            time.sleep(interval)
            latest = _latest(norq, job_id, status)
            if latest is None or latest.done == status.done:
                if now - moved >= stalled_after:
                    said = _say_stalled(norq, latest or status, now - moved, said)
            else:
                moved, said = time.monotonic(), ""
            status = latest or status
        if bar is not None:
            bar.close(status)
    if as_json:
        click.echo(dumps(status.to_dict()))
    else:
        click.echo(summary(status))
    ctx.exit(0 if status.finished and status.failed == 0 else FAILED)


@jobs.command("receipts")
@click.argument("job_id", metavar="JOB")
@config_option
@click.option(
    "--output",
    "-o",
    "output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the receipts file here (default: standard output).",
)
def receipts(job_id: str, config_path: str | None, output: Path | None) -> None:
    """Write JOB's receipts so far as a receipts file (one JSON line each, in row order).

    The file has the same shape as norq send --receipts, so norq send
    --retry-failed FILE re-sends its failed rows.
    """
    from norq._files import open_private
    from norq.cli.rows import Row, receipts_file_line

    with load_norq(config_path) as norq:
        _status(norq, job_id)
        stream = open_private(output) if output is not None else sys.stdout
        try:
            found = norq.jobs.store.receipts_with_data(job_id)
            for receipt, data in found:
                index = receipt.index or 0
                row = Row(index + 1, receipt.to, data)
                stream.write(receipts_file_line(row, receipt))
        finally:
            if output is not None:
                stream.close()


def _latest(norq: Norq, job_id: str, last: JobStatus) -> JobStatus | None:
    """The job's status now, or ``None`` (said on stderr) while Redis cannot be read."""
    from norq.errors import StoreUnavailable

    try:
        return norq.job(job_id)
    except StoreUnavailable as exc:
        click.echo(norq.redactor.text(f"norq: cannot read job {job_id}: {exc}"), err=True)
        return None


def _say_stalled(norq: Norq, status: JobStatus, seconds: float, said: str) -> str:
    """Say why the job does not move, once per reason; returns what was said."""
    reasons = stall_reasons(norq)
    line = (
        f"norq: job {status.job_id} has not moved for {seconds:.0f} s at {status.done:,} of "
        f"{'?' if status.total is None else f'{status.total:,}'}: " + "; ".join(reasons)
    )
    if reasons and reasons != said.split("\n"):
        click.echo(norq.redactor.text(line), err=True)
        return "\n".join(reasons)
    return said


def stall_reasons(norq: Norq) -> list[str]:
    """What Redis says about why a job may not move (an empty list: nothing found)."""
    from norq.errors import StoreUnavailable

    settings = norq.config.celery
    assert settings is not None
    try:
        health = norq.jobs.store.health(settings.queue)
    except StoreUnavailable as exc:
        return [str(exc)]
    reasons = [problem for problem in health.problems() if "full" in problem]
    if health.workers == 0:
        reasons.append("no norq worker is running (start one: norq worker --config FILE)")
    if health.unacknowledged and health.workers == 0:
        reasons.append(
            f"{health.unacknowledged} chunks were taken by workers that are gone; they go "
            f"back on the queue after celery.visibility_timeout ({settings.visibility_timeout:g} s)"
        )
    elif health.queued and health.workers:
        reasons.append(f"{health.queued} chunks wait on the queue behind other jobs")
    return reasons or ["Redis and the workers look healthy; the provider may be slow"]


def _status(norq: Norq, job_id: str) -> JobStatus:
    from norq.errors import NorqError

    try:
        return norq.job(job_id)
    except NorqError as exc:
        raise UsageFailure(str(exc)) from None


def summary(status: JobStatus) -> str:
    """The end-of-job table: delivered, each failure code, what became of unconfirmed rows."""
    total = "?" if status.total is None else f"{status.total:,}"
    lines = [
        f"job {status.job_id} ({status.channel}): {status.done:,} of {total} done"
        + ("" if status.finished else " (not finished)"),
        f"  {'delivered':<28}{status.ok:>10,}",
    ]
    for code, count in sorted(status.errors.items(), key=lambda item: (-item[1], item[0])):
        lines.append(f"  {'failed: ' + code:<28}{count:>10,}")
    if status.unconfirmed or status.resent_unconfirmed:
        lines.append(f"  {'unconfirmed (worker died)':<28}{status.unconfirmed:>10,}")
        for name, label in (
            ("resolved_sent", "  provider had it"),
            ("resolved_not_sent", "  provider had not: sent"),
            ("resent_unconfirmed", "  re-sent unasked"),
            ("left_unconfirmed", "  left unconfirmed"),
        ):
            lines.append(f"  {label:<28}{getattr(status, name):>10,}")
    return "\n".join(lines)


class _Bar:
    """A rich progress bar on stderr, for a terminal."""

    def __init__(self, status: JobStatus) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        self._progress = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self._progress.start()
        self._task = self._progress.add_task(f"job {status.job_id[:8]}", total=status.total)

    def update(self, status: JobStatus) -> None:
        self._progress.update(self._task, completed=status.done, total=status.total)

    def close(self, status: JobStatus) -> None:
        self.update(status)
        self._progress.stop()
