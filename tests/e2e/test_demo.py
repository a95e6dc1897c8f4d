"""`make demo`'s program, run as a user would: no terminal, CI=true, and it exits cleanly."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from norq_sandbox.demo import demo_environment
from norq_sandbox.server import bind

pytestmark = pytest.mark.e2e


def run_demo(timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "norq_sandbox.demo"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "CI": "true", "PYTHONUNBUFFERED": "1"},
    )


def test_the_demo_sends_a_notification_and_stops_the_sandbox() -> None:
    result = run_demo()

    assert result.returncode == 0, result.stderr
    output = result.stdout
    assert '"ok": true' in output
    assert '"status": "delivered"' in output
    assert "Your Norq code is 428913." in output
    assert output.count('"ok": true') == 4
    for channel, provider in (
        ("sms", "twilio"),
        ("email", "smtp"),
        ("chat", "slack"),
        ("push", "fcm"),
    ):
        assert f'"channel": "{channel}",\n  "provider": "{provider}"' in output
    # Without a terminal the inbox cannot be opened before the sandbox stops: no URL for it.
    assert "Open http://" not in output
    assert "Sandbox stopped." not in output
    assert output.rstrip().endswith(
        "To browse the inbox, run `make demo` in a terminal, or `norq sandbox`."
    )


def test_the_demo_uses_a_free_port_when_8765_is_taken() -> None:
    try:
        taken = bind("127.0.0.1", 8765)
    except OSError:
        taken = None  # something else holds 8765 already: the situation under test
    try:
        result = run_demo()
    finally:
        if taken is not None:
            taken.close()

    assert result.returncode == 0, result.stderr
    assert "running at http://127.0.0.1:8765 " not in result.stdout
    assert '"status": "delivered"' in result.stdout


def test_the_demo_never_uses_real_twilio_credentials_from_the_environment() -> None:
    environ = {"TWILIO_ACCOUNT_SID": "AC" + "9" * 32, "TWILIO_FROM": "+15551234567", "HOME": "/x"}

    used = demo_environment("http://127.0.0.1:1", environ)

    assert used == {"HOME": "/x", "NORQ_TWILIO_BASE_URL": "http://127.0.0.1:1"}
