"""``norq request``, run as a user runs it, against a sandbox on loopback."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytest.importorskip("uvicorn")

from norq_sandbox import DEFAULT_ACCOUNT_SID, DEFAULT_API_KEY_SID, SandboxServer

pytestmark = pytest.mark.e2e

NORQ = Path(sys.executable).parent / "norq"
SECRET = "cli-raw-K3y/Secret+odd"
SERVICE = "MG" + "d" * 32
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
      messaging_service_sid: {SERVICE}
      base_url: {sandbox.url}
    retry: {{max_retries: 0}}
  console: {{}}
routing:
  sms: twilio
"""
    )
    return path


def norq(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(NORQ), "request", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={"PATH": str(NORQ.parent), "NO_COLOR": "1"},
    )


def test_a_get_prints_the_json_answer(config: Path, sandbox: SandboxServer) -> None:
    auth = (DEFAULT_API_KEY_SID, SECRET)
    httpx.post(
        f"{sandbox.url}/2010-04-01/Accounts/{DEFAULT_ACCOUNT_SID}/Messages.json",
        auth=auth,
        data={"To": "+15558675310", "MessagingServiceSid": SERVICE, "Body": "hi"},
    )

    result = norq(
        config,
        "twilio",
        "GET",
        "/2010-04-01/Accounts/{AccountSid}/Messages.json",
        "-d",
        "PageSize=5",
    )

    assert result.returncode == 0, result.stderr
    page = json.loads(result.stdout)
    assert page["page_size"] == 5
    assert [m["body"] for m in page["messages"]] == ["hi"]
    assert result.stderr.startswith("GET http://127.0.0.1:")
    assert result.stderr.rstrip().endswith("-> 200")
    (record,) = sandbox.requests("GET")
    assert record.username == DEFAULT_API_KEY_SID


def test_a_post_cancels_a_scheduled_message(config: Path, sandbox: SandboxServer) -> None:
    send_at = (sandbox.clock.now() + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    created = httpx.post(
        f"{sandbox.url}/2010-04-01/Accounts/{DEFAULT_ACCOUNT_SID}/Messages.json",
        auth=(DEFAULT_API_KEY_SID, SECRET),
        data={
            "To": "+15558675310",
            "MessagingServiceSid": SERVICE,
            "Body": "later",
            "ScheduleType": "fixed",
            "SendAt": send_at,
        },
    ).json()

    path = f"/2010-04-01/Accounts/{{AccountSid}}/Messages/{created['sid']}.json"
    result = norq(config, "twilio", "POST", path, "-d", "Status=canceled")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "canceled"
    assert sandbox.message(created["sid"]).status == "canceled"  # type: ignore[union-attr]


def test_an_error_answer_is_printed_and_exits_1(config: Path) -> None:
    path = f"/2010-04-01/Accounts/{{AccountSid}}/Messages/SM{'0' * 32}.json"

    result = norq(config, "twilio", "GET", path)

    assert result.returncode == 1
    assert json.loads(result.stdout)["code"] == 20404
    assert "-> 404" in result.stderr
    assert "norq: twilio: not_found" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["twilio", "GET", "/x.json?a=1"], "no query"),
        (["twilio", "GET", "/x.json", "-d", "novalue"], "expected KEY=VALUE"),
        (["nobody", "GET", "/x.json"], "unknown provider 'nobody'"),
        (["console", "GET", "/x.json"], "declares no API base URL"),
    ],
)
def test_malformed_requests_exit_2_and_send_nothing(
    config: Path, sandbox: SandboxServer, args: list[str], message: str
) -> None:
    result = norq(config, *args)

    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert sandbox.requests() == []


def test_the_secret_never_reaches_the_output(config: Path, sandbox: SandboxServer) -> None:
    # The answer echoes the parameter back: the redactor must still hide the secret.
    result = norq(config, "twilio", "GET", "/2010-04-01/Accounts/{AccountSid}/Messages.json",
                  "-d", f"To={SECRET}")  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert "To=***" in result.stdout
    assert "To=***" in result.stderr
