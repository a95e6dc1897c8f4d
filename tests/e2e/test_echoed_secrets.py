"""A server that echoes the Authorization header back cannot make Norq print a secret.

Twilio is configured with an API key; the loopback server answers every send
with an error whose body repeats the request's ``Authorization`` header: in
Twilio's JSON ``message``, as raw text, and percent-encoded. Nothing secret
may reach a receipt, an exception, a log line, CLI output or a receipts file.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
import yaml
from click.testing import CliRunner

import norq
from norq.cli import main
from norq.plugins import get_plugin_manager

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
API_KEY_SID = "SK" + "fedcba9876543210" * 2
API_KEY_SECRET = "key-SECRET/with+odd=chars"
TOKEN = base64.b64encode(f"{API_KEY_SID}:{API_KEY_SECRET}".encode()).decode()
RECIPIENT = "+15558675310"


def leaked(text: str) -> list[str]:
    forms = {
        "secret": API_KEY_SECRET,
        "percent-encoded secret": quote(API_KEY_SECRET, safe=""),
        "form-encoded secret": quote_plus(API_KEY_SECRET),
        "basic token": TOKEN,
        "form-encoded basic token": quote_plus(TOKEN),
        "unpadded basic token": TOKEN.rstrip("="),
    }
    return [name for name, form in forms.items() if form in text]


class EchoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        authorization = self.headers.get("Authorization", "")
        if self.path.startswith("/text/"):
            body = f"bad request; you sent Authorization: {authorization}".encode()
            content_type = "text/plain"
        elif self.path.startswith("/form/"):
            body = ("echo=" + quote_plus(authorization)).encode()
            content_type = "application/x-www-form-urlencoded"
        else:
            message = f"Authenticate failed for {authorization}"
            body = json.dumps({"code": 20003, "message": message, "status": 401}).encode()
            content_type = "application/json"
        self.send_response(401)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Echo-Authorization", authorization)
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def echo_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def config(base_url: str, variant: str) -> dict[str, Any]:
    # The variant goes into the account path, so each echo shape has its own URL.
    return {
        "providers": {
            "twilio": {
                "config": {
                    "account_sid": ACCOUNT_SID,
                    "api_key_sid": API_KEY_SID,
                    "api_key_secret": API_KEY_SECRET,
                    "from": "+15005550006",
                    "base_url": f"{base_url}/{variant}" if variant != "json" else base_url,
                }
            }
        },
        "routing": {"sms": "twilio"},
    }


def build(
    base_url: str, variant: str, transport: str = "auto", *, failover: bool = False
) -> norq.Norq:
    document = {**config(base_url, variant), "executor": {"async_transport": transport}}
    if failover:
        # A second account behind the first: failing over logs the first one's error.
        second = {"type": "twilio", "config": document["providers"]["twilio"]["config"]}
        document["providers"] = {**document["providers"], "twilio_backup": second}
        document["routing"] = {"sms": ["twilio", "twilio_backup"]}
    return norq.Norq.from_dict(
        document, environ={}, plugin_manager=get_plugin_manager(load_entry_points=False)
    )


VARIANTS = ["json", "text", "form"]


@pytest.mark.e2e
@pytest.mark.parametrize("variant", VARIANTS)
def test_library_receipts_errors_and_logs_hide_an_echoed_authorization(
    echo_url: str, variant: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Norq's own log; httpcore's DEBUG trace prints raw headers and is not Norq's to filter.
    caplog.set_level(logging.DEBUG, logger="norq")
    with (
        build(echo_url, variant, failover=True) as app,
        pytest.raises(norq.DeliveryError) as caught,
    ):
        app.notify("sms", RECIPIENT, body="hi")
    receipt = caught.value.receipt
    assert receipt.error is not None
    assert receipt.error.code == "invalid_credentials"
    assert "***" in receipt.error.message  # the echo arrived, masked
    assert any("failing over" in r.getMessage() for r in caplog.records)
    for text in (
        str(caught.value),
        repr(caught.value),
        repr(receipt),
        json.dumps(receipt.to_dict()),
        "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("norq")),
    ):
        assert leaked(text) == []


@pytest.mark.e2e
@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
def test_async_bulk_receipts_hide_an_echoed_authorization(echo_url: str, transport: str) -> None:
    async def send_all() -> list[norq.Receipt]:
        async with build(echo_url, "text", transport) as app:
            return [r async for r in app.anotify_many("sms", [RECIPIENT] * 3, body="hi")]

    receipts = asyncio.run(send_all())
    assert [r.ok for r in receipts] == [False] * 3
    assert leaked(json.dumps([r.to_dict() for r in receipts])) == []


@pytest.mark.e2e
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("mode", ["single", "json", "bulk"])
def test_cli_output_and_receipts_file_hide_an_echoed_authorization(
    echo_url: str,
    variant: str,
    mode: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(logging.getLogger("norq"), "handlers", [])
    config_file = tmp_path / "norq.yaml"
    config_file.write_text(yaml.safe_dump(config(echo_url, variant)))
    receipts = tmp_path / "receipts.jsonl"
    args = ["--debug", "send", "sms", "--config", str(config_file), "--receipts", str(receipts)]
    if mode == "bulk":
        rows = tmp_path / "rows.csv"
        rows.write_text(f"to\n{RECIPIENT}\n+15558675311\n")
        args += ["--csv", str(rows), "--body", "hi", "--progress", "lines"]
    else:
        args += ["--to", RECIPIENT, "--body", "hi"] + (["--json"] if mode == "json" else [])
    result = CliRunner().invoke(main, args, prog_name="norq")
    assert result.exit_code == 1, result.output
    written = receipts.read_text("utf-8")
    assert "invalid_credentials" in written
    assert leaked(result.stdout) == []
    assert leaked(result.stderr) == []
    assert leaked(written) == []
