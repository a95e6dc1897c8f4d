"""Fixtures for the sandbox's own tests: a running sandbox and raw HTTP clients for it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import httpx
import pytest
from norq_sandbox import (
    DEFAULT_ACCOUNT_SID,
    DEFAULT_API_KEY_SECRET,
    DEFAULT_API_KEY_SID,
    SandboxServer,
)

MESSAGES_PATH = f"/2010-04-01/Accounts/{DEFAULT_ACCOUNT_SID}/Messages.json"
VALID_FROM = "+15005550006"
RECIPIENT = "+15558675310"


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(step_delay=0.01) as server:
        yield server


@pytest.fixture
def api(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    """An httpx client authenticated with the sandbox's API key, based at its URL."""
    with httpx.Client(
        base_url=sandbox.url, auth=(DEFAULT_API_KEY_SID, DEFAULT_API_KEY_SECRET), timeout=10
    ) as client:
        yield client


def send(api: httpx.Client, **params: str | None) -> httpx.Response:
    """POST a create-message request; ``To``, ``From`` and ``Body`` have defaults, None omits."""
    form: dict[str, str | None] = {"To": RECIPIENT, "From": VALID_FROM, "Body": "Hello from a test"}
    form.update(params)
    return api.post(MESSAGES_PATH, data={k: v for k, v in form.items() if v is not None})


@dataclass(frozen=True)
class ReceivedCallback:
    url: str
    headers: dict[str, str]
    params: list[tuple[str, str]]


class CallbackReceiver:
    """A tiny HTTP server on loopback that records every POST it receives."""

    def __init__(self) -> None:
        received: list[ReceivedCallback] = []
        self.received = received
        self.arrived = threading.Condition()
        condition = self.arrived

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length).decode()
                host, port = self.server.server_address[:2]
                with condition:
                    received.append(
                        ReceivedCallback(
                            f"http://{host}:{port}{self.path}",
                            {k.lower(): v for k, v in self.headers.items()},
                            parse_qsl(body, keep_blank_values=True),
                        )
                    )
                    condition.notify_all()
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}/hooks/twilio"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedCallback]:
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.received) >= count, timeout):
                raise TimeoutError(f"{len(self.received)} callbacks after {timeout}s, not {count}")
            return list(self.received)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    server = CallbackReceiver()
    try:
        yield server
    finally:
        server.close()
