"""The fault soak: bulk sends through a sandbox that fails a fifth of all requests
(429, 503, dropped before or after accepting the message), resumed until done.

Asserted each time: one final receipt per recipient, and the sandbox's own
record of messages shows no recipient twice, unless the user allowed
re-sending unanswered rows, and then every duplicate is counted.

The issue's sizes are 10,000 async, 5,000 sync and 10,000 CLI rows; the suite
runs a tenth of each. ``NORQ_SOAK_SCALE=1`` runs the full sizes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pluggy
import pytest
from click.testing import CliRunner
from norq_sandbox import SandboxServer

from norq import BulkTally, EntryState, Norq, SqliteLedger
from norq.cli import main
from norq.errors import UnsupportedOperation
from norq.hookspecs import hookimpl
from norq.plugins import get_plugin_manager
from norq.provider import MessageQuery
from norq.providers.twilio.provider import TwilioProvider
from norq.receipt import Receipt
from norq.request import PreparedRequest
from tests.e2e.conftest import twilio_provider

SCALE = float(os.environ.get("NORQ_SOAK_SCALE", "0.1"))
FAULTS = ["429", "503", "drop", "accept-drop"]
FAST = {"max_retries": 2, "backoff": 0.001, "jitter": 0}


def _people(count: int) -> list[str]:
    return [f"+1555{n:07d}" for n in range(1, count + 1)]


def _soak(sandbox: SandboxServer, seed: int) -> None:
    sandbox.faults.set_rate(0.2, FAULTS, seed=seed)


def _config(sandbox: SandboxServer, kind: str = "twilio") -> dict[str, Any]:
    provider = twilio_provider(sandbox.url, retry=FAST)
    provider["type"] = kind
    return {
        "providers": {"sms": provider},
        "routing": {"sms": "sms"},
        "executor": {"max_connections": 32},
    }


def _copies(sandbox: SandboxServer) -> Counter[str]:
    return Counter(message.draft.to for message in sandbox.messages())


class _Tracker:
    """Every claim and the final receipt of every recipient, over all rounds."""

    def __init__(self) -> None:
        self.final: dict[int, Receipt] = {}
        self.may_duplicate = 0

    def count(self, tally: BulkTally) -> None:
        self.may_duplicate += tally.may_duplicate

    def take(self, receipt: Receipt) -> None:
        assert receipt.index is not None
        self.final[receipt.index] = receipt


def test_async_soak_resumes_to_one_message_per_recipient(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    people = _people(int(10_000 * SCALE))
    tracker = _Tracker()
    _soak(sandbox, seed=1)

    async def round_() -> None:
        async with Norq.from_dict(_config(sandbox)) as app:
            receipts = app.anotify_many("sms", people, body="soak", concurrency=32, ledger=ledger)
            async for receipt in receipts:
                tracker.take(receipt)
            tracker.count(receipts.tally)

    with SqliteLedger(tmp_path / "run.db") as ledger:
        asyncio.run(round_())
        first = Counter(receipt.ok for receipt in tracker.final.values())
        assert sorted(tracker.final) == list(range(len(people)))  # one receipt each
        assert first[False] > 0  # the faults did bite
        asyncio.run(round_())  # faults still on: resuming must cope with them too
        sandbox.faults.clear()
        asyncio.run(round_())

        assert ledger.counts()[EntryState.ACCEPTED] == len(people)
    assert all(receipt.ok for receipt in tracker.final.values())
    assert [r.to for _, r in sorted(tracker.final.items())] == people
    assert tracker.may_duplicate == 0
    assert _copies(sandbox) == Counter(people)
    assert sum(r.dropped and r.message_sid is not None for r in sandbox.sends()) > 0


def test_sync_soak_resumes_to_one_message_per_recipient(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    people = _people(int(5_000 * SCALE))
    tracker = _Tracker()
    _soak(sandbox, seed=2)

    def round_() -> None:
        with Norq.from_dict(_config(sandbox)) as app:
            for receipt in app.notify_many("sms", people, body="soak", ledger=ledger):
                tracker.take(receipt)

    with SqliteLedger(tmp_path / "run.db") as ledger:
        round_()
        assert sorted(tracker.final) == list(range(len(people)))
        round_()
        sandbox.faults.clear()
        round_()
        assert ledger.counts()[EntryState.ACCEPTED] == len(people)
    assert all(receipt.ok for receipt in tracker.final.values())
    assert _copies(sandbox) == Counter(people)


class UnlistedTwilio(TwilioProvider):
    """Twilio without message listing: unanswered sends cannot be checked."""

    name = "twilio-unlisted"

    def prepare_list(self, query: MessageQuery) -> PreparedRequest:
        raise UnsupportedOperation(f"provider {self.instance!r} does not list messages")


class _UnlistedPlugin:
    @hookimpl
    def register_providers(self, register: Any) -> None:
        register(UnlistedTwilio)


@pytest.fixture
def unlisted_pm() -> Iterator[pluggy.PluginManager]:
    pm = get_plugin_manager()
    plugin = _UnlistedPlugin()
    pm.register(plugin)
    try:
        yield pm
    finally:
        pm.unregister(plugin)


def test_async_soak_with_resending_allowed_counts_every_duplicate(
    sandbox: SandboxServer, tmp_path: Path, unlisted_pm: pluggy.PluginManager
) -> None:
    people = _people(int(10_000 * SCALE))
    tracker = _Tracker()
    _soak(sandbox, seed=3)

    async def round_(resend: bool) -> None:
        config = _config(sandbox, "twilio-unlisted")
        async with Norq.from_dict(config, plugin_manager=unlisted_pm) as app:
            receipts = app.anotify_many(
                "sms", people, body="soak", concurrency=32, ledger=ledger,
                resend_unconfirmed=resend,
            )  # fmt: skip
            async for receipt in receipts:
                tracker.take(receipt)
            tracker.count(receipts.tally)

    with SqliteLedger(tmp_path / "run.db") as ledger:
        asyncio.run(round_(resend=False))
        sandbox.faults.clear()
        asyncio.run(round_(resend=False))  # unanswered rows cannot be checked: skipped
        skipped = ledger.counts()[EntryState.UNCONFIRMED]
        assert skipped > 0
        assert tracker.may_duplicate == 0
        assert max(_copies(sandbox).values()) == 1

        asyncio.run(round_(resend=True))  # the user allows re-sending them

        assert ledger.counts()[EntryState.ACCEPTED] == len(people)
    copies = _copies(sandbox)
    duplicates = sum(count - 1 for count in copies.values())
    assert set(copies) == set(people)
    assert tracker.may_duplicate == skipped
    assert 0 < duplicates <= tracker.may_duplicate  # a dropped request is re-sent, not doubled
    accept_drops = sum(r.fault == "accept-drop" for r in sandbox.sends())
    assert duplicates == accept_drops


@pytest.fixture
def norq_logger_kept() -> Iterator[None]:
    # The CLI configures the "norq" logger for its process; this test shares the process.
    logger = logging.getLogger("norq")
    handlers, level, propagate = list(logger.handlers), logger.level, logger.propagate
    yield
    logger.handlers, logger.level, logger.propagate = handlers, level, propagate


@pytest.mark.usefixtures("norq_logger_kept")
def test_cli_soak_resumes_to_one_message_per_row(sandbox: SandboxServer, tmp_path: Path) -> None:
    people = _people(int(10_000 * SCALE))
    csv = tmp_path / "people.csv"
    csv.write_text("to,name\n" + "".join(f"{to},N{n}\n" for n, to in enumerate(people, 1)))
    config = tmp_path / "norq.yaml"
    config.write_text(json.dumps(_config(sandbox)))  # JSON is YAML
    receipts = tmp_path / "receipts.jsonl"
    _soak(sandbox, seed=4)

    def round_(*extra: str) -> dict[str, Any]:
        args = [
            "send", "sms", "--body", "soak", "--csv", str(csv), "--config", str(config),
            "--journal", str(tmp_path / "run.db"), "--receipts", str(receipts),
            "--concurrency", "32", "--progress", "none", "--json", *extra,
        ]  # fmt: skip
        result = CliRunner().invoke(main, args)
        assert result.exit_code in (0, 1), result.output
        summary: dict[str, Any] = json.loads(result.stdout)
        return summary

    first = round_()
    assert first["rows"] == len(people)
    assert first["failed"] > 0
    round_("--resume")
    sandbox.faults.clear()
    last = round_("--resume")

    assert last["failed"] == 0
    assert last["may_duplicate"] == 0
    final: dict[int, dict[str, Any]] = {}
    for line in receipts.read_text().splitlines():
        receipt = json.loads(line)
        final[receipt["row"]] = receipt
    assert sorted(final) == list(range(1, len(people) + 1))
    assert all(receipt["ok"] for receipt in final.values())
    assert _copies(sandbox) == Counter(people)
