"""``norq request``: any call to a provider's API, with the configured base URL and credentials."""

from __future__ import annotations

import json

import click

from norq.cli import FAILED
from norq.cli._common import bad_value, config_option, load_norq


@click.command("request")
@click.argument("provider", metavar="PROVIDER")
@click.argument("method", metavar="METHOD")
@click.argument("path", metavar="PATH")
@click.option(
    "-d",
    "--data",
    "pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="A parameter, repeatable (a key may repeat): the query string of a GET or DELETE, "
    "the form body otherwise.",
)
@config_option
@click.pass_context
def request(
    ctx: click.Context,
    provider: str,
    method: str,
    path: str,
    pairs: tuple[str, ...],
    config_path: str | None,
) -> None:
    """Send METHOD PATH to PROVIDER's API and print the answer, secrets redacted.

    PATH is below the provider instance's base URL and may use the placeholders
    it fills in (Twilio: {AccountSid}). The status line goes to stderr and the
    JSON answer to stdout; the exit status is 1 when the API answers an error.

    \b
    Example:
      norq request twilio GET '/2010-04-01/Accounts/{AccountSid}/Messages.json' -d PageSize=5
    """
    params = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise bad_value("-d", f"expected KEY=VALUE, got {pair!r}")
        params.append((key, value))
    with load_norq(config_path) as norq:
        answer = norq.raw_request(provider, method, path, params)
        redact = norq.redactor.text
        status = answer.status_code if answer.status_code is not None else "no answer"
        click.echo(redact(f"{answer.method} {answer.url} -> {status}"), err=True)
        if answer.data is not None:
            click.echo(redact(json.dumps(answer.data, indent=2, ensure_ascii=False)))
        if not answer.ok:
            error = answer.error
            detail = f"{error.code}: {error.message}" if error else "failed"
            click.echo(redact(f"norq: {answer.provider}: {detail}"), err=True)
            ctx.exit(FAILED)
