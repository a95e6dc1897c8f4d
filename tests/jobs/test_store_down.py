"""With a ``celery:`` section and its Redis down: no foreign exception leaves Norq, every
error names the store, and a plain ``notify()`` still sends (or refuses, if configured)."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from norq import Norq, NorqError
from norq.cli import main
from norq.errors import StoreUnavailable
from norq.testing import MockTransport, json_response

from .redis_server import free_port

SID = "AC" + "1" * 32
PASSWORD = "s3cret-redis-pw"


def _document(port: int, **celery: Any) -> dict[str, Any]:
    return {
        "providers": {
            "twilio": {"config": {"account_sid": SID, "auth_token": "tok", "from": "+15005550006"}}
        },
        "routing": {"sms": "twilio"},
        "celery": {"broker_url": f"redis://:{PASSWORD}@127.0.0.1:{port}/0", **celery},
    }


def _accepting() -> MockTransport:
    answer = json_response(201, {"sid": "SM" + "1" * 32, "status": "queued"})
    return MockTransport(handler=lambda request: answer)


@pytest.fixture
def nothing_listening() -> int:
    return free_port()


def test_notify_goes_on_with_limits_per_process_and_says_so(
    nothing_listening: int, caplog: pytest.LogCaptureFixture
) -> None:
    mock = _accepting()
    app = Norq.from_dict(_document(nothing_listening), environ={}, transports={"http": mock})
    with caplog.at_level(logging.WARNING, logger="norq"), app:
        receipts = [app.notify("sms", "+15550000001", body="hi") for _ in range(3)]

    assert all(receipt.ok for receipt in receipts)
    assert len(mock.requests) == 3
    warnings = [
        r.getMessage() for r in caplog.records if "rate limits are kept per" in r.getMessage()
    ]
    assert len(warnings) == 1  # once per outage, not once per send
    assert f"the Redis store at redis://127.0.0.1:{nothing_listening}/0" in warnings[0]
    assert PASSWORD not in caplog.text


def test_notify_refuses_when_limits_must_be_shared(nothing_listening: int) -> None:
    mock = _accepting()
    document = _document(nothing_listening, limits_without_store="fail")
    app = Norq.from_dict(document, environ={}, transports={"http": mock})
    where = r"Redis store at redis://127\.0\.0\.1"
    with app, pytest.raises(StoreUnavailable, match=where) as raised:
        app.notify("sms", "+15550000001", body="hi")

    assert isinstance(raised.value, NorqError)
    assert "limits_without_store: fail" in str(raised.value)
    assert PASSWORD not in str(raised.value)
    assert mock.requests == []


async def test_anotify_refuses_the_same_way(nothing_listening: int) -> None:
    document = _document(nothing_listening, limits_without_store="fail")
    async with Norq.from_dict(document, environ={}, transports={"http": _accepting()}) as app:
        with pytest.raises(StoreUnavailable):
            await app.anotify("sms", "+15550000001", body="hi")


def test_enqueue_and_job_raise_norq_errors_naming_the_store(nothing_listening: int) -> None:
    with Norq.from_dict(_document(nothing_listening), environ={}) as app:
        with pytest.raises(StoreUnavailable, match=f"127.0.0.1:{nothing_listening}") as raised:
            app.enqueue_many("sms", ["+15550000001"], body="hi")
        assert PASSWORD not in str(raised.value)
        with pytest.raises(StoreUnavailable):
            app.job("0" * 32)


def test_send_queue_says_which_redis_is_down_in_one_line(
    nothing_listening: int, tmp_path: Path
) -> None:
    config = tmp_path / "norq.yaml"
    config.write_text(yaml.safe_dump(_document(nothing_listening)), "utf-8")
    people = tmp_path / "people.csv"
    people.write_text("to\n+15550000001\n", "utf-8")

    result = CliRunner().invoke(
        main,
        ["send", "sms", "--csv", str(people), "--body", "x", "--queue", "--config", str(config)],
    )

    assert result.exit_code == 1
    assert result.stderr.startswith("Error: the Redis store at redis://127.0.0.1:")
    assert "unexpected" not in result.stderr
    assert PASSWORD not in result.output
    assert len(result.stderr.splitlines()) == 1


def test_norq_worker_waits_for_redis_and_stops_at_once_on_sigterm(
    nothing_listening: int, tmp_path: Path
) -> None:
    config = tmp_path / "norq.yaml"
    config.write_text(yaml.safe_dump(_document(nothing_listening)), "utf-8")
    command = [sys.executable, "-c", "from norq.cli import main; main()", "worker"]
    process = subprocess.Popen(
        [*command, "--config", str(config)], stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        assert line.startswith("norq: waiting for Redis: the Redis store at redis://127.0.0.1:")
        assert PASSWORD not in line
        process.send_signal(signal.SIGTERM)
        # 143 is the exit of norq worker's own wait for Redis, stopped by the signal
        # (Celery's connection retries, which held SIGTERM for seconds, never started).
        assert process.wait(10) == 128 + signal.SIGTERM
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
