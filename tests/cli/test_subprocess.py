"""The installed ``norq`` script, run as a user runs it, against a sandbox on loopback.

The sandbox runs in a thread of the test process; each command is a real
subprocess with a timeout, so these tests see exit statuses, stdout and stderr
exactly as a shell does, and count at the server what was actually sent.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from base64 import b64encode
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

pytest.importorskip("uvicorn")

from norq_sandbox import DEFAULT_ACCOUNT_SID, DEFAULT_API_KEY_SID, SandboxServer

pytestmark = pytest.mark.e2e

NORQ = Path(sys.executable).parent / "norq"
SECRET = "e2e-K3y/Secret+with&odd=chars"
FROM = "+15005550006"
INVALID_TO = "+15005550001"  # the sandbox answers 21211, as Twilio's magic number does
GOOD = ["+15551230001", "+15551230002", "+15551230003", "+15551230004"]
TIMEOUT = 60


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(step_delay=0.01, api_key_secret=SECRET) as server:
        yield server


@pytest.fixture
def config(sandbox: SandboxServer, tmp_path: Path) -> Path:
    path = tmp_path / "norq.yaml"
    path.write_text(
        f"""\
providers:
  twilio:
    config:
      account_sid: {DEFAULT_ACCOUNT_SID}
      api_key_sid: {DEFAULT_API_KEY_SID}
      api_key_secret: "{SECRET}"
      from: "{FROM}"
      base_url: {sandbox.url}
    retry: {{max_retries: 0}}
routing:
  sms: twilio
templates:
  outage:
    sms: {{body: "{{{{ service }}}} is down; {{{{ name }}}}, you are on call"}}
"""
    )
    return path


Norq = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def norq(tmp_path: Path) -> Norq:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NORQ_")}

    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(NORQ), *map(str, args)],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            cwd=tmp_path,
            env=env,
        )

    return run


def test_the_script_is_installed() -> None:
    assert NORQ.is_file(), f"{NORQ} missing: install the package (make test does)"


def test_send_then_status(norq: Norq, config: Path, sandbox: SandboxServer) -> None:
    sent = norq(
        "send", "sms", "--to", GOOD[0], "--body", "Deploy done", "--json", "--config", config
    )
    assert sent.returncode == 0, sent.stderr
    receipt = json.loads(sent.stdout)
    sid = receipt["message_id"]
    assert receipt["ok"] is True
    assert [m.sid for m in sandbox.messages()] == [sid]
    sandbox.wait_for_status(sid, "delivered")

    status = norq("status", sid, "--config", config)
    assert status.returncode == 0, status.stderr
    assert status.stdout.splitlines()[0] == f"{sid}: delivered"
    assert f"  to: {GOOD[0]}" in status.stdout

    listed = norq("messages", "list", "--to", GOOD[0], "--json", "--config", config)
    assert listed.returncode == 0, listed.stderr
    assert [json.loads(line)["message_id"] for line in listed.stdout.splitlines()] == [sid]


def test_status_of_an_unknown_sid_exits_1(norq: Norq, config: Path) -> None:
    result = norq("status", "SM" + "0" * 32, "--config", config)
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("Error: fetching SM")


def test_bulk_with_failing_rows_then_retry_resends_only_the_failed_rows(
    norq: Norq, config: Path, sandbox: SandboxServer, tmp_path: Path
) -> None:
    people = tmp_path / "oncall.csv"
    rows = [
        (GOOD[0], "Ann"),
        (INVALID_TO, "Rex"),
        (GOOD[1], "Bob"),
        ("12", "Typo"),
        (GOOD[2], "Cy"),
    ]
    people.write_text("to,name\n" + "".join(f"{to},{name}\n" for to, name in rows))
    bulk = ["send", "sms", "--template", "outage", "--data", "service=API", "--config", config]
    # One server error, so one good row fails the first time and not the second.
    sandbox.faults.add("503", count=1)
    first = norq(*bulk, "--csv", people, "--concurrency", "2", "--receipts", tmp_path / "r1.jsonl")
    assert first.returncode == 1, first.stderr
    assert "Traceback" not in first.stderr
    r1 = [json.loads(line) for line in (tmp_path / "r1.jsonl").read_text().splitlines()]
    assert sorted(line["row"] for line in r1) == [1, 2, 3, 4, 5]
    failed = {line["row"] for line in r1 if not line["ok"]}
    assert len(failed) == 3
    assert {2, 4} < failed
    assert "failed: invalid_recipient" in first.stdout
    assert "failed: provider_unavailable" in first.stdout
    sends_before = len(sandbox.sends())
    assert sends_before == 4  # the malformed number never left

    second = norq(
        *bulk, "--retry-failed", tmp_path / "r1.jsonl", "--receipts", tmp_path / "r2.jsonl"
    )
    assert second.returncode == 0, second.stderr
    r2 = [json.loads(line) for line in (tmp_path / "r2.jsonl").read_text().splitlines()]
    # Rows 2 and 4 failed for good (a number the provider refused, a malformed one):
    # only the row the server error failed is sent again.
    assert {line["row"] for line in r2} == failed - {2, 4}
    assert all(line["ok"] for line in r2)
    assert "2 rows failed for good earlier" in second.stderr
    assert "add --retry-final to send them anyway" in second.stderr
    assert "skipped: failed for good  2" in second.stdout
    assert len(sandbox.sends()) == sends_before + 1
    delivered_to = sorted(m.draft.to for m in sandbox.messages())
    assert delivered_to == sorted(GOOD[:3])
    bodies = {m.draft.to: m.draft.body for m in sandbox.messages()}
    assert bodies[GOOD[1]] == "API is down; Bob, you are on call"


def test_dry_run_sends_nothing_and_shows_no_secret(
    norq: Norq, config: Path, sandbox: SandboxServer
) -> None:
    for fmt in ("http", "curl"):
        result = norq(
            "send", "sms", "--to", GOOD[0], "--body", f"x {SECRET}", "--dry-run",
            "--format", fmt, "--config", config,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        output = result.stdout + result.stderr
        token = b64encode(f"{DEFAULT_API_KEY_SID}:{SECRET}".encode()).decode()
        for leaked in (SECRET, quote(SECRET, safe=""), quote_plus(SECRET), token):
            assert leaked not in output
        assert "/Messages.json" in result.stdout
        assert "# segments: 1" in result.stdout
    assert sandbox.requests() == []


def test_usage_error_is_one_line_and_exit_2(norq: Norq, config: Path) -> None:
    result = norq("send", "fax", "--to", GOOD[0], "--body", "hi", "--config", config)
    assert result.returncode == 2
    assert result.stderr.startswith("Error: channel 'fax' is not routed")
    assert len(result.stderr.splitlines()) == 1


def test_version(norq: Norq) -> None:
    from norq import __version__

    result = norq("--version")
    assert (result.returncode, result.stdout) == (0, f"norq, version {__version__}\n")
