"""``send_journaled`` / ``asend_journaled``: in-process bulk sends that stop and resume."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from contextlib import aclosing
from pathlib import Path
from typing import Any

import pytest
from norq_sandbox import SandboxServer

from norq import JournalError, Norq, SqliteJournal, asend_journaled, send_journaled
from norq.journal import Claim, EntryState
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
    with SqliteJournal(tmp_path / "run.db") as journal, Norq.from_dict(_config(sandbox)) as app:
        for receipt in send_journaled(app, journal, "sms", PEOPLE, body="hi"):
            if receipt.index == 4:
                break
        assert journal.counts()[EntryState.ACCEPTED] == 5
        assert journal.counts()[EntryState.SENDING] == 0

        claims: list[Claim] = []
        rest = list(
            send_journaled(
                app, journal, "sms", PEOPLE, body="hi", on_claim=lambda _, c: claims.append(c)
            )
        )

    assert [receipt.index for receipt in rest] == list(range(5, 20))
    assert sum(not claim.granted for claim in claims) == 5
    assert _copies(sandbox) == Counter(PEOPLE)


def test_a_cancelled_async_run_records_requests_in_flight_and_the_rerun_finds_them(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    sandbox.faults.set_rate(1.0, ["delay:0.3"])

    async def cancelled_after_first_receipt() -> None:
        async with Norq.from_dict(_config(sandbox)) as app:
            receipts = asend_journaled(app, journal, "sms", PEOPLE, body="hi", concurrency=4)
            async with aclosing(receipts):
                async for _ in receipts:
                    raise asyncio.CancelledError  # what a cancelled task sees

    async def rerun() -> list[Any]:
        async with Norq.from_dict(_config(sandbox)) as app:
            return [r async for r in asend_journaled(app, journal, "sms", PEOPLE, body="hi")]

    with SqliteJournal(tmp_path / "run.db") as journal:
        with pytest.raises(asyncio.CancelledError):
            asyncio.run(cancelled_after_first_receipt())
        open_rows = journal.counts()[EntryState.UNCONFIRMED]
        assert open_rows >= 1
        assert journal.counts()[EntryState.SENDING] == 0

        sandbox.faults.clear()
        time.sleep(0.5)  # the abandoned requests land after their delay
        receipts = asyncio.run(rerun())

    # Some open rows had reached the sandbox, some were claimed but not yet sent.
    found = [receipt for receipt in receipts if receipt.attempts == 0]
    assert 1 <= len(found) <= open_rows
    assert all(receipt.ok and receipt.message_id for receipt in receipts)
    assert _copies(sandbox) == Counter(PEOPLE)


def test_a_journal_for_another_send_is_refused(sandbox: SandboxServer, tmp_path: Path) -> None:
    with SqliteJournal(tmp_path / "run.db") as journal, Norq.from_dict(_config(sandbox)) as app:
        list(send_journaled(app, journal, "sms", PEOPLE[:2], body="hi"))

        with pytest.raises(JournalError, match="records another send"):
            list(send_journaled(app, journal, "sms", PEOPLE[:2], body="hello"))

    assert len(sandbox.messages()) == 2
