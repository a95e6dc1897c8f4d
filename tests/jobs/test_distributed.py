"""Jobs on real Celery workers, a real Redis and the sandbox: the kill drill and the rate test.

Each test starts its own ``norq worker`` processes; they are stopped by PID
whatever happens. The sandbox runs in this process, so its record of what it
received is the ground truth for "sent twice".
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from norq_sandbox import (
    DEFAULT_ACCOUNT_SID,
    DEFAULT_API_KEY_SECRET,
    DEFAULT_API_KEY_SID,
    SandboxServer,
)

from norq import Norq

from .redis_server import RedisServer
from .workers import Worker

pytestmark = pytest.mark.e2e

SENDER = "+15005550006"


def write_config(
    path: Path, sandbox_url: str, redis_url: str, *, rate_limits: dict[str, Any] | None = None
) -> Path:
    twilio: dict[str, Any] = {
        "type": "twilio",
        "config": {
            "account_sid": DEFAULT_ACCOUNT_SID,
            "api_key_sid": DEFAULT_API_KEY_SID,
            "api_key_secret": DEFAULT_API_KEY_SECRET,
            "from": SENDER,
            "base_url": sandbox_url,
        },
        "retry": {"max_retries": 2, "backoff": 0.05, "jitter": 0},
    }
    if rate_limits is not None:
        twilio["rate_limits"] = rate_limits
    document = {
        "providers": {"twilio": twilio},
        "routing": {"sms": "twilio"},
        "celery": {
            "broker_url": redis_url,
            "chunk_size": 50,
            # A killed worker's tasks come back after 10 s, looked for every second;
            # a sweep's lock left by the killed worker lapses after 5 s (default 300).
            "visibility_timeout": 10,
            "options": {
                "broker_transport_options": {
                    "unacked_restore_interval": 1,
                    "unacked_restore_throttle": 1,
                    "unacked_mutex_expire": 5,
                }
            },
        },
    }
    path.write_text(yaml.safe_dump(document), "utf-8")
    return path


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path) as server:
        yield server


def wait_for(redis_url: str, job_id: str, *, done: int, timeout: float) -> None:
    """Until ``done`` receipts are in; counted in Redis, not parsed, to leave the CPU to workers."""
    import redis

    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout
    try:
        while (count := client.hlen(f"norq:job:{job_id}:receipts")) < done:
            if time.monotonic() > deadline:
                queued, unacked = client.llen("norq"), client.hlen("unacked")
                pytest.fail(
                    f"job {job_id} stalled at {count} receipts "
                    f"({queued} tasks queued, {unacked} unacknowledged)"
                )
            time.sleep(0.2)
    finally:
        client.close()


def test_kill_drill_every_recipient_gets_one_receipt_and_nobody_two_messages(
    tmp_path: Path, redis: RedisServer
) -> None:
    count = 5000
    recipients = [f"+1555{index:07d}" for index in range(count)]
    with SandboxServer(step_delay=60) as sandbox:
        config = write_config(tmp_path / "norq.yaml", sandbox.url, redis.url)
        workers = [Worker(config, tmp_path / f"worker{n}.log") for n in range(2)]
        try:
            with Norq.from_yaml(config) as norq:
                job_id = norq.enqueue_many("sms", recipients, body="Your reminder")
                wait_for(redis.url, job_id, done=count // 4, timeout=90)
                workers[0].kill()
                workers.append(Worker(config, tmp_path / "worker-restarted.log"))
                wait_for(redis.url, job_id, done=count, timeout=120)
                status = norq.job(job_id)
                receipts = list(norq.job_receipts(job_id))
        finally:
            for worker in workers:
                worker.stop()
        sent_to = Counter(message.draft.to for message in sandbox.messages())

    print(
        f"\nkill drill: {status.unconfirmed} unconfirmed; provider had "
        f"{status.resolved_sent}, had not (sent then) {status.resolved_not_sent}; "
        f"re-sent unasked {status.resent_unconfirmed}; left {status.left_unconfirmed}"
    )
    assert status.finished
    assert sorted(r.index for r in receipts) == list(range(count))
    assert all(r.ok for r in receipts), Counter(r.error.code for r in receipts if r.error)
    assert [to for to, times in sent_to.items() if times > 1] == []
    assert set(sent_to) == set(recipients)
    assert status.resent_unconfirmed == 0
    assert status.resolved_sent + status.resolved_not_sent == status.unconfirmed
    # Every accepted receipt names the message the sandbox holds for that recipient.
    by_recipient = {message.draft.to: message.sid for message in sandbox.messages()}
    assert all(by_recipient[r.to] == r.message_id for r in receipts)


def test_a_rate_set_in_norq_holds_across_workers_with_no_429(
    tmp_path: Path, redis: RedisServer
) -> None:
    count, rate = 2000, 200
    recipients = [f"+1555{index:07d}" for index in range(count)]
    with SandboxServer(step_delay=60, rate_limit=rate, max_concurrent=100) as sandbox:
        config = write_config(
            tmp_path / "norq.yaml",
            sandbox.url,
            redis.url,
            rate_limits={"requests_per_second": rate},
        )
        workers = [Worker(config, tmp_path / f"worker{n}.log") for n in range(2)]
        try:
            with Norq.from_yaml(config) as norq:
                job_id = norq.enqueue_many("sms", recipients, body="Paced")
                wait_for(redis.url, job_id, done=count, timeout=90)
                status = norq.job(job_id)
        finally:
            for worker in workers:
                worker.stop()
        sends = sandbox.sends()

    assert status.ok == count
    assert sandbox.state.limits.rejected == 0
    assert [s for s in sends if s.status == 429] == []
    elapsed = (sends[-1].at - sends[0].at).total_seconds()
    measured = (len(sends) - 1) / elapsed
    print(f"\nrate test: {len(sends)} requests at {measured:.1f}/s (limit {rate}/s)")
    # Never faster than the limit allows: that is Norq's pacing, whatever the load.
    # How close to the limit it gets (goodput) is a benchmark's target
    # (benchmarks/distributed.py), not this test's: it depends on the machine.
    assert measured <= 1.15 * rate
