"""Ctrl-C and SIGTERM in the middle of a bulk send, then ``--resume``: every row is
delivered exactly once, as the sandbox's own record of messages shows."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

pytest.importorskip("uvicorn")

from norq_sandbox import SandboxServer

from norq.ledger import EntryState
from norq.sqlite_ledger import SqliteLedger
from tests.cli.conftest import sandbox_config

pytestmark = pytest.mark.e2e

NORQ = Path(sys.executable).parent / "norq"
ROWS = 40
TIMEOUT = 60


@pytest.fixture
def workdir(sandbox: SandboxServer, tmp_path: Path) -> Path:
    (tmp_path / "norq.yaml").write_text(sandbox_config(sandbox.url))
    rows = "".join(f"+1555123{n:04d},P{n}\n" for n in range(1, ROWS + 1))
    (tmp_path / "people.csv").write_text("to,name\n" + rows)
    return tmp_path


def _command(*extra: str, journal: bool = True) -> list[str]:
    return [
        str(NORQ), "send", "sms", "--template", "hello", "--csv", "people.csv",
        "--receipts", "receipts.jsonl", "--concurrency", "4", "--progress", "none",
        "--config", "norq.yaml", *(["--journal", "run.db"] if journal else []), *extra,
    ]  # fmt: skip


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("NORQ_")}


def _interrupt_after(
    workdir: Path, number: signal.Signals, receipts: int, *extra: str, journal: bool = True
) -> subprocess.CompletedProcess[str]:
    """Start a bulk send, send it ``number`` once ``receipts`` receipts are written."""
    process = subprocess.Popen(
        _command(*extra, journal=journal),
        cwd=workdir,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    written = workdir / "receipts.jsonl"
    deadline = time.monotonic() + TIMEOUT
    try:
        while not (written.exists() and len(written.read_text().splitlines()) >= receipts):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no receipts in time"
            time.sleep(0.02)
        process.send_signal(number)
        out, err = process.communicate(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def _resume(workdir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _command("--resume", "--json"),
        cwd=workdir,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def _assert_each_row_delivered_once(workdir: Path, sandbox: SandboxServer) -> None:
    expected = Counter(f"+1555123{n:04d}" for n in range(1, ROWS + 1))
    assert Counter(message.draft.to for message in sandbox.messages()) == expected
    with SqliteLedger(workdir / "run.db") as journal:
        assert journal.counts()[EntryState.ACCEPTED] == ROWS
    final: dict[int, bool] = {}
    for line in (workdir / "receipts.jsonl").read_text().splitlines():
        receipt = json.loads(line)
        final[receipt["row"]] = receipt["ok"]
    assert final == dict.fromkeys(range(1, ROWS + 1), True)


def test_ctrl_c_lets_requests_in_flight_finish_and_resume_sends_the_rest_once(
    workdir: Path, sandbox: SandboxServer
) -> None:
    sandbox.faults.set_rate(1.0, ["delay:0.2"])  # slow answers: a Ctrl-C lands mid-run

    stopped = _interrupt_after(workdir, signal.SIGINT, 6)

    assert stopped.returncode == 130, stopped.stderr
    assert "stopped by SIGINT after reading" in stopped.stderr
    assert "every request in flight finished" in stopped.stderr
    assert "resume with the same command and --resume (journal run.db)" in stopped.stderr
    assert "Traceback" not in stopped.stderr
    written = (workdir / "receipts.jsonl").read_text().splitlines()
    assert len(written) == len(sandbox.messages()) < ROWS  # flushed: none lost
    assert all(json.loads(line)["ok"] for line in written)

    sandbox.faults.clear()
    resumed = _resume(workdir)

    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["skipped_accepted"] + summary["delivered"] == ROWS
    assert summary["may_duplicate"] == 0
    _assert_each_row_delivered_once(workdir, sandbox)


def test_sigterm_records_unfinished_requests_as_unconfirmed_and_resume_checks_them(
    workdir: Path, sandbox: SandboxServer
) -> None:
    sandbox.faults.set_rate(1.0, ["delay:0.3"])

    # No grace: the four requests in flight are abandoned, though the sandbox
    # goes on to accept them.
    stopped = _interrupt_after(workdir, signal.SIGTERM, 4, "--grace", "0")

    assert stopped.returncode == 143, stopped.stderr
    assert "stopped by SIGTERM" in stopped.stderr
    assert "were recorded as unconfirmed (interrupted)" in stopped.stderr
    assert "failed: interrupted" in stopped.stdout
    codes = Counter(
        (json.loads(line).get("error") or {}).get("code")
        for line in (workdir / "receipts.jsonl").read_text().splitlines()
    )
    assert codes["interrupted"] >= 1
    with SqliteLedger(workdir / "run.db") as journal:
        assert journal.counts()[EntryState.UNCONFIRMED] == codes["interrupted"]

    time.sleep(0.5)  # the abandoned requests reach the sandbox after their delay
    sandbox.faults.clear()
    resumed = _resume(workdir)

    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["found_at_provider"] == codes["interrupted"]
    assert summary["may_duplicate"] == 0
    _assert_each_row_delivered_once(workdir, sandbox)


def test_without_a_journal_a_stop_still_keeps_every_receipt_and_says_what_is_lost(
    workdir: Path, sandbox: SandboxServer
) -> None:
    sandbox.faults.set_rate(1.0, ["delay:0.2"])

    stopped = _interrupt_after(workdir, signal.SIGTERM, 6, journal=False)

    assert stopped.returncode == 143, stopped.stderr
    assert "rows not yet read were not sent; pass --journal FILE" in stopped.stderr
    written = (workdir / "receipts.jsonl").read_text().splitlines()
    assert len(written) == len(sandbox.messages()) < ROWS
