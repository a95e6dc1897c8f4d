"""Drills on real workers, a real Redis and the sandbox: a worker stopped past its heartbeat,
Redis killed and restarted, Redis full for 40 seconds, a poison row. Each ends with
exactly one receipt per recipient and nobody sent a message twice, by the sandbox's
own record. Every process is stopped by its PID whatever happens."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from norq_sandbox import (
    DEFAULT_ACCOUNT_SID,
    DEFAULT_API_KEY_SECRET,
    DEFAULT_API_KEY_SID,
    SandboxServer,
)

from norq import Norq, Recipient

from .redis_server import RedisServer
from .workers import Worker

pytestmark = pytest.mark.e2e


def _config(path: Path, sandbox: SandboxServer, redis_url: str, **celery: Any) -> Path:
    document: dict[str, Any] = {
        "providers": {
            "twilio": {
                "config": {
                    "account_sid": DEFAULT_ACCOUNT_SID,
                    "api_key_sid": DEFAULT_API_KEY_SID,
                    "api_key_secret": DEFAULT_API_KEY_SECRET,
                    "from": "+15005550006",
                    "base_url": sandbox.url,
                },
                "retry": {"max_retries": 2, "backoff": 0.05, "jitter": 0},
            },
            "mail": {
                "type": "smtp",
                "config": {
                    "host": sandbox.smtp_host,
                    "port": sandbox.smtp_port,
                    "security": "none",
                    "sender": "alerts@example.com",
                },
            },
        },
        "routing": {"sms": "twilio", "email": "mail"},
        "celery": {
            "broker_url": redis_url,
            "chunk_size": 50,
            "visibility_timeout": 8,
            "options": {
                "broker_transport_options": {
                    "unacked_restore_interval": 1,
                    "unacked_restore_throttle": 1,
                    "unacked_mutex_expire": 4,
                }
            },
            **celery,
        },
    }
    path.write_text(yaml.safe_dump(document), "utf-8")
    return path


def _wait(redis_url: str, job_id: str, done: int, timeout: float) -> None:
    """Until ``done`` receipts are in, riding out a Redis that is away for a while."""
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=2)
    deadline = time.monotonic() + timeout
    count = 0
    try:
        while count < done:
            if time.monotonic() > deadline:
                pytest.fail(f"job {job_id} stalled at {count} receipts")
            with contextlib.suppress(redis.RedisError):
                count = client.hlen(f"norq:job:{job_id}:receipts")
            time.sleep(0.2)
    finally:
        client.close()


def _sent_once(sandbox: SandboxServer, recipients: list[str]) -> None:
    sent_to = Counter(message.draft.to for message in sandbox.messages())
    assert [to for to, times in sent_to.items() if times > 1] == []
    assert set(sent_to) == set(recipients)


def _one_receipt_each(norq: Norq, job_id: str, count: int, sandbox: SandboxServer) -> None:
    receipts = list(norq.job_receipts(job_id))
    assert sorted(receipt.index for receipt in receipts) == list(range(count))
    assert all(receipt.ok for receipt in receipts), Counter(
        f"{receipt.error.code}: {receipt.error.message}" for receipt in receipts if receipt.error
    )
    sids = {message.draft.to: message.sid for message in sandbox.messages()}
    assert all(sids[receipt.to] == receipt.message_id for receipt in receipts)


def test_a_worker_stopped_past_its_heartbeat_sends_nothing_another_worker_took_over(
    tmp_path: Path,
) -> None:
    count = 300
    recipients = [f"+1555{index:07d}" for index in range(count)]
    with RedisServer(tmp_path) as store, SandboxServer(step_delay=0) as sandbox:
        sandbox.faults.set_rate(1.0, ["delay:0.25"])
        config = _config(
            tmp_path / "norq.yaml", sandbox, store.url, rows_in_flight=4, chunk_size=25
        )
        stalled = Worker(config, tmp_path / "stalled.log")
        other = Worker(config, tmp_path / "other.log")
        try:
            with Norq.from_yaml(config) as norq:
                job_id = norq.enqueue_many("sms", recipients, body="Your reminder")
                _wait(store.url, job_id, count // 6, timeout=60)
                os.killpg(stalled.pid, signal.SIGSTOP)
                # Past its heartbeat (5 s) and the chunk's visibility timeout (8 s):
                # the other worker gets the chunk again and takes over its rows.
                time.sleep(14)
                os.killpg(stalled.pid, signal.SIGCONT)
                _wait(store.url, job_id, count, timeout=120)
                status = norq.job(job_id)
                _one_receipt_each(norq, job_id, count, sandbox)
        finally:
            os.killpg(stalled.pid, signal.SIGCONT)
            stalled.stop()
            other.stop()
        _sent_once(sandbox, recipients)
    print(
        f"\nstall drill: {status.unconfirmed} rows taken over, provider had "
        f"{status.resolved_sent}, had not {status.resolved_not_sent}"
    )
    assert status.finished
    assert status.unconfirmed > 0  # the other worker did take rows over
    assert status.resolved_sent + status.resolved_not_sent == status.unconfirmed
    assert "taken over by another sender" in (tmp_path / "stalled.log").read_text()


def test_redis_killed_and_restarted_mid_job_loses_nothing(tmp_path: Path) -> None:
    count = 2000
    recipients = [f"+1555{index:07d}" for index in range(count)]
    with RedisServer(tmp_path, persistent=True) as store, SandboxServer(step_delay=20) as sandbox:
        config = _config(tmp_path / "norq.yaml", sandbox, store.url, rows_in_flight=16)
        workers = [Worker(config, tmp_path / f"worker{n}.log") for n in range(2)]
        try:
            with Norq.from_yaml(config) as norq:
                job_id = norq.enqueue_many("sms", recipients, body="Back soon")
                _wait(store.url, job_id, count // 4, timeout=90)
                store.kill()
                time.sleep(3)
                store.start()
                _wait(store.url, job_id, count, timeout=180)
                status = norq.job(job_id)
                _one_receipt_each(norq, job_id, count, sandbox)
            assert all(worker.process.poll() is None for worker in workers)
        finally:
            for worker in workers:
                worker.stop()
        _sent_once(sandbox, recipients)
    assert status.finished


def test_redis_full_for_40_seconds_loses_nothing(tmp_path: Path) -> None:
    count = 3000
    recipients = [f"+1555{index:07d}" for index in range(count)]
    with RedisServer(tmp_path, persistent=True) as store, SandboxServer(step_delay=20) as sandbox:
        config = _config(tmp_path / "norq.yaml", sandbox, store.url, rows_in_flight=16)
        workers = [Worker(config, tmp_path / f"worker{n}.log") for n in range(2)]
        admin = redis.Redis.from_url(store.url)
        try:
            with Norq.from_yaml(config) as norq:
                job_id = norq.enqueue_many("sms", recipients, body="Full")
                _wait(store.url, job_id, count // 5, timeout=90)
                admin.config_set("maxmemory-policy", "noeviction")
                admin.config_set("maxmemory", admin.info("memory")["used_memory"])
                time.sleep(40)
                admin.config_set("maxmemory", 0)
                _wait(store.url, job_id, count, timeout=180)
                status = norq.job(job_id)
                _one_receipt_each(norq, job_id, count, sandbox)
            assert all(worker.process.poll() is None for worker in workers)
        finally:
            admin.close()
            for worker in workers:
                worker.stop()
        _sent_once(sandbox, recipients)
    assert status.finished


def test_a_poison_row_in_a_job_is_one_failed_receipt_and_the_rest_are_delivered(
    tmp_path: Path,
) -> None:
    pytest.importorskip("norq_smtp", reason="the norq-smtp plugin is not installed")
    people = [f"user{n}@example.com" for n in range(40)]
    rows = [
        Recipient(to, fields={"subject": "Weekly\u2028report" if n == 17 else f"Report {n}"})
        for n, to in enumerate(people)
    ]
    with RedisServer(tmp_path) as store, SandboxServer(step_delay=0.01) as sandbox:
        config = _config(tmp_path / "norq.yaml", sandbox, store.url)
        worker = Worker(config, tmp_path / "worker.log")
        try:
            with Norq.from_yaml(config) as norq:
                job_id = norq.enqueue_many("email", rows, body="Numbers inside")
                _wait(store.url, job_id, len(people), timeout=60)
                status = norq.job(job_id)
                receipts = list(norq.job_receipts(job_id))
        finally:
            worker.stop()
        landed = sorted(to for email in sandbox.outbox("smtp") for to in email.to)
    assert status.finished
    assert (status.ok, dict(status.errors)) == (39, {"invalid_message": 1})
    (poisoned,) = [receipt for receipt in receipts if not receipt.ok]
    assert (poisoned.index, poisoned.final, poisoned.unconfirmed) == (17, True, False)
    assert landed == sorted(people[:17] + people[18:])
