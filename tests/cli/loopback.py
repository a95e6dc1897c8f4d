"""A loopback fake of a Twilio-shaped SMS API, run in a thread of the test process.

``POST /messages`` stores the message (201 with its ``sid``) unless the
recipient is in ``rejected`` (400, code 21211, every time) or in
``unavailable`` (503 the first time only).
``GET /messages/<sid>`` and ``GET /messages`` answer status queries. Every
request is recorded, so tests count what was sent.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from norq.testing import LoopbackHTTPServer


@dataclass
class FakeApi:
    rejected: set[str] = field(default_factory=set)
    unavailable: set[str] = field(default_factory=set)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, list[str]]]] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def posts_to(self, to: str) -> int:
        return sum(
            1 for method, _, form in self.requests if method == "POST" and form["To"] == [to]
        )

    @property
    def posts(self) -> int:
        return sum(1 for method, _, _ in self.requests if method == "POST")


def _handler(api: FakeApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, status: int, payload: Any) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            form = parse_qs(self.rfile.read(length).decode())
            to = form["To"][0]
            with api.lock:
                api.requests.append(("POST", self.path, form))
                api.authorizations.append(self.headers.get("Authorization", ""))
                first_time = api.posts_to(to) == 1
                if to in api.unavailable and first_time:
                    self._answer(503, {"code": 20503, "message": "Service Unavailable"})
                    return
                if to in api.rejected:
                    self._answer(
                        400, {"code": 21211, "message": f"The 'To' number {to} is not valid"}
                    )
                    return
                sid = f"SM{len(api.messages) + 1:032d}"
                api.messages[sid] = {
                    "sid": sid,
                    "to": to,
                    "from": form["From"][0],
                    "body": form["Body"][0],
                    "status": "delivered",
                }
            self._answer(201, {"sid": sid})

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            with api.lock:
                api.requests.append(("GET", self.path, query))
                if parts.path == "/messages":
                    found = [
                        m
                        for m in reversed(api.messages.values())
                        if "To" not in query or m["to"] == query["To"][0]
                    ]
                    self._answer(200, {"messages": found[: int(query["PageSize"][0])]})
                    return
                sid = parts.path.rsplit("/", 1)[-1]
                if sid not in api.messages:
                    self._answer(404, {"code": 20404, "message": f"message {sid} not found"})
                    return
                self._answer(200, api.messages[sid])

    return Handler


@contextmanager
def serve() -> Iterator[FakeApi]:
    api = FakeApi()
    server = LoopbackHTTPServer(("127.0.0.1", 0), _handler(api))
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
