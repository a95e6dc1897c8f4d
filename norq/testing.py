"""Testing kit for Norq applications and plugins: a notification fake, scripted answers.

For an application's own tests, :class:`NotificationFake` takes every
notification after routing and rendering and sends nothing; install it with
:func:`fake_notifications` or the ``norq_fake`` pytest fixture, then assert
on what was sent (docs/testing.md)::

    with fake_notifications() as fake:
        shop.ship(order)
    fake.assert_sent(to="ada@example.com", channel="email", template="order_shipped")

For plugins, two ways to put a script in front of Norq's transports, with
the same answers and the same recordings:

- :class:`MockTransport` replaces a registered transport in-process::

      mock = MockTransport(json_response(201, {"sid": "SM1"}))
      app = norq.Norq.from_dict(config, transports={"http": mock})

  Sync and async sends both go through it, whatever ``async_transport`` says.

- :class:`MockServer` answers real HTTP on ``127.0.0.1``, so sends go
  through Norq's default transports (httpx for sync, aiohttp for async)::

      with MockServer(json_response(201, {"sid": "SM1"})) as server:
          config = {"providers": {"acme": {"config": {"base_url": server.url}}}, ...}

Each takes answers to give in order (:class:`~norq.Response` or, for
:class:`MockTransport`, a :class:`~norq.TransportFailure`) and/or a
``handler(recorded) -> answer`` used once they run out. ``requests`` lists
what was sent, as :class:`RecordedRequest`. An unexpected request fails the
test with an :class:`AssertionError` naming it.
"""

from __future__ import annotations

import json
import socket
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl

from norq.fake import NotificationFake, SentNotification, fake_notifications
from norq.request import PreparedRequest
from norq.transports.base import AttemptResult, Response, TransportFailure

__all__ = [
    "LoopbackHTTPServer",
    "MockServer",
    "MockTransport",
    "NotificationFake",
    "RecordedRequest",
    "SentNotification",
    "fake_notifications",
    "json_response",
]


@dataclass(frozen=True, slots=True, repr=False)
class RecordedRequest:
    """One request as it was sent. ``headers`` keys are lower case.

    ``prepared`` is the prepared request itself (``None`` for :class:`MockServer`,
    which sees only the wire). It may hold credentials: ``repr`` shows only
    the request line.
    """

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    prepared: Any = None

    def json(self) -> Any:
        """The body decoded as JSON."""
        return json.loads(self.body)

    def form(self) -> list[tuple[str, str]]:
        """The body decoded as form pairs, in order (a key may repeat)."""
        return parse_qsl(self.body.decode("ascii"), keep_blank_values=True)

    def __repr__(self) -> str:
        return f"<RecordedRequest {self.method} {self.url}>"


Answer = Response | TransportFailure
Handler = Callable[[RecordedRequest], Answer]


def json_response(
    status: int, body: Any = None, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON answer (an empty body when ``body`` is ``None``)."""
    all_headers = {"content-type": "application/json"} if body is not None else {}
    all_headers.update({name.lower(): value for name, value in (headers or {}).items()})
    content = b"" if body is None else json.dumps(body).encode()
    return Response(status, all_headers, content)


@dataclass
class _Script:
    answers: deque[Answer]
    handler: Handler | None
    requests: list[RecordedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, recorded: RecordedRequest) -> Answer:
        with self.lock:
            self.requests.append(recorded)
            if self.answers:
                return self.answers.popleft()
        if self.handler is not None:
            return self.handler(recorded)
        raise AssertionError(
            f"no answer scripted for request #{len(self.requests)}: {recorded!r}; "
            "give more answers or a handler"
        )


class MockTransport:
    """A transport that records every request and answers from a script.

    Register it by name: ``Norq.from_dict(config, transports={"http": mock})``.
    For a non-HTTP request, ``RecordedRequest.prepared`` holds it and the
    other fields are empty.
    """

    def __init__(self, *answers: Answer, handler: Handler | None = None) -> None:
        self._script = _Script(deque(answers), handler)
        self.closed = False

    @property
    def requests(self) -> list[RecordedRequest]:
        return self._script.requests

    def add(self, *answers: Answer) -> None:
        """Queue more answers, given after those already queued."""
        self._script.answers.extend(answers)

    def send(self, request: Any) -> AttemptResult:
        return self._script.answer(_record(request))

    async def asend(self, request: Any) -> AttemptResult:
        return self.send(request)

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


def _record(request: Any) -> RecordedRequest:
    if isinstance(request, PreparedRequest):
        headers = {name.lower(): value for name, value in request.wire_headers().items()}
        return RecordedRequest(
            request.method, request.full_url, headers, request.body_bytes() or b"", request
        )
    return RecordedRequest("", "", {}, b"", request)


class MockServer:
    """A scripted HTTP server on ``127.0.0.1`` for tests through the real transports.

    Use it as a context manager; ``url`` is its base URL. A
    :class:`~norq.TransportFailure` answer of kind ``lost`` closes the
    connection without answering.
    """

    def __init__(self, *answers: Answer, handler: Handler | None = None) -> None:
        self._script = _Script(deque(answers), handler)
        self._server: LoopbackHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    @property
    def requests(self) -> list[RecordedRequest]:
        return self._script.requests

    def add(self, *answers: Answer) -> None:
        """Queue more answers, given after those already queued."""
        self._script.answers.extend(answers)

    def __enter__(self) -> MockServer:
        server = LoopbackHTTPServer(("127.0.0.1", 0), _handler_class(self._script))
        self._server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        self._thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class LoopbackHTTPServer(ThreadingHTTPServer):
    """A ``ThreadingHTTPServer`` fit for concurrent clients, for loopback tests.

    socketserver listens with a backlog of 5. When more clients than that
    connect at once (a bulk send) the kernel drops their handshake ACKs and
    retransmits SYN-ACKs after 1, 2, 4, 8 s: the clients believe they are
    connected, send their request, and some wait past their read timeout.
    """

    daemon_threads = True
    request_queue_size = 128

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        # Headers and body are written separately: without NODELAY each
        # answer waits for the client's delayed ACK.
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up early is not the test's failure."""


def _handler_class(script: _Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the recordings say what happened."""

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length) if length else b""
            host = f"http://{self.headers.get('Host', '127.0.0.1')}"
            recorded = RecordedRequest(
                self.command,
                host + self.path,
                {name.lower(): value for name, value in self.headers.items()},
                body,
            )
            try:
                answer = script.answer(recorded)
            except AssertionError as exc:
                answer = Response(599, {"content-type": "text/plain"}, str(exc).encode())
            if isinstance(answer, TransportFailure):
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

    return Handler
