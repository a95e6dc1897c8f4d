"""The inbox's page and event stream, and running the sandbox in-process or as a command."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from norq_sandbox import SandboxServer
from norq_sandbox.cli import sandbox as sandbox_command
from norq_sandbox.server import bind

from tests_sandbox.conftest import MESSAGES_PATH, send


def test_the_inbox_page_and_its_assets_are_served(api: httpx.Client) -> None:
    page = api.get("/")
    script = api.get("/static/inbox.js")
    style = api.get("/static/inbox.css")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Norq sandbox" in page.text
    assert script.status_code == style.status_code == 200
    assert "EventSource" in script.text


def test_the_inbox_feed_lists_messages_newest_first_with_timelines(
    api: httpx.Client, sandbox: SandboxServer
) -> None:
    older = send(api, Body="first").json()["sid"]
    newer = send(api, Body="second").json()["sid"]
    sandbox.wait_for_status(newer, "delivered")

    messages = api.get("/_sandbox/messages").json()["messages"]

    assert [m["sid"] for m in messages] == [newer, older]
    assert [step["status"] for step in messages[0]["timeline"]][-1] == "delivered"
    assert messages[0]["num_segments"] == "1"


def test_the_event_stream_pushes_each_change(api: httpx.Client, sandbox: SandboxServer) -> None:
    events: list[tuple[str, Any]] = []
    connected = threading.Event()

    def listen() -> None:
        with httpx.stream("GET", sandbox.url + "/_sandbox/events", timeout=5) as stream:
            connected.set()
            name = None
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: ") and name:
                    events.append((name, json.loads(line.removeprefix("data: "))))
                    if events[-1][1]["status"] == "delivered":
                        return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert connected.wait(5)
    time.sleep(0.1)  # the stream is subscribed once its first bytes are sent

    sid = send(api).json()["sid"]
    listener.join(5)

    assert not listener.is_alive()
    assert {data["sid"] for _, data in events} == {sid}
    assert [data["status"] for _, data in events] == ["queued", "sending", "sent", "delivered"]


def test_open_event_streams_do_not_delay_shutdown() -> None:
    server = SandboxServer(step_delay=0.01).start()
    opened = threading.Event()

    def hold_stream() -> None:
        try:
            with httpx.stream("GET", server.url + "/_sandbox/events", timeout=10) as stream:
                opened.set()
                for _ in stream.iter_lines():
                    pass
        except httpx.HTTPError:
            pass

    holder = threading.Thread(target=hold_stream, daemon=True)
    holder.start()
    assert opened.wait(5)

    started = time.monotonic()
    server.stop()

    assert time.monotonic() - started < 1.5
    holder.join(5)
    assert not holder.is_alive()


def test_a_stopped_sandbox_frees_its_port() -> None:
    with SandboxServer() as server:
        port = server.port

    with socket.create_server(("127.0.0.1", port)):
        pass


def test_bind_falls_back_to_a_free_port_when_asked() -> None:
    with bind("127.0.0.1", 0) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match="in use"):
            bind("127.0.0.1", port)
        with bind("127.0.0.1", port, fallback=True) as other:
            assert other.getsockname()[1] not in (0, port)


# -- the command --------------------------------------------------------------------------


def test_the_command_documents_its_options() -> None:
    result = CliRunner().invoke(sandbox_command, ["--help"])

    assert result.exit_code == 0
    for option in ("--host", "--port", "--fault", "--fault-rate", "--callback-delay"):
        assert option in result.output


def test_the_command_refuses_a_malformed_fault() -> None:
    result = CliRunner().invoke(sandbox_command, ["--port", "0", "--fault", "teapot"])

    assert result.exit_code == 2
    assert "unknown fault" in result.output


def test_the_command_serves_until_interrupted_and_applies_its_faults(tmp_path: Path) -> None:
    with bind("127.0.0.1", 0) as probe:
        port = probe.getsockname()[1]
    script = "from norq_sandbox.cli import sandbox; sandbox()"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            script,
            "--port",
            str(port),
            "--smtp-port",
            "0",
            "--fault",
            "503x2",
            "--quiet",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert f"127.0.0.1:{port}" in banner
        auth = ("SK22222222222222222222222222222222", "sandbox-api-key-secret")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", auth=auth, timeout=5) as api:
            statuses = [send(api).status_code for _ in range(3)]
            assert api.get(MESSAGES_PATH).status_code == 200
        assert statuses == [503, 503, 201]
    finally:
        process.send_signal(signal.SIGINT)
        try:
            output, _ = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate(timeout=5)
            raise
    assert process.returncode == 0, output
