"""``notify_many`` / ``anotify_many`` with a ledger: in-process bulk sends that stop and resume."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from contextlib import aclosing
from pathlib import Path
from typing import Any

import pytest
from norq_sandbox import SandboxServer

from norq import EntryState, LedgerError, Norq, SqliteLedger
from tests.e2e.conftest import twilio_provider

PEOPLE = [f"+1555123{n:04d}" for n in range(1, 21)]


def _config(sandbox: SandboxServer) -> dict[str, Any]:
    return {
        "providers": {"twilio": twilio_provider(sandbox.url, retry={"max_retries": 0})},
        "routing": {"sms": "twilio"},
    }


def _copies(sandbox: SandboxServer) -> Counter[str]:
    return Counter(message.draft.to for message in sandbox.messages())


def test_breaking_off_leaves_nothing_open_and_the_rerun_sends_the_rest(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    with SqliteLedger(tmp_path / "run.db") as ledger, Norq.from_dict(_config(sandbox)) as app:
        for receipt in app.notify_many("sms", PEOPLE, body="hi", ledger=ledger):
            if receipt.index == 4:
                break
        assert ledger.counts()[EntryState.ACCEPTED] == 5
        assert ledger.counts()[EntryState.SENDING] == 0

        rest = list(app.notify_many("sms", PEOPLE, body="hi", ledger=ledger))

    assert [receipt.index for receipt in rest] == list(range(5, 20))
    assert _copies(sandbox) == Counter(PEOPLE)


def test_a_cancelled_async_run_records_requests_in_flight_and_the_rerun_finds_them(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    sandbox.faults.set_rate(1.0, ["delay:0.3"])

    async def cancelled_after_first_receipt() -> None:
        async with Norq.from_dict(_config(sandbox)) as app:
            receipts = app.anotify_many("sms", PEOPLE, body="hi", concurrency=4, ledger=ledger)
            async with aclosing(receipts):  # type: ignore[type-var]
                async for _ in receipts:
                    raise asyncio.CancelledError  # what a cancelled task sees

    async def rerun() -> list[Any]:
        async with Norq.from_dict(_config(sandbox)) as app:
            return [r async for r in app.anotify_many("sms", PEOPLE, body="hi", ledger=ledger)]

    with SqliteLedger(tmp_path / "run.db") as ledger:
        with pytest.raises(asyncio.CancelledError):
            asyncio.run(cancelled_after_first_receipt())
        open_rows = ledger.counts()[EntryState.UNCONFIRMED]
        assert open_rows >= 1
        assert ledger.counts()[EntryState.SENDING] == 0

        sandbox.faults.clear()
        time.sleep(0.5)  # the abandoned requests land after their delay
        receipts = asyncio.run(rerun())

    # The rows in flight had all reached the sandbox; those claimed and not yet sent
    # were given back, so they are simply sent now.
    found = [receipt for receipt in receipts if receipt.attempts == 0]
    assert len(found) == open_rows
    assert all(receipt.ok and receipt.message_id for receipt in receipts)
    assert _copies(sandbox) == Counter(PEOPLE)


def test_a_ledger_for_another_send_is_refused(sandbox: SandboxServer, tmp_path: Path) -> None:
    with SqliteLedger(tmp_path / "run.db") as ledger, Norq.from_dict(_config(sandbox)) as app:
        list(app.notify_many("sms", PEOPLE[:2], body="hi", ledger=ledger))

        with pytest.raises(LedgerError, match="records another send"):
            list(app.notify_many("sms", PEOPLE[:2], body="hello", ledger=ledger))

    assert len(sandbox.messages()) == 2
