"""A Twilio-shaped SMS API for the CLI tests, answered by :class:`norq.testing.MockServer`.

``POST /messages`` stores the message (201 with its ``sid``) unless the
recipient is in ``rejected`` (400, code 21211, every time) or in
``unavailable`` (503 the first time only).
``GET /messages/<sid>`` and ``GET /messages`` answer status queries. The
server records every request, so tests count what was sent.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from norq import Response
from norq.testing import MockServer, RecordedRequest, json_response


@dataclass
class FakeApi:
    server: MockServer = field(init=False)
    rejected: set[str] = field(default_factory=set)
    unavailable: set[str] = field(default_factory=set)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _sent_to: Counter[str] = field(default_factory=Counter)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def requests(self) -> list[tuple[str, str, dict[str, list[str]]]]:
        """Method, path and parameters (the form of a POST, the query of a GET) of each request."""
        found = []
        for request in self.server.requests:
            parts = urlsplit(request.url)
            path = f"{parts.path}?{parts.query}" if parts.query else parts.path
            sent = request.body.decode() if request.method == "POST" else parts.query
            found.append((request.method, path, parse_qs(sent)))
        return found

    @property
    def authorizations(self) -> list[str]:
        posts = [r for r in self.server.requests if r.method == "POST"]
        return [r.headers.get("authorization", "") for r in posts]

    def posts_to(self, to: str) -> int:
        return sum(
            1 for method, _, form in self.requests if method == "POST" and form["To"] == [to]
        )

    @property
    def posts(self) -> int:
        return sum(1 for r in self.server.requests if r.method == "POST")

    def answer(self, request: RecordedRequest) -> Response:
        with self.lock:
            if request.method == "POST":
                return self._send(dict(request.form()))
            return self._query(request.url)

    def _send(self, form: dict[str, str]) -> Response:
        to = form["To"]
        self._sent_to[to] += 1
        first_time = self._sent_to[to] == 1
        if to in self.unavailable and first_time:
            return json_response(503, {"code": 20503, "message": "Service Unavailable"})
        if to in self.rejected:
            return json_response(
                400, {"code": 21211, "message": f"The 'To' number {to} is not valid"}
            )
        sid = f"SM{len(self.messages) + 1:032d}"
        self.messages[sid] = {
            "sid": sid,
            "to": to,
            "from": form["From"],
            "body": form["Body"],
            "status": "delivered",
        }
        return json_response(201, {"sid": sid})

    def _query(self, url: str) -> Response:
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        if parts.path == "/messages":
            found = [
                m
                for m in reversed(self.messages.values())
                if "To" not in query or m["to"] == query["To"][0]
            ]
            return json_response(200, {"messages": found[: int(query["PageSize"][0])]})
        sid = parts.path.rsplit("/", 1)[-1]
        if sid not in self.messages:
            return json_response(404, {"code": 20404, "message": f"message {sid} not found"})
        return json_response(200, self.messages[sid])


@contextmanager
def serve() -> Iterator[FakeApi]:
    api = FakeApi()
    with MockServer(handler=api.answer) as api.server:
        yield api
