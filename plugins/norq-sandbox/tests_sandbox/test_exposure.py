"""The sandbox stays on the machine: unknown Hosts, cross-site changes and huge bodies are refused.

It has no authentication, so these are what stop a web page in the developer's
browser from reading it through DNS rebinding or resetting it with a form.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from norq_sandbox import SandboxServer
from norq_sandbox.guard import host_name, is_loopback
from norq_sandbox.settings import DEFAULT_SLACK_TOKEN

from tests_sandbox.conftest import MESSAGES_PATH, send

SLACK = "/api/chat.postMessage"
NORQ = str(Path(sys.executable).with_name("norq"))


def test_a_request_for_a_host_it_does_not_know_is_refused(sandbox: SandboxServer) -> None:
    # What a DNS-rebinding page sends: its own name, resolved to 127.0.0.1.
    for path in ("/", "/_sandbox/messages", MESSAGES_PATH):
        response = httpx.get(sandbox.url + path, headers={"Host": f"evil.example:{sandbox.port}"})
        assert response.status_code == 400
        assert "DNS rebinding" in response.text


@pytest.mark.parametrize(
    "host", ["localhost", "127.0.0.1", "[::1]", "app.localhost", "LOCALHOST", "10.1.2.3"]
)
def test_localhost_and_ip_addresses_are_answered(sandbox: SandboxServer, host: str) -> None:
    response = httpx.get(sandbox.url + "/_sandbox/info", headers={"Host": f"{host}:1234"})
    assert response.status_code == 200


def test_a_host_named_with_allowed_hosts_is_answered() -> None:
    with SandboxServer(step_delay=0.01, allowed_hosts=("sandbox",)) as server:
        url = server.url + "/_sandbox/info"
        assert httpx.get(url, headers={"Host": "sandbox:8765"}).status_code == 200
        assert httpx.get(url, headers={"Host": "other:8765"}).status_code == 400


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": "http://localhost:3000"},
    ],
)
def test_a_cross_origin_reset_is_refused(
    api: httpx.Client, sandbox: SandboxServer, headers: dict[str, str]
) -> None:
    send(api)

    response = httpx.post(sandbox.url + "/_sandbox/reset", headers=headers)

    assert response.status_code == 403
    assert len(sandbox.messages()) == 1


def test_cross_origin_faults_clock_and_sends_are_refused(sandbox: SandboxServer) -> None:
    evil = {"Origin": "http://evil.example"}
    for path, body in (
        ("/_sandbox/faults", {"fault": "503"}),
        ("/_sandbox/clock", {"advance": 60}),
        (SLACK, {"channel": "#a", "text": "x"}),
    ):
        headers = {**evil, "Authorization": f"Bearer {DEFAULT_SLACK_TOKEN}"}
        assert httpx.post(sandbox.url + path, json=body, headers=headers).status_code == 403
    assert sandbox.faults.snapshot()["queued"] == []
    assert sandbox.clock.offset.total_seconds() == 0
    assert sandbox.outbox() == []


def test_the_inbox_itself_and_clients_without_an_origin_may_change_things(
    api: httpx.Client, sandbox: SandboxServer
) -> None:
    send(api)
    own = {"Origin": sandbox.url, "Sec-Fetch-Site": "same-origin"}

    assert httpx.post(sandbox.url + "/_sandbox/reset", headers=own).status_code == 204
    send(api)
    assert httpx.post(sandbox.url + "/_sandbox/reset").status_code == 204  # curl, a test
    assert sandbox.messages() == []


def test_a_cross_origin_read_is_left_to_the_browser(sandbox: SandboxServer) -> None:
    # Reading needs the page to be same-origin, which the Host check prevents.
    response = httpx.get(sandbox.url + "/_sandbox/info", headers={"Origin": "http://x.example"})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


@pytest.fixture
def small() -> Iterator[SandboxServer]:
    with SandboxServer(step_delay=0.01, max_body_bytes=1000) as server:
        yield server


def chunks(size: int) -> Iterator[bytes]:
    """A body streamed without Content-Length, as a chunked upload."""
    yield b'{"channel": "#a", "text": "'
    for _ in range(size // 100):
        yield b"x" * 100
    yield b'"}'


def test_a_body_over_the_cap_is_413_before_it_is_read(small: SandboxServer) -> None:
    headers = {"Authorization": f"Bearer {DEFAULT_SLACK_TOKEN}"}
    response = httpx.post(
        small.url + SLACK, json={"channel": "#a", "text": "x" * 2000}, headers=headers
    )
    assert response.status_code == 413
    assert small.requests_to("slack") == []
    assert small.outbox() == []


@pytest.mark.parametrize("path", [SLACK, "/_sandbox/faults"])
def test_a_streamed_body_is_cut_off_at_the_cap(small: SandboxServer, path: str) -> None:
    headers = {"Authorization": f"Bearer {DEFAULT_SLACK_TOKEN}", "Content-Type": "application/json"}
    response = httpx.post(small.url + path, content=chunks(5000), headers=headers)

    assert response.status_code == 413
    assert small.outbox() == []
    assert small.faults.snapshot()["queued"] == []


def test_a_body_under_the_cap_is_served(small: SandboxServer) -> None:
    headers = {"Authorization": f"Bearer {DEFAULT_SLACK_TOKEN}", "Content-Type": "application/json"}
    response = httpx.post(small.url + SLACK, content=chunks(500), headers=headers)
    assert response.json()["ok"] is True


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.20", False),
        ("sandbox.internal", False),
    ],
)
def test_loopback_addresses_are_told_apart(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_host_names_are_read_without_port_or_brackets() -> None:
    assert host_name("LocalHost:8765") == "localhost"
    assert host_name("[::1]:8765") == "::1"
    assert host_name("example.test") == "example.test"


def test_listening_beyond_loopback_prints_a_warning_first() -> None:
    # 192.0.2.1 (TEST-NET-1) is no address of this machine: the bind fails, after the warning.
    done = subprocess.run(
        [NORQ, "sandbox", "--host", "192.0.2.1", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parent,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("Warning: listening on 192.0.2.1, beyond this machine.")
    assert "anyone who can reach it can read every message" in done.stderr
    assert "cannot listen on 192.0.2.1:0" in done.stderr
