"""``norq send --queue``, ``norq jobs watch`` and ``norq jobs receipts`` against a real Redis."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import redis
import yaml
from click.testing import CliRunner

from norq import Norq
from norq.cli import main
from norq.errors import MessageError
from norq.jobs.redis_ledger import RedisLedger
from norq.ledger import LedgerRow, ResendPolicy, RunInfo
from norq.receipt import DeliveryFailure, Receipt

SID = "AC" + "1" * 32
PASSWORD = "s3cret-redis-pw"


def config(tmp_path: Path, redis_url: str) -> Path:
    document = {
        "providers": {
            "twilio": {"config": {"account_sid": SID, "auth_token": "tok", "from": "+15005550006"}}
        },
        "routing": {"sms": "twilio"},
        "celery": {"broker_url": redis_url, "chunk_size": 2},
    }
    path = tmp_path / "norq.yaml"
    path.write_text(yaml.safe_dump(document), "utf-8")
    return path


class _Player:
    """The lease of a test playing a worker: always held, with no heartbeat thread left behind."""

    process = "test-player"

    def generation(self) -> int:
        return 0


def finish(redis_url: str, job_id: str, count: int, failing: int) -> None:
    """Play the workers: one receipt per row, the ``failing`` first ones failed."""
    client = redis.Redis.from_url(redis_url)
    ledger = RedisLedger(client, job_id, heartbeat=_Player())  # type: ignore[arg-type]
    fingerprint = client.hget(f"norq:job:{job_id}:run", "fingerprint").decode()  # type: ignore[union-attr]
    ledger.open_run(RunInfo("sms", fingerprint, dt.datetime.now(dt.UTC)))
    rows = [
        LedgerRow(index + 1, f"+1555000{index:04d}", {"name": f"n{index}"})
        for index in range(count)
    ]
    ledger.claim(rows, ResendPolicy())
    receipts = []
    for index, row in enumerate(rows):
        if index < failing:
            failure = DeliveryFailure("invalid_recipient", "not a mobile number", "21614")
            receipt = Receipt(
                False, "sms", "twilio", row.to, status_code=400, error=failure, index=index
            )
        else:
            receipt = Receipt(True, "sms", "twilio", row.to, message_id=f"SM{index}", index=index)
        receipts.append((row.row, receipt))
    ledger.record(receipts)
    client.close()


def test_send_queue_enqueues_the_csv_and_prints_the_job_id(tmp_path: Path, redis_url: str) -> None:
    path = config(tmp_path, redis_url)
    csv = tmp_path / "people.csv"
    csv.write_text("to,name\n+15550000001,Ada\n+15550000002,Bo\n+15550000003,Cy\n", "utf-8")
    result = CliRunner().invoke(
        main,
        ["send", "sms", "--csv", str(csv), "--body", "hi", "--queue", "--config", str(path)],
    )
    assert result.exit_code == 0, result.output
    job_id = result.stdout.strip()
    # The hint names the config, or `norq jobs watch` would look for another one.
    assert result.stderr == (
        f"queued; follow it with: norq jobs watch {job_id} --config {path}  "
        f"(receipts: norq jobs receipts {job_id} -o receipts.jsonl --config {path})\n"
    )
    client = redis.Redis.from_url(redis_url)
    try:
        # Three rows in chunks of two: two tasks on the queue.
        assert client.llen("norq") == 2
        assert client.hget(f"norq:job:{job_id}:meta", "total") == b"3"
    finally:
        client.close()


def test_jobs_watch_summarises_by_error_code_and_fails_when_some_failed(
    tmp_path: Path, redis_url: str
) -> None:
    path = config(tmp_path, redis_url)
    with Norq.from_yaml(path) as norq:
        job_id = norq.enqueue_many("sms", [f"+1555000{row:04d}" for row in range(5)], body="x")
    finish(redis_url, job_id, 5, failing=2)
    result = CliRunner().invoke(main, ["jobs", "watch", job_id, "--config", str(path)])
    assert result.exit_code == 1
    assert "5 of 5 done" in result.stdout
    assert "failed: invalid_recipient" in result.stdout


def test_jobs_watch_json_reports_the_final_status(tmp_path: Path, redis_url: str) -> None:
    path = config(tmp_path, redis_url)
    with Norq.from_yaml(path) as norq:
        job_id = norq.enqueue_many("sms", ["+15550000000", "+15550000001"], body="x")
    finish(redis_url, job_id, 2, failing=0)
    result = CliRunner().invoke(main, ["jobs", "watch", job_id, "--json", "--config", str(path)])
    assert result.exit_code == 0
    status = json.loads(result.stdout)
    assert (status["done"], status["ok"], status["finished"]) == (2, 2, True)


def test_jobs_receipts_writes_a_file_retry_failed_can_read(tmp_path: Path, redis_url: str) -> None:
    path = config(tmp_path, redis_url)
    with Norq.from_yaml(path) as norq:
        job_id = norq.enqueue_many("sms", [f"+1555000{row:04d}" for row in range(3)], body="x")
    finish(redis_url, job_id, 3, failing=1)
    out = tmp_path / "receipts.jsonl"
    umask = os.umask(0o022)
    try:
        result = CliRunner().invoke(
            main, ["jobs", "receipts", job_id, "-o", str(out), "--config", str(path)]
        )
    finally:
        os.umask(umask)
    assert result.exit_code == 0, result.output
    # It lists recipients and their data: for its owner's eyes only.
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    lines = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert [line["row"] for line in lines] == [1, 2, 3]
    assert lines[0]["ok"] is False
    assert lines[0]["data"] == {"name": "n0"}


def test_jobs_watch_says_why_a_job_does_not_move(tmp_path: Path, redis_url: str) -> None:
    path = config(tmp_path, redis_url)
    with Norq.from_yaml(path) as norq:
        job_id = norq.enqueue_many("sms", [f"+1555000{row:04d}" for row in range(4)], body="x")
    command = ["jobs", "watch", job_id, "--config", str(path), "--interval", "0.05"]
    result = CliRunner().invoke(main, [*command, "--stalled-after", "0", "--timeout", "0.5"])

    assert result.exit_code == 1
    assert f"norq: job {job_id} has not moved for" in result.stderr
    assert "at 0 of 4: no norq worker is running (start one: norq worker" in result.stderr
    assert "appendonly is off" not in result.stderr  # only reasons a job is stuck
    assert result.stderr.count("has not moved") == 1  # said once, not at every look


def test_jobs_watch_names_a_full_redis(tmp_path: Path, redis_url: str) -> None:
    path = config(tmp_path, redis_url)
    with Norq.from_yaml(path) as norq:
        job_id = norq.enqueue_many("sms", ["+15550000000"], body="x")
    admin = redis.Redis.from_url(redis_url)
    try:
        admin.config_set("maxmemory", admin.info("memory")["used_memory"])
        command = ["jobs", "watch", job_id, "--config", str(path), "--interval", "0.05"]
        result = CliRunner().invoke(main, [*command, "--stalled-after", "0", "--timeout", "0.3"])
    finally:
        admin.config_set("maxmemory", 0)
        admin.close()
    assert "Redis is full" in result.stderr
    assert "raise maxmemory or free memory" in result.stderr


def test_an_unknown_job_is_a_clear_error(tmp_path: Path, redis_url: str) -> None:
    result = CliRunner().invoke(
        main, ["jobs", "watch", "nope", "--config", str(config(tmp_path, redis_url))]
    )
    assert result.exit_code == 2
    assert "no job 'nope' in this Redis" in result.output


def test_enqueue_without_a_celery_section_says_what_to_add() -> None:
    norq = Norq.from_dict(
        {
            "providers": {
                "twilio": {
                    "config": {"account_sid": SID, "auth_token": "t", "from": "+15005550006"}
                }
            },
            "routing": {"sms": "twilio"},
        },
        environ={},
    )
    with pytest.raises(MessageError, match="celery: section"):
        norq.enqueue("sms", "+15550000000", body="x")


def test_a_redis_password_never_shows_in_the_config_repr_or_redaction() -> None:
    norq = Norq.from_dict(
        {
            "providers": {
                "twilio": {
                    "config": {"account_sid": SID, "auth_token": "t", "from": "+15005550006"}
                }
            },
            "celery": {"broker_url": f"redis://:{PASSWORD}@127.0.0.1:6379/0"},
        },
        environ={},
    )
    assert PASSWORD not in repr(norq.config.celery)
    assert PASSWORD not in norq.redactor.text(f"could not reach redis://:{PASSWORD}@host")


@pytest.mark.parametrize(
    "url",
    [
        f"redis://127.0.0.1:6379/0?password={PASSWORD}",
        f"redis://127.0.0.1:6379/0?db=1&password={PASSWORD}&socket_timeout=5",
        f"unix:///run/redis.sock?db=0&password={PASSWORD}",
    ],
)
def test_a_redis_password_given_in_the_query_string_is_redacted(url: str) -> None:
    norq = Norq.from_dict(
        {
            "providers": {
                "twilio": {
                    "config": {"account_sid": SID, "auth_token": "t", "from": "+15005550006"}
                }
            },
            "celery": {"broker_url": "redis://127.0.0.1:6379/0", "redis_url": url},
        },
        environ={},
    )
    assert PASSWORD not in repr(norq.config.celery)
    assert PASSWORD not in norq.redactor.text(f"could not reach {url}")


def test_importing_norq_and_starting_the_cli_load_neither_celery_nor_redis() -> None:
    code = (
        "import sys, norq; from norq.cli import main; "
        "print(sorted(m for m in ('celery', 'redis', 'kombu') if m in sys.modules))"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"
