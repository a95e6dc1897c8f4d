"""``norq sandbox`` logs one line per request, for every API and SMTP, and none with --quiet."""

from __future__ import annotations

import signal
import smtplib
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from norq_sandbox.settings import (
    DEFAULT_ACCOUNT_SID,
    DEFAULT_API_KEY_SECRET,
    DEFAULT_API_KEY_SID,
    DEFAULT_SENDGRID_API_KEY,
    DEFAULT_SLACK_TOKEN,
    DEFAULT_VONAGE_API_KEY,
    DEFAULT_VONAGE_API_SECRET,
)

NORQ = str(Path(sys.executable).with_name("norq"))
TIMEOUT = 30


def logged(*options: str) -> list[str]:
    """Start ``norq sandbox`` on free ports, send it some traffic, stop it: its stderr lines."""
    process = subprocess.Popen(
        [NORQ, "sandbox", "--port", "0", "--smtp-port", "0", "--callback-delay", "0", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = [process.stdout.readline()]
        while "SMTP:" not in banner[-1]:
            banner.append(process.stdout.readline())
        url = banner[0].split()[-1]
        smtp_port = int(banner[-1].rsplit(":", 1)[1])
        traffic(url, smtp_port)
        time.sleep(0.2)  # the last line is written once the answer has gone out
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=TIMEOUT)
    return stderr.splitlines()


def traffic(url: str, smtp_port: int) -> None:
    """One request to each emulated API, and one mail."""
    twilio = f"{url}/2010-04-01/Accounts/{DEFAULT_ACCOUNT_SID}/Messages.json"
    httpx.post(
        twilio,
        data={"To": "+15558675310", "From": "+15005550006", "Body": "hi"},
        auth=(DEFAULT_API_KEY_SID, DEFAULT_API_KEY_SECRET),
    ).raise_for_status()
    httpx.post(
        f"{url}/v3/mail/send",
        headers={"Authorization": f"Bearer {DEFAULT_SENDGRID_API_KEY}"},
        json={
            "personalizations": [{"to": [{"email": "ada@example.com"}]}],
            "from": {"email": "a@example.com"},
            "subject": "s",
            "content": [{"type": "text/plain", "value": "v"}],
        },
    ).raise_for_status()
    httpx.post(
        f"{url}/sms/json",
        data={
            "api_key": DEFAULT_VONAGE_API_KEY,
            "api_secret": DEFAULT_VONAGE_API_SECRET,
            "from": "Norq",
            "to": "447700900000",
            "text": "hi",
        },
    ).raise_for_status()
    httpx.post(
        f"{url}/api/chat.postMessage",
        headers={"Authorization": f"Bearer {DEFAULT_SLACK_TOKEN}"},
        json={"channel": "#a", "text": "hi"},
    ).raise_for_status()
    httpx.post(f"{url}/services/T0A/B0B/webhook-secret", json={"text": "hi"}).raise_for_status()
    # The push APIs, each refusing what carries no credential.
    assertion = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": "x.y.z"}
    assert httpx.post(f"{url}/token", data=assertion).status_code == 400
    assert httpx.post(f"{url}/3/device/{'ab' * 32}", json={"aps": {}}).status_code == 403
    assert httpx.post(f"{url}/wpush/nobody", content=b"").status_code == 404
    with smtplib.SMTP("127.0.0.1", smtp_port) as smtp:
        smtp.sendmail("a@example.com", ["ada@example.com"], b"Subject: s\r\n\r\nbody")


@pytest.mark.e2e
def test_each_request_of_every_api_is_logged_once() -> None:
    lines = logged()

    apis = [line.split()[1] for line in lines]
    expected = ["apns", "fcm", "sendgrid", "slack", "slack", "smtp", "twilio", "vonage", "webpush"]
    assert sorted(apis) == expected, lines
    assert len(set(lines)) == len(lines)
    assert any("twilio POST /2010-04-01/" in line and "-> 201 SM" in line for line in lines)
    assert any("smtp DATA to ada@example.com -> 250" in line for line in lines)
    # An incoming webhook's URL is its secret.
    assert not any("webhook-secret" in line for line in lines)
    assert not any("x.y.z" in line for line in lines)  # nor is an assertion


@pytest.mark.e2e
def test_quiet_logs_nothing() -> None:
    assert logged("--quiet") == []
