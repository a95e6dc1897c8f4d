"""One row's fault is one row's receipt: a subject a mail header cannot carry (U+2028)
in one row of a bulk email, sent by the library and by ``norq send --csv --journal``
through the sandbox's SMTP server. Every other row lands; the poison row gets a
failed ``final`` receipt, is recorded as failed (never unconfirmed), and a resume
sends nothing again."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from norq_sandbox import SandboxServer

from norq import EntryState, Norq, Recipient, SqliteLedger
from norq.cli import main
from norq.plugins import get_plugin_manager

pytestmark = pytest.mark.e2e

if os.environ.get("CI") != "true":
    pytest.importorskip("norq_smtp", reason="the norq-smtp plugin is not installed")

PEOPLE = [f"user{n}@example.com" for n in range(40)]
POISON = 17  # the row whose subject holds a LINE SEPARATOR


def _subject(index: int) -> str:
    return "Weekly\u2028report" if index == POISON else f"Weekly report {index}"


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(step_delay=0.01) as server:
        yield server


def _document(sandbox: SandboxServer) -> dict[str, Any]:
    return {
        "providers": {
            "mail": {
                "type": "smtp",
                "config": {
                    "host": sandbox.smtp_host,
                    "port": sandbox.smtp_port,
                    "security": "none",
                    "sender": "alerts@example.com",
                },
                "retry": {"max_retries": 0},
            }
        },
        "routing": {"email": "mail"},
        "templates": {
            "report": {"email": {"subject": "{{ subject }}", "body": "Hi {{ name }}"}},
        },
    }


def _app(sandbox: SandboxServer) -> Norq:
    return Norq.from_dict(_document(sandbox), environ={}, plugin_manager=get_plugin_manager())


def _recipients() -> list[Recipient]:
    return [Recipient(to, fields={"subject": _subject(index)}) for index, to in enumerate(PEOPLE)]


def _landed(sandbox: SandboxServer) -> list[str]:
    return sorted(to for email in sandbox.outbox("smtp") for to in email.to)


def _check_poison(receipts: list[Any]) -> None:
    assert sorted(receipt.index for receipt in receipts) == list(range(len(PEOPLE)))
    (poisoned,) = [receipt for receipt in receipts if not receipt.ok]
    assert poisoned.index == POISON
    assert poisoned.to == PEOPLE[POISON]
    assert poisoned.attempts == 0
    assert poisoned.final
    assert not poisoned.unconfirmed
    assert poisoned.error is not None
    assert "ValueError" in poisoned.error.message


def test_a_poison_row_in_a_library_bulk_send_is_its_own_failed_receipt(
    sandbox: SandboxServer,
) -> None:
    with _app(sandbox) as app:
        receipts = list(app.notify_many("email", _recipients(), body="Numbers inside"))

    _check_poison(receipts)
    assert _landed(sandbox) == sorted(PEOPLE[:POISON] + PEOPLE[POISON + 1 :])


async def test_a_poison_row_in_an_async_run_with_a_ledger_is_failed_for_good(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    with SqliteLedger(tmp_path / "run.db") as ledger:
        async with _app(sandbox) as app:
            receipts = app.anotify_many(
                "email", _recipients(), body="Numbers inside", concurrency=8, ledger=ledger
            )
            first = [receipt async for receipt in receipts]
            again = app.anotify_many(
                "email", _recipients(), body="Numbers inside", concurrency=8, ledger=ledger
            )
            second = [receipt async for receipt in again]

        entry = ledger.entry(POISON + 1)
        assert entry is not None
        assert (entry.state, entry.final) == (EntryState.FAILED, True)
        assert ledger.counts()[EntryState.UNCONFIRMED] == 0

    _check_poison(first)
    assert second == []
    assert (again.tally.skipped_accepted, again.tally.skipped_final) == (len(PEOPLE) - 1, 1)
    assert len(_landed(sandbox)) == len(PEOPLE) - 1


def test_a_poison_row_in_a_cli_journal_run_is_one_failed_row(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    config = tmp_path / "norq.yaml"
    config.write_text(yaml.safe_dump(_document(sandbox)), "utf-8")
    people = tmp_path / "people.csv"
    people.write_text(
        "to,name,subject\n" + "".join(f"{to},P{n},{_subject(n)}\n" for n, to in enumerate(PEOPLE)),
        "utf-8",
    )
    receipts = tmp_path / "receipts.jsonl"
    command = [
        "send", "email", "--template", "report", "--csv", str(people),
        "--journal", str(tmp_path / "run.db"), "--receipts", str(receipts),
        "--config", str(config), "--progress", "none", "--json",
    ]  # fmt: skip
    runner = CliRunner()

    first = runner.invoke(main, command)
    again = runner.invoke(main, [*command, "--resume"])

    assert first.exit_code == 1, first.output
    summary = json.loads(first.stdout)
    assert (summary["delivered"], summary["failed"], summary["failed_final"]) == (39, 1, 1)
    lines = [json.loads(line) for line in receipts.read_text("utf-8").splitlines()]
    assert len(lines) == len(PEOPLE)  # the resume wrote none
    (failed,) = [line for line in lines if not line["ok"]]
    assert (failed["row"], failed["error"]["disposition"]) == (POISON + 1, "final")
    with SqliteLedger(tmp_path / "run.db") as ledger:
        assert ledger.counts()[EntryState.UNCONFIRMED] == 0
    assert again.exit_code == 0, again.output
    resumed = json.loads(again.stdout)
    assert (resumed["rows"], resumed["skipped_final"], resumed["delivered"]) == (40, 1, 0)
    assert len(_landed(sandbox)) == len(PEOPLE) - 1
