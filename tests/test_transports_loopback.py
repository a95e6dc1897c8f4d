"""Transports over real loopback HTTP: pooling, event loops, dropped connections, timeouts."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from norq.executor import Executor
from norq.request import PreparedRequest
from norq.retry import RetryPolicy
from norq.testing import LoopbackHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        server: LoopbackServer = self.server  # type: ignore[assignment]
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        with server.lock:
            server.requests += 1
            server.client_ports.add(self.client_address[1])
        if self.path == "/drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if self.path == "/slow":
            time.sleep(1.0)
        body = json.dumps({"sid": f"SM{server.requests}"}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class LoopbackServer(LoopbackHTTPServer):
    # Its backlog of 128 (not socketserver's 5) is what keeps the concurrent
    # tests from flaking with read timeouts.
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Lock()
        self.requests = 0
        self.client_ports: set[int] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    srv = LoopbackServer()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def post(url: str, **overrides: object) -> PreparedRequest:
    return PreparedRequest(
        method="POST",
        url=url,
        form=(("To", "+15551234567"),),
        message_id_path="$.sid",
        **overrides,  # type: ignore[arg-type]
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_sync_sends_reuse_one_connection(server: LoopbackServer) -> None:
    with_executor = Executor()
    try:
        outcomes = [with_executor.send(post(f"{server.url}/ok")) for _ in range(20)]
    finally:
        with_executor.close()
    assert all(o.ok for o in outcomes)
    assert server.requests == 20
    assert len(server.client_ports) == 1


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
def test_async_sends_reuse_connections(server: LoopbackServer, transport: str) -> None:
    executor = Executor(async_transport=transport)

    async def run() -> list[bool]:
        sequential = [(await executor.asend(post(f"{server.url}/ok"))).ok for _ in range(10)]
        concurrent = await asyncio.gather(
            *(executor.asend(post(f"{server.url}/ok")) for _ in range(40))
        )
        await executor.aclose()
        return sequential + [o.ok for o in concurrent]

    assert all(asyncio.run(run()))
    assert server.requests == 50
    assert len(server.client_ports) <= 40


def test_aiohttp_session_survives_a_new_event_loop(server: LoopbackServer) -> None:
    executor = Executor(async_transport="aiohttp")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        first = asyncio.run(executor.asend(post(f"{server.url}/ok")))
        second = asyncio.run(executor.asend(post(f"{server.url}/ok")))
        executor.close()
    assert first.ok
    assert second.ok


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
def test_connection_refused_is_a_retried_connect_error(transport: str) -> None:
    executor = Executor(async_transport=transport, async_sleep=_no_wait)
    url = f"http://127.0.0.1:{free_port()}/ok"

    async def run() -> tuple[str | None, int]:
        outcome = await executor.asend(post(url))
        await executor.aclose()
        return (outcome.error.code if outcome.error else None), outcome.attempts

    assert asyncio.run(run()) == ("connect_error", 3)
    sync = Executor(sleep=lambda _: None).send(post(url))
    assert sync.error is not None
    assert (sync.error.code, sync.attempts) == ("connect_error", 3)


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
def test_dropped_connection_is_reported_not_retried(server: LoopbackServer, transport: str) -> None:
    executor = Executor(async_transport=transport, async_sleep=_no_wait)

    async def run() -> tuple[str | None, int]:
        outcome = await executor.asend(post(f"{server.url}/drop"))
        await executor.aclose()
        return (outcome.error.code if outcome.error else None), outcome.attempts

    assert asyncio.run(run()) == ("connection_lost", 1)
    assert server.requests == 1


def test_dropped_connection_is_retried_when_allowed(server: LoopbackServer) -> None:
    executor = Executor(sleep=lambda _: None)
    outcome = executor.send(post(f"{server.url}/drop", retry=RetryPolicy(retry_unconfirmed=True)))
    executor.close()
    assert outcome.attempts == 3
    assert server.requests == 3


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
def test_timeouts_are_on(server: LoopbackServer, transport: str) -> None:
    executor = Executor(timeout=0.2, async_transport=transport)

    async def run() -> str | None:
        outcome = await executor.asend(post(f"{server.url}/slow"))
        await executor.aclose()
        return outcome.error.code if outcome.error else None

    assert asyncio.run(run()) == "timeout"
    sync = Executor(timeout=0.2).send(post(f"{server.url}/slow"))
    assert sync.error is not None
    assert sync.error.code == "timeout"


async def _no_wait(_: float) -> None:
    return None
