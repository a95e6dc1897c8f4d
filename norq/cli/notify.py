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
    receipt_text,
)


@click.command()
@click.argument("notification")
@click.option(
    "--to",
    "addresses",
    multiple=True,
    metavar="CHANNEL=ADDRESS",
    help="The person's address on CHANNEL (email=ada@example.com, sms=+15551234567, "
    "push=TOKEN); repeat for each channel.",
)
@data_options
@config_option
@json_option("Print JSON: one receipt per line, or the dry-run requests.")
@click.option("--dry-run", is_flag=True, help="Print the request for every channel; send nothing.")
@click.pass_context
def notify(
    ctx: click.Context,
    notification: str,
    addresses: tuple[str, ...],
    data_pairs: tuple[str, ...],
    data_json: IO[str] | None,
    config_path: str | None,
    as_json: bool,
    dry_run: bool,
) -> None:
    """Send the multi-channel NOTIFICATION (the config's notifications:) to one person.

    Give the person's addresses with --to CHANNEL=ADDRESS, once per channel;
    each is checked in the format of the provider routed for its channel.
    The notification goes out on its channels that the person has an address
    on, by its strategy (all, or first until one delivers); one line per
    channel tried. Exit status 0 when it was delivered as the strategy asks
    (every channel tried, or one), 1 otherwise.
    """
    from norq.contact import Contact
    from norq.errors import MessageError

    data: dict[str, Any] = read_json_object(data_json, "--data-json") if data_json else {}
    data.update(parse_pairs(data_pairs, "--data"))
    norq = load_norq(config_path)
    try:
        contact = Contact(_addresses(addresses))
        if dry_run:
            _dry_run(norq.prepare(notification=notification, to=contact, data=data), norq, as_json)
            return
        with norq:
            receipts = norq.notify(notification=notification, to=contact, data=data)
    except MessageError as exc:
        raise UsageFailure(str(exc)) from None
    for receipt in receipts:
        line = (
            dumps(receipt.to_dict()) if as_json else f"{receipt.channel:<6} {receipt_text(receipt)}"
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
                **dryrun.as_data(item, norq.redactor),
            }
            click.echo(dumps(line))
            continue
        comments = [f"{message.channel} to {message.to} via {item.provider}"]
        comments.extend(f"{key}: {value}" for key, value in item.notes.items())
        if count:
            click.echo()
        click.echo(dryrun.render(item.request, norq.redactor, comments=comments))


def _addresses(given: tuple[str, ...]) -> dict[str, str]:
    """``--to CHANNEL=ADDRESS`` options as channel -> address; a channel given twice is refused."""
    found: dict[str, str] = {}
    for item in given:
        channel, sign, address = item.partition("=")
        if not sign or not channel.strip():
            raise UsageFailure(
                f"--to {item!r}: write it as CHANNEL=ADDRESS, such as --to email=ada@example.com"
            )
        channel = channel.strip()
        if channel in found:
            raise UsageFailure(f"--to gives channel {channel!r} twice; give one address each")
        found[channel] = address
    return found
