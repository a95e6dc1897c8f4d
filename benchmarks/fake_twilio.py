"""A fast loopback fake of Twilio's Messages API, run in its own process.

A raw asyncio ``Protocol`` speaking just enough HTTP/1.1 (keep-alive,
``Content-Length`` bodies, pipelining) so that on a 2-core machine the server
is never the bottleneck of a client benchmark: it does no form parsing and
answers every ``POST`` with ``201`` and a Twilio-shaped JSON message resource
carrying a fresh ``sid``. ``--latency-ms`` delays every answer by a fixed time,
to model a real network round trip. It stops by itself after ``--max-seconds``.

Why not :class:`norq.testing.MockServer`, which the tests use: it parses
each request with ``http.server`` on a thread per connection, and costs the
server about five times the CPU per request (measured with an aiohttp client
at 64 in flight, 3,000 requests, three rounds: 240-310 µs against 50-57 µs
here). On two cores shared by client and server, that CPU is taken from the
clients being measured.

Run: ``python -m benchmarks.fake_twilio --port 0`` prints ``LISTENING <port>``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import signal
import sys

_BODY_TEMPLATE = (
    '{"account_sid":"AC00000000000000000000000000000000","api_version":"2010-04-01",'
    '"body":"benchmark","date_created":"Mon, 23 Nov 2026 19:00:00 +0000",'
    '"date_sent":null,"date_updated":"Mon, 23 Nov 2026 19:00:00 +0000",'
    '"direction":"outbound-api","error_code":null,"error_message":null,'
    '"from":"+15005550006","messaging_service_sid":null,"num_media":"0",'
    '"num_segments":"1","price":null,"price_unit":"USD","sid":"SM%032x",'
    '"status":"queued","subresource_uris":{"media":"/2010-04-01/Accounts/'
    'AC00000000000000000000000000000000/Messages/SM%032x/Media.json"},'
    '"to":"+15005550001","uri":"/2010-04-01/Accounts/AC00000000000000000000000000000000/'
    'Messages/SM%032x.json"}'
)
_HEAD = (
    b"HTTP/1.1 201 Created\r\n"
    b"Content-Type: application/json; charset=utf-8\r\n"
    b"Connection: keep-alive\r\n"
    b"Content-Length: "
)
_NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n"
_sids = itertools.count(1)


def _created() -> bytes:
    n = next(_sids)
    body = (_BODY_TEMPLATE % (n, n, n)).encode()
    return _HEAD + str(len(body)).encode() + b"\r\n\r\n" + body


class _Http(asyncio.Protocol):
    __slots__ = ("_buffer", "_latency", "_transport")

    def __init__(self, latency: float) -> None:
        self._latency = latency
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer + data if self._buffer else data
        answers = []
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head = buffer[:end]
            length = 0
            marker = head.lower().find(b"content-length:")
            if marker >= 0:
                stop = head.find(b"\r\n", marker)
                length = int(head[marker + 15 : stop if stop >= 0 else len(head)])
            total = end + 4 + length
            if len(buffer) < total:
                break
            answers.append(_created() if head.startswith(b"POST") else _NOT_FOUND)
            buffer = buffer[total:]
        self._buffer = buffer
        if answers and self._transport is not None:
            payload = b"".join(answers)
            if self._latency:
                asyncio.get_running_loop().call_later(self._latency, self._write, payload)
            else:
                self._transport.write(payload)

    def _write(self, payload: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(payload)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None


async def serve(port: int, latency: float, max_seconds: float) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: _Http(latency), "127.0.0.1", port, backlog=1024, reuse_address=True
    )
    bound = server.sockets[0].getsockname()[1]
    print(f"LISTENING {bound}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await asyncio.wait_for(stop.wait(), max_seconds)
    except TimeoutError:
        print("fake twilio: --max-seconds reached, stopping", file=sys.stderr)
    server.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--max-seconds", type=float, default=1800.0)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.port, args.latency_ms / 1000.0, args.max_seconds))


if __name__ == "__main__":
    main()
