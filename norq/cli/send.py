"""``norq send``: one recipient, a few, or a CSV of millions; or a dry run of any of them."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from norq.cli import UsageFailure
from norq.cli._common import (
    bad_value,
    config_option,
    dumps,
    given,
    json_option,
    load_norq,
    parse_pairs,
    provider_option,
    read_json_object,
)
from norq.cli.rows import (
    ReceiptLog,
    Row,
    count_csv_rows,
    failed_rows,
    receipt_line,
    rows_from_csv,
    rows_from_recipients,
)

if TYPE_CHECKING:
    from norq.app import Norq
    from norq.cli.progress import Progress, Tally
    from norq.notification import Notification
    from norq.receipt import Receipt
    from norq.redaction import Redactor

FAILED = 1


@click.command(
    epilog="""\b
Bulk: the CSV header names the columns; the recipient column is `to` (or
--to-column) and every other column is template data for its row. A row
that cannot be sent (say a malformed number) gets a failed receipt, so every
row is accounted for. --retry-failed FILE re-sends the rows of a --receipts
FILE that have no delivered receipt; give the same CHANNEL, --template or
--body and --data again. See docs/cli.md for the receipts format."""
)
@click.argument("channel")
@click.option(
    "--to", "recipients", multiple=True, metavar="ADDRESS", help="A recipient; repeat for more."
)
@click.option("--body", help="The message text.")
@click.option("--template", metavar="NAME", help="A template from the config, filled with --data.")
@click.option(
    "--data",
    "data_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="A template variable; repeat for more.",
)
@click.option(
    "--data-json",
    type=click.File("r", encoding="utf-8"),
    metavar="FILE",
    help="Template variables from a JSON object in FILE ('-' reads stdin).",
)
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
    progress_mode: str,
) -> None:
    """Send a notification on CHANNEL to the --to recipients, or to every row of --csv.

    Prints one line per recipient (provider, message id, attempts), or with
    --json one receipt per line. A bulk send (--csv, --retry-failed) shows
    progress on stderr and prints a summary table at the end.
    """
    _check_options(ctx, recipients, csv_path, retry_path, receipts_path, dry_run, template)
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

    with ExitStack() as stack:
        rows: Iterable[Row]
        total: int | None
        if retry_path is not None:
            rows = failed_rows(retry_path, channel)
            total = len(rows)
        elif csv_path is not None:
            stream = _open_csv(csv_path)
            if stream is not sys.stdin:
                stack.callback(stream.close)
            rows = rows_from_csv(stream, to_column)
            total = None
            if csv_path != "-" and progress_mode != "none" and not dry_run:
                total = count_csv_rows(csv_path)
        else:
            rows = rows_from_recipients(recipients)
            total = len(rows)

        if dry_run:
            redactor = None if show_secrets else norq.redactor
            if show_secrets:
                click.echo("norq: warning: the output below contains credentials", err=True)
            failures = _dry_run(norq, content, rows, redactor, fmt, as_json)
            ctx.exit(FAILED if failures else 0)

        log = None
        if receipts_path is not None:
            appending = retry_path is not None and _same_file(receipts_path, retry_path)
            log = ReceiptLog(receipts_path, append=appending)
            stack.callback(log.close)
        if csv_path is None and retry_path is None:
            assert isinstance(rows, list)
            failures = _send_each(norq, content, rows, log, as_json)
        else:
            failures = _send_bulk(
                ctx, norq, content, rows, log, total, concurrency, progress_mode, as_json
            )
    ctx.exit(FAILED if failures else 0)


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
    receipts_path: Path | None,
    dry_run: bool,
    template: str | None,
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
    rules = [
        ("fmt", dry_run, "--format applies to --dry-run"),
        ("show_secrets", dry_run, "--show-secrets applies to --dry-run"),
        ("receipts_path", not dry_run, "a dry run sends nothing, so it writes no --receipts"),
        ("to_column", csv_path is not None, "--to-column applies to --csv"),
        ("concurrency", bulk, "--concurrency applies to --csv and --retry-failed"),
        ("progress_mode", bulk, "--progress applies to --csv and --retry-failed"),
        ("data_pairs", template is not None, "--data fills a --template; there is none"),
        ("data_json", template is not None, "--data-json fills a --template; there is none"),
    ]
    for name, allowed, message in rules:
        if not allowed and given(ctx, name):
            raise UsageFailure(message)


def _open_csv(path: str) -> IO[str]:
    if path == "-":
        return sys.stdin
    return open(path, encoding="utf-8-sig", newline="")


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
            line = {
                "row": row.number,
                "to": row.to,
                "provider": prepared.provider,
                "notes": dict(prepared.notes),
                "request": dryrun.as_dict(prepared.request, redactor),
            }
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
                click.echo(norq.redactor.text(_receipt_text(receipt)))
    return failures


def _receipt_text(receipt: Receipt) -> str:
    attempts = f"{receipt.attempts} attempt" + ("" if receipt.attempts == 1 else "s")
    if receipt.ok:
        return (
            f"delivered {receipt.to} via {receipt.provider}: "
            f"{receipt.message_id or '(no message id)'} ({attempts})"
        )
    error = receipt.error
    why = f"{error.code}: {' '.join(error.message.split())}" if error else "failed"
    return f"failed    {receipt.to} via {receipt.provider}: {why} ({attempts})"


def _send_bulk(
    ctx: click.Context,
    norq: Norq,
    content: Notification,
    rows: Iterable[Row],
    log: ReceiptLog | None,
    total: int | None,
    concurrency: int,
    progress_mode: str,
    as_json: bool,
) -> int:
    """Send to many rows concurrently, with progress and a summary at the end."""
    import asyncio
    import logging

    from norq.cli.progress import Tally, make_progress, summary_table

    if not ctx.find_root().params.get("debug"):
        # Per-request retry warnings would bury the progress; the summary and
        # the receipts say what failed.
        logging.getLogger("norq").setLevel(logging.ERROR)
    tally = Tally()
    progress = make_progress(progress_mode, sys.stderr, total)
    started = time.monotonic()
    try:
        asyncio.run(_deliver_all(norq, content, rows, concurrency, log, tally, progress))
    finally:
        progress.close(tally)
    elapsed = time.monotonic() - started
    if as_json:
        click.echo(dumps(tally.as_dict(elapsed)))
    else:
        click.echo(norq.redactor.text(summary_table(tally, elapsed)))
        if tally.failed and log is not None:
            click.echo(
                f"norq: re-send the {tally.failed} failed rows with --retry-failed {log.path}",
                err=True,
            )
        elif tally.failed:
            click.echo(
                "norq: pass --receipts FILE to record the failed rows for --retry-failed",
                err=True,
            )
    return tally.failed


async def _deliver_all(
    norq: Norq,
    content: Notification,
    rows: Iterable[Row],
    concurrency: int,
    log: ReceiptLog | None,
    tally: Tally,
    progress: Progress,
) -> None:
    from norq.bulk import Recipient

    # Rows in flight, by their position in the input; receipts come back in
    # completion order carrying that position. Bounded by the concurrency.
    pending: dict[int, Row] = {}

    def recipients() -> Iterable[Recipient]:
        for index, row in enumerate(rows):
            pending[index] = row
            yield Recipient(row.to, data=row.data)

    try:
        receipts = norq.asend_many(content, recipients(), concurrency=concurrency)
        async for receipt in receipts:
            assert receipt.index is not None
            row = pending.pop(receipt.index)
            tally.add(row.number, receipt)
            if log is not None:
                log.write(row, receipt)
            progress.update(tally)
    finally:
        await norq.aclose()
