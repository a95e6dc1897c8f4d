"""One exit-status table for the whole CLI: documented, and the same for the same mistake."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from norq.cli import EXIT_STATUSES
from tests.cli.conftest import Run
from tests.cli.loopback import FakeApi

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
ANN = "+15551230001"
NOTIFY_CONFIG = """\
providers:
  console: {}
routing:
  sms: console
  email: console
templates:
  welcome:
    sms: {body: "Welcome"}
    email: {subject: "Welcome", body: "Welcome"}
notifications:
  welcome: {channels: [email, sms]}
"""


def test_docs_cli_md_shows_the_table_the_code_uses() -> None:
    table = DOC.read_text("utf-8").split("<!-- exit statuses:", 1)[1].split("\n\n", 1)[0]
    rows = dict(re.findall(r"^\| `(\d+)` \| (.+) \|$", table, re.MULTILINE))
    assert {int(status): meaning for status, meaning in rows.items()} == EXIT_STATUSES


def test_a_malformed_address_exits_2_from_send_and_from_notify(
    run: Run, write_config: Callable[..., str]
) -> None:
    config = write_config(NOTIFY_CONFIG)
    sent = run("send", "sms", "--to", "555", "--body", "hi", "--config", config)
    notified = run("notify", "welcome", "--to", "sms=555", "--config", config)
    assert (sent.exit_code, notified.exit_code) == (2, 2)
    assert sent.stdout == notified.stdout == ""
    assert "E.164" in sent.stderr
    assert "E.164" in notified.stderr


def test_a_refused_recipient_exits_1_from_send(run: Run, fake_config: str, api: FakeApi) -> None:
    api.rejected.add(ANN)
    assert run("send", "sms", "--to", ANN, "--body", "hi", "--config", fake_config).exit_code == 1


def test_a_config_error_exits_2(run: Run, write_config: Callable[..., str]) -> None:
    config = write_config("routing: {sms: nowhere}\n")
    result = run("send", "sms", "--to", ANN, "--body", "hi", "--config", config)
    assert result.exit_code == 2
    assert "routing.sms" in result.stderr
