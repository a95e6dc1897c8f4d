"""The Redis ledger keeps the journal's rules, with workers that can die mid-request."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis

from norq.jobs.ledger import RedisLedger, alive_key
from norq.ledger import EntryState, LedgerError, RunInfo
from norq.receipt import DeliveryFailure, Receipt

RUN = RunInfo("sms", "fingerprint", dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
TO = "+15550000001"


@dataclass
class Owner:
    """A worker whose heartbeat the test controls."""

    owner: str
    client: redis.Redis

    def live(self) -> Owner:
        self.client.set(alive_key(self.owner), "1")
        return self

    def die(self) -> None:
        self.client.delete(alive_key(self.owner))


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(redis_url)
    yield connection
    connection.close()


def ledger_for(client: redis.Redis, owner: Owner) -> RedisLedger:
    ledger = RedisLedger(client, "job1", heartbeat=owner)  # type: ignore[arg-type]
    ledger.open_run(RUN)
    return ledger


def accepted(row: int, sid: str = "SM1") -> Receipt:
    return Receipt(
        True, "sms", "twilio", TO, message_id=sid, status_code=201, attempts=1, index=row
    )


def test_the_first_claim_is_granted_and_a_second_is_not(client: redis.Redis) -> None:
    first = ledger_for(client, Owner("a", client).live())
    second = ledger_for(client, Owner("b", client).live())
    assert first.claim(0, TO, {}).granted
    refused = second.claim(0, TO, {})
    assert not refused.granted
    assert refused.previous is EntryState.SENDING


def test_an_accepted_row_is_never_granted_and_keeps_its_receipt(client: redis.Redis) -> None:
    ledger = ledger_for(client, Owner("a", client).live())
    ledger.claim(0, TO, {})
    assert ledger.record_outcome(0, accepted(0)) is EntryState.ACCEPTED
    claim = ledger.claim(0, TO, {}, resend_unconfirmed=True)
    assert (claim.granted, claim.previous) == (False, EntryState.ACCEPTED)
    assert ledger.stored_receipt(0) == accepted(0)


def test_a_definite_failure_may_be_sent_again(client: redis.Redis) -> None:
    ledger = ledger_for(client, Owner("a", client).live())
    ledger.claim(0, TO, {})
    failure = DeliveryFailure("invalid_recipient", "bad number", "21211")
    ledger.record_outcome(0, Receipt(False, "sms", "twilio", TO, status_code=400, error=failure))
    assert ledger.claim(0, TO, {}).granted


def test_a_dead_workers_row_turns_unconfirmed_and_is_not_resent(client: redis.Redis) -> None:
    dead = Owner("dead", client).live()
    ledger_for(client, dead).claim(0, TO, {})
    dead.die()
    survivor = ledger_for(client, Owner("b", client).live())
    claim = survivor.claim(0, TO, {})
    assert (claim.granted, claim.previous) == (False, EntryState.UNCONFIRMED)
    assert [entry.row for entry in survivor.doubtful()] == [0]
    assert int(client.hget("norq:job:job1:meta", "unconfirmed") or 0) == 1


def test_retry_unconfirmed_resends_and_says_it_may_duplicate(client: redis.Redis) -> None:
    dead = Owner("dead", client).live()
    ledger_for(client, dead).claim(0, TO, {})
    dead.die()
    claim = ledger_for(client, Owner("b", client).live()).claim(0, TO, {}, resend_unconfirmed=True)
    assert (claim.granted, claim.may_duplicate) == (True, True)


def test_a_live_workers_row_stays_held(client: redis.Redis) -> None:
    ledger_for(client, Owner("slow", client).live()).claim(0, TO, {})
    claim = ledger_for(client, Owner("b", client).live()).claim(0, TO, {})
    assert claim.previous is EntryState.SENDING


def test_resolving_as_found_accepts_the_row_with_the_providers_id(client: redis.Redis) -> None:
    dead = Owner("dead", client).live()
    ledger_for(client, dead).claim(3, TO, {})
    dead.die()
    ledger = ledger_for(client, Owner("b", client).live())
    ledger.claim(3, TO, {})
    assert ledger.resolve(3, "SM42") is EntryState.ACCEPTED
    receipt = ledger.stored_receipt(3)
    assert receipt is not None
    assert (receipt.ok, receipt.message_id, receipt.index) == (True, "SM42", 3)
    assert not ledger.claim(3, TO, {}).granted


def test_resolving_as_not_found_makes_the_row_safe_to_send(client: redis.Redis) -> None:
    dead = Owner("dead", client).live()
    ledger_for(client, dead).claim(0, TO, {})
    dead.die()
    ledger = ledger_for(client, Owner("b", client).live())
    ledger.claim(0, TO, {})
    assert ledger.resolve(0, None) is EntryState.FAILED
    claim = ledger.claim(0, TO, {})
    assert (claim.granted, claim.may_duplicate) == (True, False)


def test_settle_open_turns_only_dead_workers_rows_unconfirmed(client: redis.Redis) -> None:
    dead, live = Owner("dead", client).live(), Owner("live", client).live()
    ledger_for(client, dead).claim(0, TO, {})
    ledger_for(client, live).claim(1, "+15550000002", {})
    dead.die()
    ledger = ledger_for(client, Owner("c", client).live())
    assert ledger.settle_open() == 1
    assert ledger.counts()[EntryState.UNCONFIRMED] == 1
    assert ledger.counts()[EntryState.SENDING] == 1


def test_a_row_whose_recipient_changed_is_refused(client: redis.Redis) -> None:
    ledger = ledger_for(client, Owner("a", client).live())
    ledger.claim(0, TO, {})
    with pytest.raises(LedgerError, match="row 0 of job job1 was"):
        ledger.claim(0, "+15559999999", {})


def test_a_job_id_names_one_send(client: redis.Redis) -> None:
    ledger_for(client, Owner("a", client).live())
    other = RedisLedger(client, "job1", heartbeat=Owner("b", client))  # type: ignore[arg-type]
    with pytest.raises(LedgerError, match="records another send"):
        other.open_run(RunInfo("sms", "other content", RUN.started_at))


def test_a_row_its_own_process_left_sending_is_unconfirmed_on_the_next_claim(
    client: redis.Redis,
) -> None:
    owner = Owner("me", client).live()
    ledger = ledger_for(client, owner)
    ledger.claim(0, TO, {})
    # An error cut the send short; the retried task claims the row again.
    claim = ledger.claim(0, TO, {})
    assert (claim.granted, claim.previous) == (False, EntryState.UNCONFIRMED)
