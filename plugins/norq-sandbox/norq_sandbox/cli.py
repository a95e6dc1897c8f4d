"""``norq sandbox``: the command that runs the sandbox in the foreground."""

from __future__ import annotations

import logging
from dataclasses import replace

import click

from norq_sandbox.faults import FaultSpecError, parse_counted, parse_fault
from norq_sandbox.settings import (
    DEFAULT_ACCOUNT_SID,
    DEFAULT_API_KEY_SECRET,
    DEFAULT_API_KEY_SID,
    DEFAULT_AUTH_TOKEN,
    DEFAULT_SENDGRID_API_KEY,
    DEFAULT_SERVICE_SENDER,
    DEFAULT_SLACK_TOKEN,
    DEFAULT_TELEGRAM_TOKEN,
    DEFAULT_VONAGE_API_KEY,
    DEFAULT_VONAGE_API_SECRET,
    DEFAULT_VONAGE_SIGNATURE_SECRET,
    VONAGE_SIGNATURE_METHODS,
    SandboxSettings,
)
from norq_sandbox.twilio_resources import DEFAULT_FAILED, DEFAULT_UNDELIVERED


@click.command(
    "sandbox",
    epilog="""\b
Faults (--fault [API=]SPEC, repeatable; API is twilio (the default),
sendgrid, vonage, slack, telegram or smtp; xN applies it to N requests):
  429           rate limited, in the API's own way   429:SECONDS  ...retry after
  500 502 503   a server error           delay:SECONDS  wait, then answer
  drop          close the connection without answering (nothing created)
  accept-drop   create the message, then close without answering
  body-error    vonage and slack: a failure inside a 200 answer
Example: norq sandbox --fault 503x2 --fault slack=body-error --fault smtp=429
Point Norq at it: NORQ_TWILIO_BASE_URL=http://127.0.0.1:8765
""",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, type=int, help="Port to listen on.")
@click.option("--account-sid", default=DEFAULT_ACCOUNT_SID, show_default=True)
@click.option(
    "--auth-token",
    default=DEFAULT_AUTH_TOKEN,
    show_default=True,
    help="Accepted with the account SID; signs status callbacks.",
)
@click.option("--api-key-sid", default=DEFAULT_API_KEY_SID, show_default=True)
@click.option("--api-key-secret", default=DEFAULT_API_KEY_SECRET, show_default=True)
@click.option(
    "--callback-delay",
    "step_delay",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds between status steps (queued, sending, sent, delivered).",
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="SPEC",
    help="Fault for the next request(s), e.g. 503x2, 429:1, delay:2, drop, accept-drop.",
)
@click.option(
    "--fault-rate",
    default=0.0,
    type=click.FloatRange(0, 1),
    help="Fraction of requests faulted at random (after queued --fault ones).",
)
@click.option(
    "--fault-kinds",
    default="429,503",
    show_default=True,
    metavar="LIST",
    help="Faults drawn by --fault-rate, comma-separated.",
)
@click.option("--fault-seed", type=int, default=None, help="Seed for --fault-rate, for replays.")
@click.option(
    "--undelivered",
    multiple=True,
    metavar="NUMBER",
    help=f"Recipient whose messages end undelivered (default {', '.join(DEFAULT_UNDELIVERED)}).",
)
@click.option(
    "--failed",
    multiple=True,
    metavar="NUMBER",
    help=f"Recipient whose messages end failed (default {', '.join(DEFAULT_FAILED)}).",
)
@click.option(
    "--service-from",
    "service_sender",
    default=DEFAULT_SERVICE_SENDER,
    show_default=True,
    metavar="NUMBER",
    help="The From a Messaging Service picks for messages sent without one.",
)
@click.option(
    "--smtp-port",
    default=2525,
    show_default=True,
    type=int,
    help="Port of the SMTP server (0: any free port).",
)
@click.option("--smtp-user", default=None, help="Require SMTP AUTH as this user.")
@click.option("--smtp-password", default=None, help="The password for --smtp-user.")
@click.option(
    "--smtp-tls-cert",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="PEM certificate: offer STARTTLS (with --smtp-tls-key).",
)
@click.option(
    "--smtp-tls-key",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="PEM private key for --smtp-tls-cert.",
)
@click.option("--sendgrid-api-key", default=DEFAULT_SENDGRID_API_KEY, show_default=True)
@click.option("--vonage-api-key", default=DEFAULT_VONAGE_API_KEY, show_default=True)
@click.option("--vonage-api-secret", default=DEFAULT_VONAGE_API_SECRET, show_default=True)
@click.option(
    "--vonage-signature-secret",
    default=DEFAULT_VONAGE_SIGNATURE_SECRET,
    show_default=True,
    help="Checks Vonage requests signed with sig instead of an api_secret.",
)
@click.option(
    "--vonage-signature-method",
    type=click.Choice(VONAGE_SIGNATURE_METHODS),
    default="md5",
    show_default=True,
    help="The HMAC hash of signed Vonage requests.",
)
@click.option("--slack-token", default=DEFAULT_SLACK_TOKEN, show_default=True)
@click.option("--telegram-token", default=DEFAULT_TELEGRAM_TOKEN, show_default=True)
@click.option(
    "--rate-limit",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="PER_SECOND",
    help="Account rate: past it, answer 429 / 20429 as Twilio does.",
)
@click.option(
    "--max-concurrent",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Requests in progress at once: past it, answer 429 / 20429.",
)
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    metavar="NAME",
    help="Answer requests for this host name too (it answers localhost, IP addresses and --host).",
)
@click.option("--quiet", is_flag=True, help="Do not log each request.")
def sandbox(
    host: str,
    port: int,
    account_sid: str,
    auth_token: str,
    api_key_sid: str,
    api_key_secret: str,
    step_delay: float,
    faults: tuple[str, ...],
    fault_rate: float,
    fault_kinds: str,
    fault_seed: int | None,
    undelivered: tuple[str, ...],
    failed: tuple[str, ...],
    service_sender: str,
    smtp_port: int,
    smtp_user: str | None,
    smtp_password: str | None,
    smtp_tls_cert: str | None,
    smtp_tls_key: str | None,
    sendgrid_api_key: str,
    vonage_api_key: str,
    vonage_api_secret: str,
    vonage_signature_secret: str,
    vonage_signature_method: str,
    slack_token: str,
    telegram_token: str,
    rate_limit: float | None,
    max_concurrent: int | None,
    allowed_hosts: tuple[str, ...],
    quiet: bool,
) -> None:
    """Run local stand-ins for Twilio, SendGrid, Vonage, Slack, Telegram and an SMTP server,
    with one web inbox for every channel at the root URL."""
    # Imported here so that `norq sandbox --help` does not load the server.
    from norq_sandbox.apis import fault_plans
    from norq_sandbox.guard import is_loopback
    from norq_sandbox.server import bind, serve
    from norq_sandbox.state import SandboxState

    settings = SandboxSettings(
        account_sid=account_sid,
        auth_token=auth_token,
        api_key_sid=api_key_sid,
        api_key_secret=api_key_secret,
        step_delay=step_delay,
        undelivered=undelivered or DEFAULT_UNDELIVERED,
        failed=failed or DEFAULT_FAILED,
        service_sender=service_sender,
        sendgrid_api_key=sendgrid_api_key,
        vonage_api_key=vonage_api_key,
        vonage_api_secret=vonage_api_secret,
        vonage_signature_secret=vonage_signature_secret,
        vonage_signature_method=vonage_signature_method,
        slack_token=slack_token,
        telegram_token=telegram_token,
        rate_limit=rate_limit,
        max_concurrent=max_concurrent,
        allowed_hosts=allowed_hosts,
    )
    try:
        settings = replace(
            settings,
            smtp_username=smtp_user,
            smtp_password=smtp_password,
            smtp_tls_cert=smtp_tls_cert,
            smtp_tls_key=smtp_tls_key,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    state = SandboxState.create(settings, fault_plans())
    try:
        for spec in faults:
            api, _, written = spec.rpartition("=")
            fault, count = parse_counted(written)
            state.plan(api or "twilio").add(fault, count)
        if fault_rate:
            kinds = [parse_fault(kind) for kind in fault_kinds.split(",") if kind.strip()]
            for plan in state.plans.values():
                # Each API draws from the kinds it can suffer (body-error only where it exists).
                plan.set_rate(
                    fault_rate, [k for k in kinds if k.kind in plan.supported], fault_seed
                )
    except FaultSpecError as exc:
        raise click.BadParameter(str(exc), param_hint="--fault") from None
    if not is_loopback(host):
        click.echo(
            f"Warning: listening on {host}, beyond this machine. The sandbox has no "
            "authentication: anyone who can reach it can read every message, inject faults "
            "and reset it. Use it only on a network you trust.",
            err=True,
        )
    try:
        sock = bind(host, port)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    try:
        smtp_sock = bind(host, smtp_port)
    except OSError as exc:
        sock.close()
        raise click.ClickException(
            f"cannot listen for SMTP on {host}:{smtp_port}: {exc.strerror} "
            "(choose another with --smtp-port)"
        ) from None
    url = f"http://{host}:{sock.getsockname()[1]}"
    _log_to_console(quiet)
    click.echo(f"Norq sandbox on {url}")
    click.echo(f"  inbox:        {url}/")
    click.echo(f"  Twilio API:   {url}/2010-04-01/Accounts/{account_sid}/Messages.json")
    click.echo(f"  use it with:  NORQ_TWILIO_BASE_URL={url}")
    click.echo(f"  SendGrid:     {url}/v3/mail/send")
    click.echo(f"  Vonage:       {url}/sms/json")
    click.echo(f"  Slack:        {url}/api/chat.postMessage, {url}/services/T.../B.../...")
    click.echo(f"  Telegram:     {url}/bot<token>/sendMessage")
    click.echo(f"  FCM:          {url}/v1/projects/norq-sandbox/messages:send (token: {url}/token)")
    click.echo(f"  APNs:         {url}/3/device/<device token>")
    subscribe = f"POST {url}/_sandbox/push/subscriptions"
    click.echo(f"  Web Push:     {url}/wpush/<subscription> (subscribe: {subscribe})")
    click.echo(f"  push keys:    {url}/_sandbox/push (FCM service account, APNs .p8 key)")
    click.echo(f"  SMTP:         {host}:{smtp_sock.getsockname()[1]}")
    for name, plan in state.plans.items():
        snapshot = plan.snapshot()
        if snapshot["queued"] or snapshot["rate"]:
            click.echo(f"  faults ({name}): {snapshot}")
    if rate_limit or max_concurrent:
        click.echo(
            f"  limits:       {rate_limit or 'no'} per second, {max_concurrent or 'any'} at once"
        )
    click.echo("Press Ctrl+C to stop.")
    serve(state, sock, smtp_sock, host)


def _log_to_console(quiet: bool) -> None:
    """One line per request on stderr (only warnings with ``--quiet``), printed once:
    the sandbox's logger has its own handler and does not pass records up."""
    logger = logging.getLogger("norq_sandbox")
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S"))
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
