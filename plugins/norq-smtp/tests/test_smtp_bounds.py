"""A server's SMTP reply is read up to executor.max_response_bytes, like any transport's answer.

smtplib bounds each line of a reply, not how many lines a multi-line reply
has: a server that keeps sending ``220-`` continuation lines would be read
for as long as it kept going.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from smtp_testserver import send

import norq

LIMIT = 64 * 1024
# The most the endless server writes before giving up on its own.
SERVER_CAP = 20 * 1024 * 1024


@dataclass
class EndlessGreeting:
    """Greets every connection with ``220-`` lines until the client hangs up."""

    port: int = 0
    written: list[int] = field(default_factory=list)
    _listener: socket.socket | None = None

    def start(self) -> None:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        self._listener = listener
        self.port = listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        assert self._listener is not None
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._greet, args=(connection,), daemon=True).start()

    def _greet(self, connection: socket.socket) -> None:
        line = b"220-" + b"x" * 60 + b"\r\n"
        sent = 0
        with connection:
            try:
                while sent < SERVER_CAP:
                    connection.sendall(line * 64)
                    sent += len(line) * 64
            except OSError:
                pass
        self.written.append(sent)

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()


@pytest.fixture
def endless() -> Iterator[EndlessGreeting]:
    server = EndlessGreeting()
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_an_endless_reply_is_cut_off_at_the_limit(
    endless: EndlessGreeting, mode: str
) -> None:
    provider = {
        "type": "smtp",
        "config": {"host": "127.0.0.1", "port": endless.port, "sender": "shop@example.test"},
        "retry": {"max_retries": 0},
    }
    app = norq.Norq.from_dict(
        {
            "providers": {"mail": provider},
            "routing": {"email": "mail"},
            "executor": {"max_response_bytes": LIMIT, "timeout": 30},
        },
        environ={},
    )
    with pytest.raises(norq.DeliveryError) as failed:
        await send(app, mode)
    receipt = failed.value.receipt
    assert receipt.error is not None
    assert receipt.error.code == "connect_error"
    if mode == "sync":
        assert f"longer than executor.max_response_bytes ({LIMIT:,} bytes)" in receipt.error.message
    # The client hung up long before the server's own cap (what it wrote also
    # counts the socket buffers, a few megabytes at most on loopback).
    for _ in range(200):
        if endless.written:
            break
        await asyncio.sleep(0.05)
    assert endless.written
    assert endless.written[0] < SERVER_CAP // 2
