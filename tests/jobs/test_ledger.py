"""The Redis ledger keeps the SQLite ledger's rules, in batches, with workers that can die
mid-request or stall past their heartbeat."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis

from norq.error_codes import ErrorCode
from norq.errors import StoreUnavailable
from norq.jobs.redis_ledger import Heartbeat, RedisLedger, alive_key
from norq.jobs.store import JobStore
from norq.ledger import Claim, EntryState, LedgerError, LedgerRow, ResendPolicy, RunInfo
from norq.receipt import DeliveryFailure, Receipt
from norq.retry import Disposition

RUN = RunInfo("sms", "fingerprint", dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
TO = "+15550000001"
SAFE = ResendPolicy()


@dataclass
class Owner:
    """A worker process whose heartbeat the test controls."""

    process: str
    client: redis.Redis
    current: int | None = 0

    def live(self) -> Owner:
        self.client.set(alive_key(self.process), "1")
        return self

    def die(self) -> None:
        self.client.delete(alive_key(self.process))

    def generation(self) -> int | None:
        return self.current


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(redis_url)
    yield connection
    connection.close()


def ledger_for(client: redis.Redis, owner: Owner) -> RedisLedger:
    ledger = RedisLedger(client, "job1", heartbeat=owner)  # type: ignore[arg-type]
    ledger.open_run(RUN)
    return ledger


def row(number: int, to: str = TO) -> LedgerRow:
    return LedgerRow(number, to)


def one(ledger: RedisLedger, number: int = 1, policy: ResendPolicy = SAFE) -> Claim:
    [claim] = ledger.claim([row(number)], policy)
    return claim


def accepted(number: int, sid: str = "SM1") -> Receipt:
    return Receipt(
        True, "sms", "twilio", TO, message_id=sid, status_code=201, attempts=1, index=number - 1
    )


def failed(code: str, disposition: Disposition) -> Receipt:
    failure = DeliveryFailure(code, "no", disposition=disposition)
    return Receipt(False, "sms", "twilio", TO, status_code=400, attempts=1, error=failure)


def test_a_batch_is_claimed_at_once_and_a_second_claim_gets_none_of_it(
    client: redis.Redis,
) -> None:
    first = ledger_for(client, Owner("a", client).live())
    second = ledger_for(client, Owner("b", client).live())
    rows = [row(n, f"+155500000{n:02d}") for n in range(1, 51)]

    assert all(claim.granted for claim in first.claim(rows, SAFE))
    refused = second.claim(rows, SAFE)
    assert [claim.granted for claim in refused] == [False] * 50
    assert {claim.previous for claim in refused} == {EntryState.SENDING}


def test_an_accepted_row_is_never_granted_and_keeps_its_receipt(client: redis.Redis) -> None:
    ledger = ledger_for(client, Owner("a", client).live())
    one(ledger)
    assert ledger.record([(1, accepted(1))]) == []
    claim = one(ledger, policy=ResendPolicy(True, True))
    assert (claim.granted, claim.previous) == (False, EntryState.ACCEPTED)
    assert ledger.stored_receipt(1) == accepted(1)


def test_a_failure_that_may_pass_is_sent_again_and_a_final_one_only_when_asked(
    client: redis.Redis,
) -> None:
    ledger = ledger_for(client, Owner("a", client).live())
    ledger.claim([row(1), row(2)], SAFE)
    ledger.record(
        [
            (1, failed("provider_unavailable", Disposition.RETRY)),
            (2, failed("invalid_recipient", Disposition.FINAL)),
        ]
    )
    again = ledger.claim([row(1), row(2)], SAFE)
    assert [(c.granted, c.final) for c in again] == [(True, False), (False, True)]
    assert one(ledger, 2, ResendPolicy(retry_final=True)).granted


def test_a_dead_workers_row_turns_unconfirmed_and_is_not_resent(client: redis.Redis) -> None:
    dead = Owner("dead", client).live()
    one(ledger_for(client, dead))
    dead.die()
    survivor = ledger_for(client, Owner("b", client).live())

    claim = one(survivor)

    assert (claim.granted, claim.previous, claim.doubtful) == (False, EntryState.UNCONFIRMED, True)
    assert [entry.row for entry in survivor.doubtful()] == [1]
    assert int(client.hget("norq:job:job1:meta", "unconfirmed") or 0) == 1


def test_resend_unconfirmed_sends_again_and_says_it_may_duplicate(client: redis.Redis) -> None:
    dead = Owner("dead", client).live()
    one(ledger_for(client, dead))
    dead.die()
    claim = one(ledger_for(client, Owner("b", client).live()), policy=ResendPolicy(True))
    assert (claim.granted, claim.may_duplicate) == (True, True)
    assert int(client.hget("norq:job:job1:meta", "resent_unconfirmed") or 0) == 1


def test_a_live_workers_row_stays_held(client: redis.Redis) -> None:
    one(ledger_for(client, Owner("slow", client).live()))
    assert one(ledger_for(client, Owner("b", client).live())).previous is EntryState.SENDING


def test_a_claim_whose_answer_was_lost_is_granted_again_to_its_run(client: redis.Redis) -> None:
    ledger = ledger_for(client, Owner("a", client).live())
    one(ledger)
    assert one(ledger).granted  # the same run asking again: it is still its row


def test_a_row_an_earlier_run_of_the_process_left_sending_is_unconfirmed(
    client: redis.Redis,
) -> None:
    owner = Owner("me", client).live()
    one(ledger_for(client, owner))
    # An error cut that run short; the retried chunk is a new run of the same process.
    claim = one(ledger_for(client, owner))
    assert (claim.granted, claim.previous) == (False, EntryState.UNCONFIRMED)


def test_only_the_run_that_holds_a_row_records_it(client: redis.Redis) -> None:
    stalled = Owner("stalled", client).live()
    old = ledger_for(client, stalled)
    one(old)
    stalled.die()  # its heartbeat lapsed while it was stopped
    taker = ledger_for(client, Owner("taker", client).live())
    one(taker)  # turns it unconfirmed
    taker.resolve([(1, None, None)])
    one(taker)
    taker.record([(1, accepted(1, "SMtaker"))])

    assert old.still_held([1]) == set()
    assert old.record([(1, accepted(1, "SMstale"))]) == [1]
    assert old.stored_receipt(1) == accepted(1, "SMtaker")


def test_recording_twice_is_not_a_loss(client: redis.Redis) -> None:
    ledger = ledger_for(client, Owner("a", client).live())
    one(ledger)
    assert ledger.record([(1, accepted(1))]) == []
    assert ledger.record([(1, accepted(1))]) == []  # an answer lost, the call retried


def test_released_rows_are_as_they_were(client: redis.Redis) -> None:
    ledger = ledger_for(client, Owner("a", client).live())
    one(ledger, 2)
    ledger.record([(2, failed("provider_unavailable", Disposition.RETRY))])
    ledger.claim([row(1), row(2)], SAFE)

    ledger.release([1, 2])

    assert ledger.entry(1) is None
    again = ledger.entry(2)
    assert again is not None
    assert (again.state, again.sends) == (EntryState.FAILED, 1)


def test_resolving_as_found_accepts_the_row_with_the_providers_id(client: redis.Redis) -> None:
    dead = Owner("dead", client).live()
    one(ledger_for(client, dead), 3)
    dead.die()
    ledger = ledger_for(client, Owner("b", client).live())
    one(ledger, 3)

    ledger.resolve([(3, "backup", "SM42")])

    receipt = ledger.stored_receipt(3)
    assert receipt is not None
    assert (receipt.ok, receipt.message_id, receipt.provider, receipt.index) == (
        True,
        "SM42",
        "backup",
        2,
    )
    assert not one(ledger, 3).granted
    assert int(client.hget("norq:job:job1:meta", "resolved_sent") or 0) == 1


def test_resolving_as_not_found_makes_the_row_safe_to_send(client: redis.Redis) -> None:
    dead = Owner("dead", client).live()
    one(ledger_for(client, dead))
    dead.die()
    ledger = ledger_for(client, Owner("b", client).live())
    one(ledger)
    ledger.resolve([(1, None, None)])
    claim = one(ledger)
    assert (claim.granted, claim.may_duplicate) == (True, False)


def test_a_row_nobody_could_settle_gets_its_receipt_and_stays_unconfirmed(
    client: redis.Redis,
) -> None:
    dead = Owner("dead", client).live()
    one(ledger_for(client, dead))
    dead.die()
    ledger = ledger_for(client, Owner("b", client).live())
    one(ledger)
    left = Receipt.interrupted("sms", "twilio", TO, "nobody could tell", attempts=0, index=0)

    ledger.leave_unconfirmed([(1, left)])
    ledger.leave_unconfirmed([(1, left)])

    assert ledger.stored_receipt(1) == left
    assert ledger.entry(1).state is EntryState.UNCONFIRMED  # type: ignore[union-attr]
    assert client.hget("norq:job:job1:meta", "left_unconfirmed") == b"1"


def test_settle_open_turns_only_dead_workers_rows_unconfirmed(client: redis.Redis) -> None:
    dead, live = Owner("dead", client).live(), Owner("live", client).live()
    one(ledger_for(client, dead), 1)
    ledger_for(client, live).claim([row(2, "+15550000002")], SAFE)
    dead.die()
    ledger = ledger_for(client, Owner("c", client).live())
    assert ledger.settle_open() == 1
    assert ledger.counts()[EntryState.UNCONFIRMED] == 1
    assert ledger.counts()[EntryState.SENDING] == 1


def test_a_row_whose_recipient_changed_is_refused(client: redis.Redis) -> None:
    ledger = ledger_for(client, Owner("a", client).live())
    one(ledger)
    with pytest.raises(LedgerError, match="row 1 of job job1 was"):
        ledger.claim([row(1, "+15559999999")], SAFE)


def test_a_job_id_names_one_send(client: redis.Redis) -> None:
    ledger_for(client, Owner("a", client).live())
    other = RedisLedger(client, "job1", heartbeat=Owner("b", client))  # type: ignore[arg-type]
    with pytest.raises(LedgerError, match="records another send"):
        other.open_run(RunInfo("sms", "other content", RUN.started_at))


def test_the_job_counters_follow_the_receipts(client: redis.Redis) -> None:
    store = JobStore(client)
    store.create("job1", "sms", {})
    ledger = ledger_for(client, Owner("a", client).live())
    ledger.claim([row(1), row(2), row(3)], SAFE)
    ledger.record(
        [
            (1, accepted(1)),
            (2, failed("invalid_recipient", Disposition.FINAL)),
            (3, failed("provider_unavailable", Disposition.RETRY)),
        ]
    )
    one(ledger, 3)
    ledger.record([(3, accepted(3, "SM3"))])  # sent again: its old receipt no longer counts

    status = store.status("job1")

    assert (status.done, status.ok, dict(status.errors)) == (3, 2, {"invalid_recipient": 1})


def test_a_heartbeat_that_lapsed_changes_the_lease_generation(client: redis.Redis) -> None:
    heartbeat = Heartbeat(client, seconds=0.4)
    process = heartbeat.process
    assert heartbeat.generation() == 0
    client.delete(alive_key(process))  # what a stall past the expiry looks like to Redis
    deadline = time.monotonic() + 5
    while heartbeat.generation() in (0, None) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert heartbeat.generation() == 1
    assert client.exists(alive_key(process))


def test_redis_errors_name_the_store_without_its_password() -> None:
    client = redis.Redis.from_url("redis://:hunter2@127.0.0.1:1/0", socket_connect_timeout=0.5)
    ledger = RedisLedger(client, "job1", heartbeat=Owner("a", client))  # type: ignore[arg-type]
    with pytest.raises(StoreUnavailable, match=r"the Redis store at redis://127\.0\.0\.1:1/0") as e:
        ledger.open_run(RUN)
    assert "hunter2" not in str(e.value)
    assert ErrorCode.INTERRUPTED  # the code a dead worker's rows get
