"""The send journal's semantics: what may be sent again, and what never is."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from norq.error_codes import ErrorCode
from norq.journal import (
    Claim,
    EntryState,
    JournalError,
    RunInfo,
    SqliteJournal,
    content_fingerprint,
    state_for,
)
from norq.notification import Notification
from norq.receipt import DeliveryFailure, Receipt

TO = "+15551230001"
RUN = RunInfo("sms", content_fingerprint(Notification("sms", None, "hi")), dt.datetime.now(dt.UTC))


def _receipt(ok: bool = True, code: str | None = None) -> Receipt:
    error = None if code is None else DeliveryFailure(code, "why")
    message_id = "SM1" if ok else None
    return Receipt(ok, "sms", "twilio", TO, message_id=message_id, attempts=1, error=error)


ACCEPTED = _receipt()
REJECTED = _receipt(False, ErrorCode.INVALID_RECIPIENT)
LOST = _receipt(False, ErrorCode.CONNECTION_LOST)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SqliteJournal]:
    with SqliteJournal(tmp_path / "run.db") as opened:
        opened.open_run(RUN)
        yield opened


@pytest.mark.parametrize(
    ("receipt", "state"),
    [
        (ACCEPTED, EntryState.ACCEPTED),
        (REJECTED, EntryState.FAILED),
        (_receipt(False, ErrorCode.RATE_LIMITED), EntryState.FAILED),
        (_receipt(False, ErrorCode.CONNECT_ERROR), EntryState.FAILED),
        (_receipt(False, ErrorCode.TIMEOUT), EntryState.UNCONFIRMED),
        (LOST, EntryState.UNCONFIRMED),
        (_receipt(False, ErrorCode.INTERRUPTED), EntryState.UNCONFIRMED),
    ],
)
def test_a_receipt_decides_the_state(receipt: Receipt, state: EntryState) -> None:
    assert state_for(receipt) is state
    assert receipt.unconfirmed is (state is EntryState.UNCONFIRMED)


def test_a_new_row_is_granted_and_recorded_as_sending(journal: SqliteJournal) -> None:
    assert journal.claim(1, TO, {"name": "Ann"}) == Claim(True, None)

    entry = journal.entry(1)
    assert entry is not None
    assert (entry.state, entry.to, entry.data, entry.sends) == (
        EntryState.SENDING,
        TO,
        {"name": "Ann"},
        1,
    )


def test_an_accepted_row_is_never_granted_again(journal: SqliteJournal) -> None:
    journal.claim(1, TO, {})
    journal.record_outcome(1, ACCEPTED)

    assert journal.claim(1, TO, {}) == Claim(False, EntryState.ACCEPTED)
    assert journal.claim(1, TO, {}, resend_unconfirmed=True).granted is False
    assert journal.entry(1).message_id == "SM1"  # type: ignore[union-attr]


def test_a_failed_row_is_granted_again_without_doubt(journal: SqliteJournal) -> None:
    journal.claim(1, TO, {})
    journal.record_outcome(1, REJECTED)

    assert journal.claim(1, TO, {}) == Claim(True, EntryState.FAILED, may_duplicate=False)
    assert journal.entry(1).sends == 2  # type: ignore[union-attr]


def test_an_unconfirmed_row_is_granted_only_when_duplicates_are_allowed(
    journal: SqliteJournal,
) -> None:
    journal.claim(1, TO, {})
    journal.record_outcome(1, LOST)

    assert journal.claim(1, TO, {}) == Claim(False, EntryState.UNCONFIRMED)
    assert journal.claim(1, TO, {}, resend_unconfirmed=True) == Claim(
        True, EntryState.UNCONFIRMED, may_duplicate=True
    )


def test_a_definite_failure_after_an_unanswered_send_stays_doubtful(
    journal: SqliteJournal,
) -> None:
    journal.claim(1, TO, {})
    journal.record_outcome(1, LOST)
    journal.claim(1, TO, {}, resend_unconfirmed=True)
    journal.record_outcome(1, REJECTED)

    assert journal.claim(1, TO, {}) == Claim(False, EntryState.FAILED)
    assert [entry.row for entry in journal.doubtful()] == [1]


def test_settle_open_turns_rows_in_flight_unconfirmed(journal: SqliteJournal) -> None:
    journal.claim(1, TO, {})
    journal.claim(2, "+15551230002", {})
    journal.record_outcome(2, ACCEPTED)

    assert journal.settle_open() == 1

    entry = journal.entry(1)
    assert entry is not None
    assert (entry.state, entry.error_code) == (EntryState.UNCONFIRMED, "interrupted")
    assert journal.counts()[EntryState.ACCEPTED] == 1


def test_a_row_in_flight_is_not_granted_to_a_second_claim(journal: SqliteJournal) -> None:
    journal.claim(1, TO, {})

    assert journal.claim(1, TO, {}, resend_unconfirmed=True) == Claim(False, EntryState.SENDING)


def test_resolving_records_what_the_provider_said(journal: SqliteJournal) -> None:
    for row in (1, 2):
        journal.claim(row, f"+1555123000{row}", {})
        journal.record_outcome(row, LOST)

    assert journal.resolve(1, "SMfound") is EntryState.ACCEPTED
    assert journal.resolve(2, None) is EntryState.FAILED

    assert journal.claim(1, "+15551230001", {}).granted is False
    assert journal.claim(2, "+15551230002", {}) == Claim(True, EntryState.FAILED)
    assert list(journal.doubtful()) == []


def test_reopening_the_same_run_keeps_its_start(tmp_path: Path) -> None:
    path = tmp_path / "run.db"
    with SqliteJournal(path) as first:
        first.open_run(RUN)
    later = RunInfo(RUN.channel, RUN.fingerprint, RUN.started_at + dt.timedelta(hours=1))
    with SqliteJournal(path) as second:
        assert second.open_run(later).started_at == RUN.started_at


@pytest.mark.parametrize(
    ("channel", "body", "why"),
    [("email", "hi", "channel 'sms'"), ("sms", "hello", "a different body")],
)
def test_a_journal_refuses_another_run(tmp_path: Path, channel: str, body: str, why: str) -> None:
    path = tmp_path / "run.db"
    with SqliteJournal(path) as first:
        first.open_run(RUN)
    other = RunInfo(channel, content_fingerprint(Notification(channel, None, body)), RUN.started_at)
    with SqliteJournal(path) as second, pytest.raises(JournalError, match=why):
        second.open_run(other)


def test_a_changed_input_is_refused(journal: SqliteJournal) -> None:
    journal.claim(1, TO, {})
    journal.record_outcome(1, REJECTED)

    with pytest.raises(JournalError, match=r"row 1 was \+15551230001 .* is \+15559999999 now"):
        journal.claim(1, "+15559999999", {})


def test_a_file_that_is_not_a_journal_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text("to,name\n" * 200)

    with pytest.raises(JournalError, match="is not a usable journal"):
        SqliteJournal(path)


def test_every_write_is_visible_to_another_process_at_once(
    journal: SqliteJournal, tmp_path: Path
) -> None:
    # A second connection sees what a process killed right now would leave behind.
    journal.claim(1, TO, {})
    with SqliteJournal(tmp_path / "run.db") as reader:
        assert reader.entry(1).state is EntryState.SENDING  # type: ignore[union-attr]


def test_concurrent_claims_of_one_row_grant_it_once(tmp_path: Path) -> None:
    path = tmp_path / "run.db"
    with SqliteJournal(path) as setup:
        setup.open_run(RUN)
    granted: list[bool] = []
    barrier = threading.Barrier(8)

    def claim() -> None:
        with SqliteJournal(path) as own:
            barrier.wait()
            granted.append(own.claim(1, TO, {}).granted)

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(granted) == [False] * 7 + [True]


OUTCOMES = st.sampled_from(
    [ACCEPTED, REJECTED, LOST, _receipt(False, ErrorCode.TIMEOUT), "interrupt", "resolve-found"]
)


@settings(max_examples=60, deadline=None)
@given(steps=st.lists(st.tuples(OUTCOMES, st.booleans()), max_size=8))
def test_no_row_is_granted_after_it_may_have_arrived_unless_allowed(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[object, bool]]
) -> None:
    with SqliteJournal(tmp_path_factory.mktemp("j") / "run.db") as journal:
        journal.open_run(RUN)
        accepted = may_have_arrived = False
        for outcome, allow in steps:
            claim = journal.claim(1, TO, {}, resend_unconfirmed=allow)
            if accepted:
                assert not claim.granted
            elif may_have_arrived:
                assert claim.granted is allow
                assert claim.may_duplicate is allow
            else:
                assert claim.granted
                assert not claim.may_duplicate
            if not claim.granted:
                continue
            if outcome == "interrupt":
                journal.settle_open()
                may_have_arrived = True
            elif outcome == "resolve-found":
                journal.record_outcome(1, LOST)
                journal.resolve(1, "SMfound")
                accepted = True
            else:
                assert isinstance(outcome, Receipt)
                journal.record_outcome(1, outcome)
                accepted = outcome.ok
                may_have_arrived = may_have_arrived or outcome.unconfirmed
