"""The ledger's rules (norq.ledger) and the SQLite ledger that keeps them: what may be
sent again, what never is, in batches."""

from __future__ import annotations

import datetime as dt
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from norq.error_codes import ErrorCode
from norq.ledger import (
    Claim,
    EntryState,
    LedgerEntry,
    LedgerError,
    LedgerRow,
    ResendPolicy,
    RunInfo,
    content_fingerprint,
    decide,
    state_for,
)
from norq.notification import Notification
from norq.receipt import DeliveryFailure, Receipt
from norq.sqlite_ledger import SqliteLedger

TO = "+15551230001"
ROW = LedgerRow(1, TO, {"name": "Ann"})
RUN = RunInfo("sms", content_fingerprint(Notification("sms", None, "hi")), dt.datetime.now(dt.UTC))
SAFE = ResendPolicy()
RESEND = ResendPolicy(resend_unconfirmed=True)


def _receipt(ok: bool = True, code: str | None = None, disposition: str = "final") -> Receipt:
    error = None if code is None else DeliveryFailure(code, "why", disposition=disposition)
    message_id = "SM1" if ok else None
    return Receipt(ok, "sms", "twilio", TO, message_id=message_id, attempts=1, error=error)


ACCEPTED = _receipt()
REJECTED = _receipt(False, ErrorCode.INVALID_RECIPIENT)
UNAVAILABLE = _receipt(False, ErrorCode.PROVIDER_UNAVAILABLE, "retry")
LOST = _receipt(False, ErrorCode.CONNECTION_LOST)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[SqliteLedger]:
    with SqliteLedger(tmp_path / "run.db") as opened:
        opened.open_run(RUN)
        yield opened


def _one(ledger: SqliteLedger, policy: ResendPolicy = SAFE, row: LedgerRow = ROW) -> Claim:
    [claim] = ledger.claim([row], policy)
    return claim


@pytest.mark.parametrize(
    ("receipt", "state", "final"),
    [
        (ACCEPTED, EntryState.ACCEPTED, False),
        (REJECTED, EntryState.FAILED, True),
        (_receipt(False, ErrorCode.RATE_LIMITED, "retry"), EntryState.FAILED, False),
        (_receipt(False, ErrorCode.CONNECT_ERROR, "retry"), EntryState.FAILED, False),
        (_receipt(False, ErrorCode.TIMEOUT), EntryState.UNCONFIRMED, False),
        (LOST, EntryState.UNCONFIRMED, False),
        (_receipt(False, ErrorCode.INTERRUPTED), EntryState.UNCONFIRMED, False),
    ],
)
def test_a_receipt_decides_the_state_and_whether_it_failed_for_good(
    receipt: Receipt, state: EntryState, final: bool
) -> None:
    assert state_for(receipt) is state
    assert receipt.unconfirmed is (state is EntryState.UNCONFIRMED)
    assert receipt.final is final


def test_a_batch_of_new_rows_is_granted_and_recorded_as_sending(ledger: SqliteLedger) -> None:
    rows = [ROW, LedgerRow(2, "+15551230002"), LedgerRow(3, "+15551230003")]

    assert ledger.claim(rows, SAFE) == [Claim(n, True, None) for n in (1, 2, 3)]

    entry = ledger.entry(1)
    assert entry is not None
    assert (entry.state, entry.to, entry.data, entry.sends) == (
        EntryState.SENDING,
        TO,
        {"name": "Ann"},
        1,
    )
    assert entry.claimed_at is not None
    assert ledger.counts()[EntryState.SENDING] == 3


def test_a_batch_of_outcomes_is_recorded_at_once(ledger: SqliteLedger) -> None:
    ledger.claim([ROW, LedgerRow(2, "+15551230002")], SAFE)

    assert ledger.record([(1, ACCEPTED), (2, REJECTED)]) == []

    assert ledger.entry(1).state is EntryState.ACCEPTED  # type: ignore[union-attr]
    failed = ledger.entry(2)
    assert failed is not None
    assert (failed.state, failed.final, failed.error_code) == (
        EntryState.FAILED,
        True,
        "invalid_recipient",
    )


def test_an_accepted_row_is_never_granted_again(ledger: SqliteLedger) -> None:
    _one(ledger)
    ledger.record([(1, ACCEPTED)])

    assert _one(ledger) == Claim(1, False, EntryState.ACCEPTED)
    assert _one(ledger, ResendPolicy(True, True)).granted is False
    assert ledger.entry(1).message_id == "SM1"  # type: ignore[union-attr]


def test_a_row_that_failed_safely_is_granted_again(ledger: SqliteLedger) -> None:
    _one(ledger)
    ledger.record([(1, UNAVAILABLE)])

    assert _one(ledger) == Claim(1, True, EntryState.FAILED)
    assert ledger.entry(1).sends == 2  # type: ignore[union-attr]


def test_a_row_that_failed_for_good_is_granted_only_when_asked(ledger: SqliteLedger) -> None:
    _one(ledger)
    ledger.record([(1, REJECTED)])

    assert _one(ledger) == Claim(1, False, EntryState.FAILED, final=True)
    assert _one(ledger, RESEND).granted is False
    assert _one(ledger, ResendPolicy(retry_final=True)) == Claim(1, True, EntryState.FAILED)


def test_an_unconfirmed_row_is_granted_only_when_duplicates_are_allowed(
    ledger: SqliteLedger,
) -> None:
    _one(ledger)
    ledger.record([(1, LOST)])

    assert _one(ledger) == Claim(1, False, EntryState.UNCONFIRMED, doubtful=True)
    assert _one(ledger, RESEND) == Claim(1, True, EntryState.UNCONFIRMED, may_duplicate=True)


def test_a_definite_failure_after_an_unanswered_send_stays_doubtful(
    ledger: SqliteLedger,
) -> None:
    _one(ledger)
    ledger.record([(1, LOST)])
    _one(ledger, RESEND)
    ledger.record([(1, UNAVAILABLE)])

    assert _one(ledger) == Claim(1, False, EntryState.FAILED, doubtful=True)
    assert [entry.row for entry in ledger.doubtful()] == [1]


def test_opening_the_run_again_settles_rows_a_dead_sender_left_in_flight(
    tmp_path: Path,
) -> None:
    path = tmp_path / "run.db"
    with SqliteLedger(path) as crashed:
        crashed.open_run(RUN)
        crashed.claim([ROW, LedgerRow(2, "+15551230002")], SAFE)
        crashed.record([(2, ACCEPTED)])

    with SqliteLedger(path) as resumed:
        resumed.open_run(RUN)
        entry = resumed.entry(1)
        assert entry is not None
        assert (entry.state, entry.error_code) == (EntryState.UNCONFIRMED, "interrupted")
        assert resumed.counts()[EntryState.ACCEPTED] == 1


def test_released_rows_are_as_they_were_before_the_claim(ledger: SqliteLedger) -> None:
    _one(ledger, row=LedgerRow(2, "+15551230002"))
    ledger.record([(2, UNAVAILABLE)])
    ledger.claim([ROW, LedgerRow(2, "+15551230002")], SAFE)

    ledger.release([1, 2])

    assert ledger.entry(1) is None
    again = ledger.entry(2)
    assert again is not None
    assert (again.state, again.sends) == (EntryState.FAILED, 1)


def test_a_row_in_flight_is_not_granted_to_a_second_claim(ledger: SqliteLedger) -> None:
    _one(ledger)

    assert _one(ledger, RESEND) == Claim(1, False, EntryState.SENDING)


def test_a_sender_records_only_the_rows_it_holds(ledger: SqliteLedger, tmp_path: Path) -> None:
    _one(ledger)
    with SqliteLedger(tmp_path / "run.db") as other:
        assert other.still_held([1]) == set()
        assert other.record([(1, ACCEPTED)]) == [1]
    assert ledger.still_held([1]) == {1}
    assert ledger.entry(1).state is EntryState.SENDING  # type: ignore[union-attr]


def test_resolving_records_what_the_provider_said(ledger: SqliteLedger) -> None:
    rows = [LedgerRow(n, f"+1555123000{n}") for n in (1, 2)]
    ledger.claim(rows, SAFE)
    ledger.record([(1, LOST), (2, LOST)])

    ledger.resolve([(1, "backup", "SMfound"), (2, None, None)])

    found = ledger.entry(1)
    assert found is not None
    assert (found.state, found.provider, found.message_id) == (
        EntryState.ACCEPTED,
        "backup",
        "SMfound",
    )
    assert ledger.claim(rows, SAFE) == [
        Claim(1, False, EntryState.ACCEPTED),
        Claim(2, True, EntryState.FAILED),
    ]
    assert list(ledger.doubtful()) == []


def test_a_run_rebuilt_from_receipts_keeps_each_rows_standing(tmp_path: Path) -> None:
    with SqliteLedger(":memory:") as ledger:
        ledger.open_run(RUN)
        ledger.restore(
            [
                LedgerEntry(1, TO, EntryState.FAILED, final=True, sends=1),
                LedgerEntry(2, "+15551230002", EntryState.UNCONFIRMED, provider="twilio"),
                LedgerEntry(3, "+15551230003", EntryState.FAILED, sends=1),
            ]
        )
        rows = [ROW, LedgerRow(2, "+15551230002"), LedgerRow(3, "+15551230003")]

        assert [claim.granted for claim in ledger.claim(rows, SAFE)] == [False, False, True]
    assert list(tmp_path.iterdir()) == []


def test_reopening_the_same_run_keeps_its_start(tmp_path: Path) -> None:
    path = tmp_path / "run.db"
    with SqliteLedger(path) as first:
        first.open_run(RUN)
    later = RunInfo(RUN.channel, RUN.fingerprint, RUN.started_at + dt.timedelta(hours=1))
    with SqliteLedger(path) as second:
        assert second.open_run(later).started_at == RUN.started_at


@pytest.mark.parametrize(
    ("channel", "body", "why"),
    [("email", "hi", "channel 'sms'"), ("sms", "hello", "a different body")],
)
def test_a_ledger_refuses_another_run(tmp_path: Path, channel: str, body: str, why: str) -> None:
    path = tmp_path / "run.db"
    with SqliteLedger(path) as first:
        first.open_run(RUN)
    other = RunInfo(channel, content_fingerprint(Notification(channel, None, body)), RUN.started_at)
    with SqliteLedger(path) as second, pytest.raises(LedgerError, match=why):
        second.open_run(other)


def test_a_changed_input_is_refused(ledger: SqliteLedger) -> None:
    _one(ledger)
    ledger.record([(1, UNAVAILABLE)])

    with pytest.raises(LedgerError, match=r"row 1 was \+15551230001 .* is \+15559999999 now"):
        _one(ledger, row=LedgerRow(1, "+15559999999"))


def test_a_file_that_is_not_a_ledger_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text("to,name\n" * 200)

    with pytest.raises(LedgerError, match="is not a usable ledger file"):
        SqliteLedger(path)


def test_a_new_ledger_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "run.db"
    with SqliteLedger(path) as ledger:
        ledger.open_run(RUN)
        ledger.claim([ROW], SAFE)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_every_write_is_visible_to_another_process_at_once(
    ledger: SqliteLedger, tmp_path: Path
) -> None:
    # A second connection sees what a process killed right now would leave behind.
    _one(ledger)
    with SqliteLedger(tmp_path / "run.db") as reader:
        assert reader.entry(1).state is EntryState.SENDING  # type: ignore[union-attr]


def test_concurrent_claims_of_one_row_grant_it_once(tmp_path: Path) -> None:
    path = tmp_path / "run.db"
    with SqliteLedger(path) as setup:
        setup.open_run(RUN)
    granted: list[bool] = []
    barrier = threading.Barrier(8)

    def claim() -> None:
        with SqliteLedger(path) as own:
            barrier.wait()
            granted.append(_one(own).granted)

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(granted) == [False] * 7 + [True]


OUTCOMES = st.sampled_from(
    [
        ACCEPTED,
        REJECTED,
        UNAVAILABLE,
        LOST,
        _receipt(False, ErrorCode.TIMEOUT),
        "interrupt",
        "release",
        "resolve-found",
    ]
)


@settings(max_examples=80, deadline=None)
@given(steps=st.lists(st.tuples(OUTCOMES, st.booleans(), st.booleans()), max_size=8))
def test_no_row_is_sent_after_it_may_have_arrived_or_failed_for_good_unless_allowed(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[object, bool, bool]]
) -> None:
    path = tmp_path_factory.mktemp("ledger") / "run.db"
    ledger = SqliteLedger(path)
    ledger.open_run(RUN)
    accepted = may_have_arrived = failed_for_good = False
    try:
        for outcome, resend, retry_final in steps:
            claim = _one(ledger, ResendPolicy(resend, retry_final))
            if accepted:
                assert not claim.granted
            elif may_have_arrived:
                assert claim.granted is resend
                assert claim.may_duplicate is resend
            elif failed_for_good:
                assert claim.granted is retry_final
            else:
                assert claim.granted
                assert not claim.may_duplicate
            if not claim.granted:
                continue
            if outcome == "interrupt":
                ledger.close()
                ledger = SqliteLedger(path)
                ledger.open_run(RUN)  # a new sender settles what the dead one left
                may_have_arrived = True
            elif outcome == "release":
                ledger.release([1])
            elif outcome == "resolve-found":
                ledger.record([(1, LOST)])
                ledger.resolve([(1, "twilio", "SMfound")])
                accepted = True
            else:
                assert isinstance(outcome, Receipt)
                ledger.record([(1, outcome)])
                accepted = outcome.ok
                may_have_arrived = may_have_arrived or outcome.unconfirmed
                failed_for_good = outcome.final
    finally:
        ledger.close()


@given(
    previous=st.sampled_from([None, *EntryState]),
    doubtful=st.booleans(),
    final=st.booleans(),
    resend=st.booleans(),
    retry_final=st.booleans(),
)
def test_only_rules_grant_a_row(
    previous: EntryState | None, doubtful: bool, final: bool, resend: bool, retry_final: bool
) -> None:
    claim = decide(1, previous, doubtful, final, ResendPolicy(resend, retry_final))
    if previous in (EntryState.ACCEPTED, EntryState.SENDING):
        assert not claim.granted
    if claim.may_duplicate:
        assert resend
        assert claim.granted
    if claim.granted and previous is EntryState.FAILED and final and not doubtful:
        assert retry_final
