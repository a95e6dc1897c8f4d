"""``norq status`` and ``norq messages list`` through the provider's status queries."""

from __future__ import annotations

import json

from tests.cli.conftest import Run
from tests.cli.loopback import FakeApi

ANN = "+15551230001"
BOB = "+15551230002"


def _send(run: Run, config: str, *recipients: str) -> list[str]:
    args = [arg for to in recipients for arg in ("--to", to)]
    result = run("send", "sms", *args, "--body", "hello there", "--json", "--config", config)
    assert result.exit_code == 0, result.output
    return [json.loads(line)["message_id"] for line in result.stdout.splitlines()]


def test_status_shows_the_message(run: Run, fake_config: str, api: FakeApi) -> None:
    [sid] = _send(run, fake_config, ANN)
    result = run("status", sid, "--config", fake_config)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"{sid}: delivered",
        "  provider status: delivered",
        f"  to: {ANN}",
        "  from: +15005550006",
        "  body: hello there",
    ]


def test_status_as_json(run: Run, fake_config: str, api: FakeApi) -> None:
    [sid] = _send(run, fake_config, ANN)
    result = run("status", sid, "--json", "--provider", "fakesms", "--config", fake_config)
    found = json.loads(result.stdout)
    assert (found["message_id"], found["status"], found["to"]) == (sid, "delivered", ANN)
    assert "raw" not in found


def test_status_of_an_unknown_message_exits_1_with_one_line(
    run: Run, fake_config: str, api: FakeApi
) -> None:
    result = run("status", "SMnope", "--config", fake_config)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: fetching SMnope from fakesms failed: not_found: message SMnope not found"
    ]


def test_status_through_a_provider_without_queries_is_a_usage_error(
    run: Run, fake_config: str
) -> None:
    result = run("status", "SM1", "--provider", "console", "--config", fake_config)
    assert result.exit_code == 2
    assert "does not support status queries" in result.stderr


def test_status_with_an_unknown_provider_is_a_usage_error(run: Run, fake_config: str) -> None:
    result = run("status", "SM1", "--provider", "nope", "--config", fake_config)
    assert result.exit_code == 2
    assert "unknown provider 'nope'" in result.stderr


def test_status_with_no_capable_provider_is_a_usage_error(run: Run, console_config: str) -> None:
    result = run("status", "SM1", "--config", console_config)
    assert result.exit_code == 2
    assert "no configured provider supports status queries" in result.stderr


def test_messages_list_prints_a_table_newest_first(
    run: Run, fake_config: str, api: FakeApi
) -> None:
    first, second = _send(run, fake_config, ANN, BOB)
    result = run("messages", "list", "--config", fake_config)
    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["MESSAGE", "ID", "STATUS", "TO", "FROM", "SENT", "BODY"]
    assert [row.split()[0] for row in rows] == [second, first]
    assert rows[0].split()[1:4] == ["delivered", BOB, "+15005550006"]


def test_messages_list_filters_and_limits(run: Run, fake_config: str, api: FakeApi) -> None:
    _send(run, fake_config, ANN, BOB, ANN)
    result = run(
        "messages", "list", "--to", ANN, "--from", "+15005550006", "--sent-on", "2026-01-02",
        "--limit", "1", "--json", "--provider", "fakesms", "--config", fake_config,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    [line] = [json.loads(text) for text in result.stdout.splitlines()]
    assert line["to"] == ANN
    method, _, query = api.requests[-1]
    assert (method, query["To"], query["From"], query["DateSent"], query["PageSize"]) == (
        "GET", [ANN], ["+15005550006"], ["2026-01-02"], ["1"],
    )  # fmt: skip


def test_messages_list_sent_after_and_before_are_accepted(
    run: Run, fake_config: str, api: FakeApi
) -> None:
    result = run(
        "messages", "list", "--sent-after", "2026-01-01", "--sent-before", "2026-02-01",
        "--config", fake_config,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stderr == "no messages found\n"
    _, _, query = api.requests[-1]
    assert (query["DateSent>"], query["DateSent<"]) == (["2026-01-01"], ["2026-02-01"])


def test_messages_list_rejects_a_bad_date(run: Run, fake_config: str) -> None:
    result = run("messages", "list", "--sent-on", "yesterday", "--config", fake_config)
    assert result.exit_code == 2
