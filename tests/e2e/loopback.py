"""A loopback server whose answers drip, for deadline tests; and helpers for loopback tests.

``/drip-headers`` and ``/drip-body`` send a valid answer one byte every
``drip_interval`` seconds, in the status line and headers or in the body; a
per-read timeout never fires on them, only a deadline does. ``POST /ok``
answers at once. Paths may carry a prefix (``/drip-body/2010-04-01/...``), so
a provider's ``base_url`` can pick the behaviour. :class:`norq.testing.MockServer`
cannot do this: it writes each answer whole, which is what every other
loopback test wants.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any, TypeVar

import norq
from norq.plugins import get_plugin_manager
from norq.testing import LoopbackHTTPServer

DRIP_BYTES = 40


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LoopbackServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        server = self.server
        with server.lock:
            server.requests += 1
            sid = f"SM{server.requests:032d}"
        body = json.dumps({"sid": sid, "status": "queued", "pad": "x" * DRIP_BYTES}).encode()
        head = (
            f"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        if self.path.startswith("/drip-headers"):
            self._drip(head)
            self._write(body)
        elif self.path.startswith("/drip-body"):
            self._write(head)
            self._drip(body)
        else:
            self._write(head + body)

    def _write(self, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()

    def _drip(self, data: bytes) -> None:
        for i in range(len(data)):
            self._write(data[i : i + 1])
            with self.server.lock:
                self.server.dripped += 1
            time.sleep(self.server.drip_interval)


class LoopbackServer(LoopbackHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.requests = 0
        self.dripped = 0
        self.drip_interval = 0.1

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@contextmanager
def serve() -> Iterator[LoopbackServer]:
    server = LoopbackServer()
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def twilio_norq(base_url: str, **executor: Any) -> norq.Norq:
    """A Norq whose one Twilio instance sends to ``base_url``, with these ``executor:`` settings."""
    document = {
        "providers": {
            "twilio": {
                "config": {
                    "account_sid": "AC" + "0" * 32,
                    "auth_token": "token-for-tests",
                    "from": "+15005550006",
                    "base_url": base_url,
                }
            }
        },
        "routing": {"sms": "twilio"},
        "executor": executor,
    }
    return norq.Norq.from_dict(
        document, environ={}, plugin_manager=get_plugin_manager(load_entry_points=False)
    )


Result = TypeVar("Result")


def run_in_threads(count: int, work: Callable[[int], Result]) -> list[Result]:
    """``work(i)`` in ``count`` threads released at once; their results, or the first error."""
    start = threading.Barrier(count)
    results: list[Result] = []
    errors: list[BaseException] = []

    def run(number: int) -> None:
        try:
            start.wait(timeout=30)
            results.append(work(number))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if errors:
        raise errors[0]
    return results
