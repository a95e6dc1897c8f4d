"""``norq status`` and ``norq messages list``: what the provider says about sent messages."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING, Any

import click

from norq.cli._common import config_option, dumps, json_option, load_norq, provider_option

if TYPE_CHECKING:
    from norq.provider import MessageStatus
    from norq.redaction import Redactor

PROVIDER_HELP = "The provider to ask (needed when several support status queries)."
BODY_WIDTH = 40


@click.command()
@click.argument("message_id", metavar="MESSAGE_ID")
@provider_option(PROVIDER_HELP)
@config_option
@json_option("Print the status as JSON.")
def status(message_id: str, provider: str | None, config_path: str | None, as_json: bool) -> None:
    """Show the current status of one sent message (a Twilio SID such as SM...)."""
    with load_norq(config_path) as norq:
        found = norq.status(message_id, provider=provider)
        if as_json:
            click.echo(norq.redactor.text(dumps(_as_dict(found))))
            return
        click.echo(norq.redactor.text(_status_text(found)))


@click.group()
def messages() -> None:
    """Query messages sent through a provider."""


@messages.command("list")
@click.option("--to", metavar="ADDRESS", help="Only messages sent to ADDRESS.")
@click.option("--from", "sender", metavar="ADDRESS", help="Only messages sent from ADDRESS.")
@click.option(
    "--sent-on", type=click.DateTime(["%Y-%m-%d"]), help="Only messages sent on this date."
)
@click.option(
    "--sent-after", type=click.DateTime(["%Y-%m-%d"]), help="Only messages sent after this date."
)
@click.option(
    "--sent-before",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Only messages sent before this date.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    metavar="N",
    help="Show at most N messages.",
)
@provider_option(PROVIDER_HELP)
@config_option
@json_option("Print one JSON object per message.")
def list_messages(
    to: str | None,
    sender: str | None,
    sent_on: dt.datetime | None,
    sent_after: dt.datetime | None,
    sent_before: dt.datetime | None,
    limit: int,
    provider: str | None,
    config_path: str | None,
    as_json: bool,
) -> None:
    """List sent messages, newest first."""
    from norq.provider import MessageQuery

    query = MessageQuery(
        to=to,
        sender=sender,
        sent_on=sent_on.date() if sent_on else None,
        sent_after=sent_after.date() if sent_after else None,
        sent_before=sent_before.date() if sent_before else None,
        page_size=min(limit, 1000),
    )
    with load_norq(config_path) as norq:
        found = norq.messages(query, provider=provider, limit=limit)
        if as_json:
            for item in found:
                click.echo(norq.redactor.text(dumps(_as_dict(item))))
            return
        _print_table(found, norq.redactor)


def _as_dict(found: MessageStatus) -> dict[str, Any]:
    data = {field.name: getattr(found, field.name) for field in dataclasses.fields(found)}
    del data["raw"]
    return data


def _status_text(found: MessageStatus) -> str:
    lines = [f"{found.message_id}: {found.status}"]
    for name, value in _as_dict(found).items():
        if name in ("message_id", "status") or value is None:
            continue
        label = "from" if name == "sender" else name.replace("_", " ")
        lines.append(f"  {label}: {_cell(value)}")
    return "\n".join(lines)


def _print_table(found: Any, redactor: Redactor) -> None:
    header = ("MESSAGE ID", "STATUS", "TO", "FROM", "SENT", "BODY")
    rows = [
        (
            item.message_id,
            item.status,
            item.to or "",
            item.sender or "",
            _cell(item.date_sent or item.date_created or ""),
            _shorten(item.body or ""),
        )
        for item in found
    ]
    if not rows:
        click.echo("no messages found", err=True)
        return
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        line = "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True))
        click.echo(redactor.text(line.rstrip()))


def _cell(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    return " ".join(str(value).split())


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= BODY_WIDTH else text[: BODY_WIDTH - 1] + "…"
