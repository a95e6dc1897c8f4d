"""``norq send``: one recipient, a few, or a CSV of millions; or a dry run of any of them."""

from __future__ import annotations

import datetime as dt
import shlex
import sys
import time
from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from norq.cli import FAILED, UsageFailure
from norq.cli._common import (
    bad_value,
    config_option,
    data_options,
    dumps,
    given,
    json_option,
    load_norq,
    parse_pairs,
    provider_option,
    read_json_object,
    receipt_text,
)
from norq.cli.rows import (
    RECEIPT_LAG,
    ReceiptLog,
    Row,
    count_csv_rows,
    receipt_line,
    retry_entries,
    rows_from_csv,
    rows_from_recipients,
)
from norq.ledger import LedgerError, ResendPolicy

if TYPE_CHECKING:
    from norq.app import Norq
    from norq.bulk import BulkSend, BulkTally
    from norq.cli.progress import Progress
    from norq.notification import Notification
    from norq.redaction import Redactor
    from norq.sqlite_ledger import SqliteLedger


@click.command(
    epilog="""\b
Bulk: the CSV header names the columns; the recipient column is `to` (or
--to-column) and every other column is template data for its row. A row
that cannot be sent (say a malformed number) gets a failed receipt, so every
row is accounted for. --retry-failed FILE re-sends the rows of a --receipts
FILE that have no delivered receipt; give the same CHANNEL, --template or
--body and --data again. Rows that failed for good (an invalid number) are
not sent again unless --retry-final. Rows whose send got no answer (timeout,
lost connection, interrupted) may have arrived: they are checked with the
provider where it can list messages, else skipped unless --resend-unconfirmed.
--journal FILE makes a --csv run resumable: on Ctrl-C or SIGTERM it stops
reading, lets requests in flight finish (--grace), and --resume continues.
See docs/cli.md and docs/reliability.md."""
)
@click.argument("channel")
@click.option(
    "--to", "recipients", multiple=True, metavar="ADDRESS", help="A recipient; repeat for more."
)
@click.option("--body", help="The message text.")
@click.option("--template", metavar="NAME", help="A template from the config, filled with --data.")
@data_options
@click.option(
    "--field",
    "field_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="A per-message option the provider understands (an email subject); repeat a "
    "KEY for a list.",
)
@click.option(
    "--field-json",
    "field_json_pairs",
    multiple=True,
    metavar="KEY=JSON",
    help="A per-message option given as JSON: --field-json 'media_urls=[\"https://...\"]'.",
)
@provider_option("Send through this provider instead of the channel's routing.")
@config_option
@json_option("Print JSON: one receipt per line, the dry-run requests, or the bulk summary.")
@click.option(
    "--dry-run", is_flag=True, help="Print the requests that would be sent; send nothing."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["http", "curl"]),
    default="http",
    show_default=True,
    help="Dry run: show each request as HTTP or as a curl command.",
)
@click.option(
    "--show-secrets",
    is_flag=True,
    help="Dry run: print credentials instead of *** (to run the curl command as is).",
)
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(exists=True, dir_okay=False, allow_dash=True),
    help="Bulk: send to every row of this CSV file ('-' reads stdin).",
)
@click.option(
    "--to-column",
    default="to",
    show_default=True,
    metavar="NAME",
    help="Bulk: the CSV column holding the recipient.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 1024),
    default=16,
    metavar="N",
    show_default=True,
    help="Bulk: requests in flight at once (at most executor.max_connections).",
)
@click.option(
    "--receipts",
    "receipts_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every receipt to FILE as JSON lines.",
)
@click.option(
    "--retry-failed",
    "retry_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Bulk: re-send the failed rows of a --receipts FILE.",
)
@click.option(
    "--resend-unconfirmed",
    is_flag=True,
    help="Bulk: also re-send rows whose earlier send got no answer (may duplicate them).",
)
@click.option(
    "--retry-final",
    is_flag=True,
    help="Bulk: with --resume or --retry-failed, also re-send rows that failed for good "
    "earlier (an invalid number): they would most likely fail again.",
)
@click.option(
    "--journal",
    "journal_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Bulk: record each row before and after its request in FILE (a SQLite ledger), "
    "to --resume.",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Bulk: continue the run in --journal FILE, skipping the rows already accepted.",
)
@click.option(
    "--grace",
    type=click.FloatRange(min=0),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="Bulk: on Ctrl-C or SIGTERM, how long requests in flight may finish.",
)
@click.option(
    "--queue",
    is_flag=True,
    help="Bulk: hand the rows to Celery workers (celery: in the config); prints the job id.",
)
@click.option(
    "--progress",
    "progress_mode",
    type=click.Choice(["auto", "bar", "lines", "none"]),
    default="auto",
    show_default=True,
    help="Bulk: a bar (auto on a terminal), plain lines (auto otherwise) or nothing.",
)
@click.pass_context
def send(
    ctx: click.Context,
    channel: str,
    recipients: tuple[str, ...],
    body: str | None,
    template: str | None,
    data_pairs: tuple[str, ...],
    data_json: IO[str] | None,
    field_pairs: tuple[str, ...],
    field_json_pairs: tuple[str, ...],
    provider: str | None,
    config_path: str | None,
    as_json: bool,
    dry_run: bool,
    fmt: str,
    show_secrets: bool,
    csv_path: str | None,
    to_column: str,
    concurrency: int,
    receipts_path: Path | None,
    retry_path: Path | None,
    resend_unconfirmed: bool,
    retry_final: bool,
    journal_path: Path | None,
    resume: bool,
    grace: float,
    progress_mode: str,
    queue: bool,
) -> None:
    """Send a notification on CHANNEL to the --to recipients, or to every row of --csv.

    Prints one line per recipient (provider, message id, attempts), or with
    --json one receipt per line. A bulk send (--csv, --retry-failed) shows
    progress on stderr and prints a summary table at the end. With --queue
    the --csv rows go to Celery workers as one job and its id is printed.
    """
    _check_options(ctx, recipients, csv_path, retry_path, dry_run, template, journal_path)
    data: dict[str, Any] = read_json_object(data_json, "--data-json") if data_json else {}
    data.update(parse_pairs(data_pairs, "--data"))
    fields = _fields(field_pairs, field_json_pairs)
    norq = load_norq(config_path)
    from norq.errors import MessageError
    from norq.notification import Notification

    try:
        content = Notification(channel, None, body, template, data, fields, provider)
    except MessageError as exc:
        raise UsageFailure(str(exc)) from None
    # Problems shared by every recipient (unknown channel, provider or template)
    # raise here, before any row is read; nothing is sent.
    norq.send_many(content, ())
    for to in recipients:
        # What is typed on the command line is checked before anything is sent (the
        # message is built, purely), as `norq notify` does; a file's rows get receipts.
        try:
            norq.preview(content.for_recipient(to))
        except MessageError as exc:
            about = f"--to {to}: " if exc.code == "invalid_recipient" else ""
            raise UsageFailure(f"{about}{exc}") from None
    plan = _BulkPlan(ResendPolicy(resend_unconfirmed, retry_final), grace=grace)

    with ExitStack() as stack:
        rows: Iterable[Row]
        total: int | None
        if retry_path is not None:
            plan.ledger, rows = _retry_ledger(retry_path, content)
            stack.callback(plan.ledger.close)
            total = len(rows)
        elif csv_path is not None:
            stream = _open_csv(csv_path)
            if stream is not sys.stdin.buffer:
                stack.callback(stream.close)
            # The header must name every variable the template needs and --data lacks:
            # checked before the first row is sent.
            needs = _variables(norq, content).difference(content.data)
            name = "<stdin>" if csv_path == "-" else csv_path
            rows = rows_from_csv(stream, to_column, name, needs)
            total = None
            if csv_path != "-" and progress_mode != "none" and not dry_run:
                total = count_csv_rows(csv_path)
        else:
            rows = rows_from_recipients(recipients)
            total = len(rows)

        if queue:
            _enqueue(norq, content, rows)
            return

        if dry_run:
            redactor = None if show_secrets else norq.redactor
            if show_secrets:
                click.echo("norq: warning: the output below contains credentials", err=True)
            failures = _dry_run(norq, content, rows, redactor, fmt, as_json)
            ctx.exit(FAILED if failures else 0)

        if journal_path is not None:
            plan.ledger = _open_journal(journal_path, content, resume)
            plan.journal = journal_path
            stack.callback(plan.ledger.close)

        log = None
        if receipts_path is not None:
            appending = (retry_path is not None and _same_file(receipts_path, retry_path)) or (
                resume and receipts_path.exists()
            )
            log = ReceiptLog(receipts_path, append=appending)
            stack.callback(log.close)
        if csv_path is None and retry_path is None:
            assert isinstance(rows, list)
            failures = _send_each(norq, content, rows, log, as_json)
        else:
            failures = _send_bulk(
                ctx, norq, content, rows, log, total, plan, concurrency, progress_mode, as_json
            )
    ctx.exit(FAILED if failures else 0)


def _variables(norq: Norq, content: Notification) -> frozenset[str]:
    if content.template is None:
        return frozenset()
    return norq.config.templates.variables(content.template, content.channel)


def _fields(pairs: Sequence[str], json_pairs: Sequence[str]) -> dict[str, Any]:
    """--field KEY=VALUE (a repeated KEY makes a list) and --field-json KEY=JSON."""
    import json

    fields: dict[str, Any] = {}
    for pair in pairs:
        key, value = next(iter(parse_pairs([pair], "--field").items()))
        known = fields.get(key)
        if known is None:
            fields[key] = value
        else:
            fields[key] = [*known, value] if isinstance(known, list) else [known, value]
    for key, text in parse_pairs(json_pairs, "--field-json").items():
        try:
            fields[key] = json.loads(text)
        except json.JSONDecodeError as exc:
            raise bad_value("--field-json", f"{key}: not valid JSON: {exc.msg}") from None
    return fields


def _check_options(
    ctx: click.Context,
    recipients: Sequence[str],
    csv_path: str | None,
    retry_path: Path | None,
    dry_run: bool,
    template: str | None,
    journal_path: Path | None,
) -> None:
    given_sources = [("--to", recipients), ("--csv", csv_path), ("--retry-failed", retry_path)]
    sources = [name for name, value in given_sources if value]
    if not sources:
        raise UsageFailure("give recipients with --to, --csv or --retry-failed")
    if len(sources) > 1:
        raise UsageFailure(
            f"use one of --to, --csv and --retry-failed, not {' and '.join(sources)}"
        )
    bulk = csv_path is not None or retry_path is not None
    resuming = ctx.params["resume"] or retry_path is not None
    rules = [
        ("fmt", dry_run, "--format applies to --dry-run"),
        ("show_secrets", dry_run, "--show-secrets applies to --dry-run"),
        ("receipts_path", not dry_run, "a dry run sends nothing, so it writes no --receipts"),
        ("journal_path", not dry_run, "a dry run sends nothing, so it keeps no --journal"),
        ("journal_path", csv_path is not None, "--journal applies to --csv"),
        ("resume", journal_path is not None, "--resume continues the run in a --journal FILE"),
        (
            "resend_unconfirmed",
            resuming,
            "--resend-unconfirmed applies to --resume and --retry-failed",
        ),
        ("retry_final", resuming, "--retry-final applies to --resume and --retry-failed"),
        ("to_column", csv_path is not None, "--to-column applies to --csv"),
        ("concurrency", bulk, "--concurrency applies to --csv and --retry-failed"),
        ("progress_mode", bulk, "--progress applies to --csv and --retry-failed"),
        ("grace", bulk, "--grace applies to --csv and --retry-failed"),
        ("queue", csv_path is not None and not dry_run, "--queue applies to --csv, not --dry-run"),
        ("queue", not given(ctx, "receipts_path"), "--queue writes no --receipts: see norq jobs"),
        ("queue", journal_path is None, "--queue keeps its ledger in Redis, not in a --journal"),
        ("data_pairs", template is not None, "--data fills a --template; there is none"),
        ("data_json", template is not None, "--data-json fills a --template; there is none"),
    ]
    for name, allowed, message in rules:
        if not allowed and given(ctx, name):
            raise UsageFailure(message)


def _enqueue(norq: Norq, content: Notification, rows: Iterable[Row]) -> None:
    """Send the rows to the workers as one job; what happens next, ``norq jobs`` shows."""
    from norq.bulk import Recipient

    job_id = norq.enqueue_many(
        content.channel,
        (Recipient(row.to, data=row.data or None) for row in rows),
        body=content.body,
        template=content.template,
        data=content.data,
        provider=content.provider,
        **content.fields,
    )
    click.echo(job_id)
    # The same config file, or the watcher finds no celery: section (or another Redis).
    source = norq.config.source
    config = f" --config {shlex.quote(source)}" if Path(source).is_file() else ""
    click.echo(
        f"queued; follow it with: norq jobs watch {job_id}{config}  "
        f"(receipts: norq jobs receipts {job_id} -o receipts.jsonl{config})",
        err=True,
    )


def _open_csv(path: str) -> IO[bytes]:
    # Bytes: rows_from_csv decodes line by line, to name the row of a bad byte.
    if path == "-":
        return sys.stdin.buffer
    return open(path, "rb")


def _same_file(first: Path, second: Path) -> bool:
    try:
        return first.exists() and first.samefile(second)
    except OSError:
        return False


# -- dry run -------------------------------------------------------------------


def _dry_run(
    norq: Norq,
    content: Notification,
    rows: Iterable[Row],
    redactor: Redactor | None,
    fmt: str,
    as_json: bool,
) -> int:
    from norq import dryrun
    from norq.errors import MessageError

    failures = 0
    for count, row in enumerate(rows):
        try:
            prepared = norq.preview(content.for_recipient(row.to, row.data))
        except MessageError as exc:
            failures += 1
            message = " ".join((redactor.text(str(exc)) if redactor else str(exc)).split())
            if as_json:
                error = {"code": exc.code, "message": message}
                click.echo(dumps({"row": row.number, "to": row.to, "error": error}))
            else:
                click.echo(f"# row {row.number}: {row.to}: not sent: {exc.code}: {message}")
            continue
        if as_json:
            line = {"row": row.number, "to": row.to, **dryrun.as_data(prepared, redactor)}
            click.echo(dumps(line))
            continue
        comments = [f"{content.channel} to {row.to} via {prepared.provider}"]
        comments.extend(f"{key}: {value}" for key, value in prepared.notes.items())
        fmt_name: dryrun.Format = "curl" if fmt == "curl" else "http"
        if count:
            click.echo()
        click.echo(dryrun.render(prepared.request, redactor, fmt=fmt_name, comments=comments))
    return failures


# -- sending -------------------------------------------------------------------


def _send_each(
    norq: Norq,
    content: Notification,
    rows: list[Row],
    log: ReceiptLog | None,
    as_json: bool,
) -> int:
    """Send to the --to recipients one after the other, printing each receipt."""
    from norq.bulk import Recipient

    failures = 0
    with norq:
        receipts = norq.send_many(content, [Recipient(row.to, data=row.data) for row in rows])
        for receipt in receipts:
            assert receipt.index is not None
            row = rows[receipt.index]
            failures += not receipt.ok
            if log is not None:
                log.write(row, receipt)
            if as_json:
                click.echo(norq.redactor.text(dumps(receipt_line(row, receipt))))
            else:
                click.echo(norq.redactor.text(receipt_text(receipt)))
    return failures


@dataclass(slots=True)
class _BulkPlan:
    """How a bulk run treats rows already seen, and how it stops."""

    policy: ResendPolicy
    grace: float = 10.0
    ledger: SqliteLedger | None = None
    journal: Path | None = None


def _open_journal(path: Path, content: Notification, resume: bool) -> SqliteLedger:
    from norq.ledger import LedgerError, RunInfo, content_fingerprint
    from norq.sqlite_ledger import SqliteLedger

    if resume and not path.exists():
        raise bad_value("--journal", f"{path} does not exist, so there is no run to --resume")
    try:
        ledger = SqliteLedger(path)
        stored = ledger.stored_run()
        if stored is None and resume:
            ledger.close()
            raise bad_value("--journal", f"{path} records no run, so there is none to --resume")
        if stored is not None and not resume:
            ledger.close()
            raise bad_value(
                "--journal",
                f"{path} already records a send started {stored.started_at:%Y-%m-%d %H:%M:%S} "
                "UTC; add --resume to continue it, or name a new journal file",
            )
        # Another run's file is refused here, before any row is read.
        ledger.open_run(
            RunInfo(content.channel, content_fingerprint(content), dt.datetime.now(dt.UTC))
        )
    except LedgerError as exc:
        raise bad_value("--journal", str(exc)) from None
    return ledger


def _retry_ledger(path: Path, content: Notification) -> tuple[SqliteLedger, list[Row]]:
    """A ledger in memory rebuilt from a receipts file, and the rows it has not delivered:
    --retry-failed then treats them as --resume treats a journal's."""
    from norq.ledger import RunInfo, content_fingerprint
    from norq.sqlite_ledger import SqliteLedger

    entries = retry_entries(path, content.channel)
    known = [entry.claimed_at for entry in entries if entry.claimed_at is not None]
    # A receipt without a time (an older file): its send is looked for since the file began.
    started = min(known) if known else dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
    ledger = SqliteLedger(":memory:")
    ledger.open_run(RunInfo(content.channel, content_fingerprint(content), started - RECEIPT_LAG))
    ledger.restore(entries)
    return ledger, [Row(entry.row, entry.to, entry.data) for entry in entries]


def _send_bulk(
    ctx: click.Context,
    norq: Norq,
    content: Notification,
    rows: Iterable[Row],
    log: ReceiptLog | None,
    total: int | None,
    plan: _BulkPlan,
    concurrency: int,
    progress_mode: str,
    as_json: bool,
) -> int:
    """Send to many rows concurrently, with progress and a summary at the end."""
    import asyncio
    import logging

    from norq.cli.progress import make_progress, summary_table

    if not ctx.find_root().params.get("debug"):
        # Per-request retry warnings would bury the progress; the summary and
        # the receipts say what failed. The engine's own warnings (a row it could
        # not check with the provider) stay.
        logging.getLogger("norq").setLevel(logging.ERROR)
        logging.getLogger("norq.bulk").setLevel(logging.WARNING)
    bulk = norq.bulk_send(content, ledger=plan.ledger, policy=plan.policy)
    progress = make_progress(progress_mode, sys.stderr, total)
    started = time.monotonic()
    stop = _Stop()
    try:
        asyncio.run(_deliver_all(norq, bulk, rows, concurrency, log, plan, progress, stop))
    except LedgerError as exc:
        raise bad_value("--journal", str(exc)) from None
    finally:
        progress.close(bulk.tally)
        if log is not None:
            log.flush()
        norq.close()
    elapsed = time.monotonic() - started
    if as_json:
        summary: dict[str, Any] = {**bulk.tally.as_dict(), "seconds": round(elapsed, 3)}
        if stop.signal_name is not None:
            summary["stopped_by"] = stop.signal_name
        click.echo(dumps(summary))
    else:
        click.echo(norq.redactor.text(summary_table(bulk.tally, elapsed)))
    _advise(norq, bulk.tally, log, plan, stop)
    if stop.input_error is not None:
        raise stop.input_error
    if stop.signal_name is not None:
        ctx.exit(128 + stop.signal_number)
    return bulk.tally.failed


def _advise(
    norq: Norq, tally: BulkTally, log: ReceiptLog | None, plan: _BulkPlan, stop: _Stop
) -> None:
    """What to do next, on stderr: how to resume, what a retry will and will not send."""

    def say(text: str) -> None:
        click.echo(norq.redactor.text("norq: " + text), err=True)

    if stop.stopped:
        why = stop.signal_name or "an input error"
        in_flight = (
            f"{stop.unfinished:,} requests still in flight after the grace period were "
            "recorded as unconfirmed (interrupted)"
            if stop.unfinished
            else "every request in flight finished"
        )
        say(f"stopped by {why} after reading {tally.rows:,} rows; {in_flight}")
        if plan.journal is not None:
            say(f"resume with the same command and --resume (journal {plan.journal})")
        else:
            say("rows not yet read were not sent; pass --journal FILE to be able to --resume")
    if tally.skipped_unconfirmed:
        say(
            f"{tally.skipped_unconfirmed:,} rows got no answer earlier and the provider could "
            "not be asked; they were not sent again (add --resend-unconfirmed to send them, "
            "which may duplicate them)"
        )
    if tally.skipped_final:
        say(
            f"{tally.skipped_final:,} rows failed for good earlier (an invalid number, a "
            "message the provider refused); they were not sent again (add --retry-final "
            "to send them anyway)"
        )
    if not tally.failed:
        return
    retryable = tally.failed - tally.failed_final
    if log is None and plan.journal is None:
        say("pass --receipts FILE to record the failed rows for --retry-failed")
    elif retryable and plan.journal is not None and not stop.stopped:
        say(
            f"re-send the {retryable:,} failed rows that may succeed now with the same command "
            "and --resume"
        )
    elif retryable and plan.journal is None and log is not None:
        say(
            f"re-send the {retryable:,} failed rows that may succeed now with --retry-failed "
            f"{log.path}"
        )
    if tally.failed_final:
        say(
            f"{tally.failed_final:,} rows failed for good (an invalid number, a message the "
            "provider refused): a retry does not send them again unless --retry-final"
        )


class _Stop:
    """Why a bulk run stopped early: a signal, or a bad row in the input."""

    def __init__(self) -> None:
        self.signal_name: str | None = None
        self.signal_number = 0
        self.input_error: click.ClickException | None = None
        self.unfinished = 0

    @property
    def stopped(self) -> bool:
        return self.signal_name is not None or self.input_error is not None


async def _deliver_all(
    norq: Norq,
    bulk: BulkSend,
    rows: Iterable[Row],
    concurrency: int,
    log: ReceiptLog | None,
    plan: _BulkPlan,
    progress: Progress,
    stop: _Stop,
) -> None:
    """Drive the bulk engine: the first Ctrl-C or SIGTERM stops reading rows, the
    grace period (or a second signal) ends the requests still in flight."""
    import asyncio
    import signal

    from norq.bulk import Recipient

    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()  # stop reading rows
    hurry = asyncio.Event()  # a second signal: do not wait for the grace period

    def on_signal(number: int) -> None:
        if stopping.is_set():
            hurry.set()
            return
        stop.signal_number = number
        stop.signal_name = signal.Signals(number).name
        stopping.set()
        bulk.stop()

    handled = []
    for number in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(number, on_signal, number)
            handled.append(number)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread, or no signals here: the default applies

    items = ((row.number - 1, Recipient(row.to, data=row.data or None)) for row in rows)

    async def consume() -> None:
        results = bulk.arun(items, norq.bulk_workers(concurrency))
        try:
            async for result in results:
                if log is not None and result.receipt is not None:
                    log.write(Row(result.index + 1, result.to, result.data), result.receipt)
                if bulk.aborted and result.receipt is not None and result.receipt.unconfirmed:
                    stop.unfinished += 1
                progress.update(bulk.tally)
        except click.ClickException as exc:
            # A bad row (bytes, quoting) ended the input; the rows in flight finished.
            stop.input_error = exc
        finally:
            await results.aclose()

    sending = asyncio.create_task(consume())
    stopped = asyncio.create_task(stopping.wait())
    hurried = asyncio.create_task(hurry.wait())
    try:
        await asyncio.wait({sending, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if not sending.done():
            # Rows are no longer read; the requests in flight get the grace period.
            await asyncio.wait(
                {sending, hurried}, timeout=plan.grace, return_when="FIRST_COMPLETED"
            )
        if not sending.done():
            bulk.abort()
        await sending
    finally:
        for task in (stopped, hurried):
            task.cancel()
        for number in handled:
            loop.remove_signal_handler(number)
        await norq.aclose()
