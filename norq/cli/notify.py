"""``norq notify``: send a multi-channel notification from the config to one person."""

from __future__ import annotations

from typing import IO, Any

import click

from norq.cli import FAILED, UsageFailure
from norq.cli._common import (
    config_option,
    data_options,
    dumps,
    json_option,
    load_norq,
    parse_pairs,
    read_json_object,
)


@click.command()
@click.argument("notification")
@click.option("--email", metavar="ADDRESS", help="The person's email address.")
@click.option("--sms", metavar="NUMBER", help="The person's phone number, E.164 (+15551234567).")
@click.option("--chat", metavar="CHANNEL", help="The person's chat address (a channel id, #name).")
@data_options
@config_option
@json_option("Print JSON: one receipt per line, or the dry-run requests.")
@click.option("--dry-run", is_flag=True, help="Print the request for every channel; send nothing.")
@click.pass_context
def notify(
    ctx: click.Context,
    notification: str,
    email: str | None,
    sms: str | None,
    chat: str | None,
    data_pairs: tuple[str, ...],
    data_json: IO[str] | None,
    config_path: str | None,
    as_json: bool,
    dry_run: bool,
) -> None:
    """Send the multi-channel NOTIFICATION (the config's notifications:) to one person.

    Give the person's addresses with --email, --sms and --chat. The
    notification goes out on its channels that the person has an address on,
    by its strategy (all, or first until one delivers); one line per channel
    tried. Exit status 0 when it was delivered as the strategy asks (every
    channel tried, or one), 1 otherwise.
    """
    from norq.contact import Contact
    from norq.errors import MessageError

    data: dict[str, Any] = read_json_object(data_json, "--data-json") if data_json else {}
    data.update(parse_pairs(data_pairs, "--data"))
    norq = load_norq(config_path)
    try:
        contact = Contact(email=email, sms=sms, chat=chat)
        if dry_run:
            _dry_run(norq.prepare(notification=notification, to=contact, data=data), norq, as_json)
            return
        with norq:
            receipts = norq.notify(notification=notification, to=contact, data=data)
    except MessageError as exc:
        raise UsageFailure(str(exc)) from None
    from norq.cli.send import _receipt_text

    for receipt in receipts:
        line = (
            dumps(receipt.to_dict())
            if as_json
            else f"{receipt.channel:<6} {_receipt_text(receipt)}"
        )
        click.echo(norq.redactor.text(line))
    strategy = norq.config.notifications[notification].strategy
    delivered = all(r.ok for r in receipts) if strategy == "all" else any(r.ok for r in receipts)
    ctx.exit(0 if delivered else FAILED)


def _dry_run(prepared: list[Any], norq: Any, as_json: bool) -> None:
    from norq import dryrun

    for count, item in enumerate(prepared):
        message = item.message
        if as_json:
            line = {
                "channel": message.channel,
                "to": message.to,
                "provider": item.provider,
                "notes": dict(item.notes),
                "request": dryrun.as_dict(item.request, norq.redactor),
            }
            click.echo(dumps(line))
            continue
        comments = [f"{message.channel} to {message.to} via {item.provider}"]
        comments.extend(f"{key}: {value}" for key, value in item.notes.items())
        if count:
            click.echo()
        click.echo(dryrun.render(item.request, norq.redactor, comments=comments))
