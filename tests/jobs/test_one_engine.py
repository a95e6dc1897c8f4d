"""One engine, three drivers: the same interruption and resumption through the library,
``norq send --journal`` and a Celery worker end with the same receipts.

The interruption is the hard kind, SIGKILL, while requests are in flight (every
answer takes half a second). Each run is then resumed the way its driver resumes:
the same call again, ``--resume``, another worker. Whatever the kill left
unconfirmed is settled by asking the sandbox, so every row ends delivered once,
and its final receipt names the same provider and the sandbox's own message id.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
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

ROWS = 24
KILL_AFTER = 8  # receipts written
TIMEOUT = 90
NORQ = [sys.executable, "-c", "from norq.cli import main; main()"]

LIBRARY_RUN = """
import json
from pathlib import Path

import norq

people = Path("people.txt").read_text().split()
with norq.Norq.from_yaml("norq.yaml") as app, norq.SqliteLedger("run.db") as ledger:
    with open("receipts.jsonl", "a", buffering=1) as out:
        for receipt in app.notify_many("sms", people, template="hello", ledger=ledger):
            out.write(json.dumps(receipt.to_dict()) + "\\n")
"""


def _people(prefix: str) -> list[str]:
    return [f"+1555{prefix}{n:04d}" for n in range(1, ROWS + 1)]


def _config(path: Path, sandbox: SandboxServer, redis_url: str | None = None) -> Path:
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
                "retry": {"max_retries": 0},
            }
        },
        "routing": {"sms": "twilio"},
        "templates": {"hello": {"sms": {"body": "Hello from Norq"}}},
    }
    if redis_url is not None:
        document["celery"] = {
            "broker_url": redis_url,
            "chunk_size": 6,
            "rows_in_flight": 4,
            "visibility_timeout": 6,
            "options": {
                "broker_transport_options": {
                    "unacked_restore_interval": 1,
                    "unacked_restore_throttle": 1,
                    "unacked_mutex_expire": 3,
                }
            },
        }
    path.write_text(yaml.safe_dump(document), "utf-8")
    return path


def _kill_when(process: subprocess.Popen[bytes], written: Path, count: int) -> None:
    deadline = time.monotonic() + TIMEOUT
    try:
        while not (written.exists() and len(written.read_text().splitlines()) >= count):
            assert process.poll() is None, "the run ended before it could be interrupted"
            assert time.monotonic() < deadline, "no receipts in time"
            time.sleep(0.02)
    finally:
        process.kill()
        process.wait(10)


def _final(lines: list[dict[str, Any]], row_of: Any) -> dict[int, dict[str, Any]]:
    final: dict[int, dict[str, Any]] = {}
    for line in lines:
        final[row_of(line)] = line
    return final


def _normalised(
    final: dict[int, dict[str, Any]], sandbox: SandboxServer, people: list[str]
) -> dict[int, tuple[Any, ...]]:
    """Each row's final receipt, with its recipient and message id as the sandbox knows them."""
    ours = [message for message in sandbox.messages() if message.draft.to in people]
    sids = {message.draft.to: message.sid for message in ours}
    copies = Counter(message.draft.to for message in ours)
    assert copies == Counter(people), "a recipient got the message twice, or not at all"
    return {
        row: (
            receipt["ok"],
            receipt["channel"],
            receipt["provider"],
            people.index(receipt["to"]) + 1,
            receipt["message_id"] == sids[receipt["to"]],
        )
        for row, receipt in final.items()
    }


@pytest.fixture
def slow_sandbox() -> Any:
    with SandboxServer(step_delay=0) as sandbox:
        sandbox.faults.set_rate(1.0, ["delay:0.5"])
        yield sandbox


def _library(workdir: Path, sandbox: SandboxServer) -> dict[int, tuple[Any, ...]]:
    people = _people("1")
    _config(workdir / "norq.yaml", sandbox)
    (workdir / "people.txt").write_text("\n".join(people))
    (workdir / "run.py").write_text(LIBRARY_RUN)
    receipts = workdir / "receipts.jsonl"
    command = [sys.executable, "run.py"]
    _kill_when(subprocess.Popen(command, cwd=workdir), receipts, KILL_AFTER)
    sandbox.faults.clear()
    subprocess.run(command, cwd=workdir, check=True, timeout=TIMEOUT)
    lines = [json.loads(line) for line in receipts.read_text().splitlines()]
    return _normalised(_final(lines, lambda line: line["index"] + 1), sandbox, people)


def _cli(workdir: Path, sandbox: SandboxServer) -> dict[int, tuple[Any, ...]]:
    people = _people("2")
    config = _config(workdir / "norq.yaml", sandbox)
    (workdir / "people.csv").write_text("to\n" + "\n".join(people) + "\n")
    command = [
        *NORQ, "send", "sms", "--template", "hello", "--csv", "people.csv",
        "--journal", "run.db", "--receipts", "receipts.jsonl", "--concurrency", "4",
        "--progress", "none", "--config", str(config),
    ]  # fmt: skip
    receipts = workdir / "receipts.jsonl"
    _kill_when(subprocess.Popen(command, cwd=workdir), receipts, KILL_AFTER)
    sandbox.faults.clear()
    resumed = subprocess.run([*command, "--resume"], cwd=workdir, timeout=TIMEOUT)
    assert resumed.returncode == 0
    lines = [json.loads(line) for line in receipts.read_text().splitlines()]
    return _normalised(_final(lines, lambda line: line["row"]), sandbox, people)


def _worker(workdir: Path, sandbox: SandboxServer) -> dict[int, tuple[Any, ...]]:
    people = _people("3")
    with RedisServer(workdir) as store:
        config = _config(workdir / "norq.yaml", sandbox, store.url)
        first = Worker(config, workdir / "first.log")
        second: Worker | None = None
        try:
            with Norq.from_yaml(config) as norq:
                job_id = norq.enqueue_many("sms", people, template="hello")
                _wait_for_job(norq, job_id, KILL_AFTER)
                first.kill()
                sandbox.faults.clear()
                second = Worker(config, workdir / "second.log")
                _wait_for_job(norq, job_id, ROWS)
                lines = [receipt.to_dict() for receipt in norq.job_receipts(job_id)]
        finally:
            first.kill()
            if second is not None:
                second.stop()
    return _normalised(_final(lines, lambda line: line["index"] + 1), sandbox, people)


def _wait_for_job(norq: Norq, job_id: str, done: int) -> None:
    deadline = time.monotonic() + TIMEOUT
    while norq.job(job_id).done < done:
        assert time.monotonic() < deadline, f"job {job_id} stalled"
        time.sleep(0.05)


def test_the_library_the_cli_and_a_worker_resume_a_killed_run_to_the_same_receipts(
    tmp_path: Path, slow_sandbox: SandboxServer
) -> None:
    results = {}
    for name, drive in (("library", _library), ("cli", _cli), ("worker", _worker)):
        workdir = tmp_path / name
        workdir.mkdir()
        slow_sandbox.faults.set_rate(1.0, ["delay:0.5"])
        results[name] = drive(workdir, slow_sandbox)

    expected = {row: (True, "sms", "twilio", row, True) for row in range(1, ROWS + 1)}
    assert results["library"] == expected
    assert results["cli"] == expected
    assert results["worker"] == expected
