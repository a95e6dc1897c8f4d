"""``norq notify``: a multi-channel notification from the config, sent to one person."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.cli.conftest import Run

CONFIG = """\
providers:
  console: {}
routing:
  email: console
  sms: console
templates:
  order_shipped:
    email: {subject: "Order {{ order }} shipped", body: "Order {{ order }} is on its way."}
    sms: {body: "Order {{ order }} shipped"}
notifications:
  order_shipped: {channels: [email, sms], strategy: STRATEGY}
"""


def config(write_config: Callable[[str], str], strategy: str = "all") -> str:
    return write_config(CONFIG.replace("STRATEGY", strategy))


def test_notify_sends_on_every_channel_the_person_has(
    run: Run, write_config: Callable[[str], str]
) -> None:
    path = config(write_config)
    result = run(
        "notify",
        "order_shipped",
        "--to",
        "email=ada@example.com",
        "--to",
        "sms=+15551234567",
        "--data",
        "order=42",
        "--config",
        path,
    )
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if not line.startswith(("[norq", "  "))]
    assert [line.split()[:3] for line in lines] == [
        ["email", "delivered", "ada@example.com"],
        ["sms", "delivered", "+15551234567"],
    ]


def test_notify_as_json_gives_one_receipt_per_channel(
    run: Run, write_config: Callable[[str], str]
) -> None:
    path = config(write_config, "first")
    result = run(
        "notify",
        "order_shipped",
        "--to",
        "email=ada@example.com",
        "--to",
        "sms=+15551234567",
        "--data",
        "order=42",
        "--config",
        path,
        "--json",
    )
    assert result.exit_code == 0, result.output
    receipts = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [(r["channel"], r["ok"]) for r in receipts] == [("email", True)]


def test_notify_dry_run_shows_each_channels_request(
    run: Run, write_config: Callable[[str], str]
) -> None:
    path = config(write_config)
    result = run(
        "notify",
        "order_shipped",
        "--to",
        "email=ada@example.com",
        "--to",
        "sms=+15551234567",
        "--data",
        "order=42",
        "--config",
        path,
        "--dry-run",
    )
    assert result.exit_code == 0, result.output
    assert "# email to ada@example.com via console" in result.stdout
    assert "# sms to +15551234567 via console" in result.stdout
    assert "[norq console]" not in result.stdout, "a dry run sends nothing"


def test_notify_refuses_bad_input_with_exit_status_2(
    run: Run, write_config: Callable[[str], str]
) -> None:
    path = config(write_config)
    for args, problem in (
        (["nope", "--to", "email=ada@example.com"], "unknown notification 'nope'"),
        (["order_shipped"], "at least one address"),
        (["order_shipped", "--to", "sms=555"], "E.164"),
        (["order_shipped", "--to", "email=ada@example.com"], "needs 'order'"),
        (["order_shipped", "--to", "ada@example.com"], "CHANNEL=ADDRESS"),
        (["order_shipped", "--to", "sms=+15551234567", "--to", "sms=+15557654321"], "twice"),
    ):
        result = run("notify", *args, "--config", path)
        assert result.exit_code == 2, result.output
        assert problem in result.output
