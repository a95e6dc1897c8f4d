"""HTTP/2 on the wire: norq-apns through Norq's http2 transport to a loopback TLS server.

APNs accepts nothing but HTTP/2, agreed in the TLS handshake (ALPN). hypercorn
serves a stand-in on 127.0.0.1 with a certificate from a test authority;
sync sends (httpx) and async ones (httpx too: aiohttp has no HTTP/2) must
both arrive as HTTP/2.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from cryptography.hazmat.primitives.asymmetric import ec
from hypercorn.asyncio import serve
from hypercorn.config import Config

import norq
from tests_apns.conftest import DEVICE, apns_document


class Http2Apns:
    """An ASGI app that answers like APNs and notes the HTTP version of each request."""

    def __init__(self) -> None:
        self.versions: list[str] = []
        self.paths: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        self.versions.append(scope["http_version"])
        self.paths.append(scope["path"])
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"apns-id", b"h2-id")]}
        )
        await send({"type": "http.response.body", "body": b""})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Http2Apns]]:
    authority = trustme.CA()
    issued = authority.issue_cert("127.0.0.1")
    cert, key, ca = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    issued.private_key_and_cert_chain_pem.write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    authority.cert_pem.write_to_path(str(ca))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))  # httpx trusts the test authority

    app = Http2Apns()
    port = free_port()
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.certfile, config.keyfile = str(cert), str(key)
    config.alpn_protocols = ["h2"]
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(
        target=loop.run_until_complete,
        args=(serve(app, config, shutdown_trigger=stop.wait),),
        daemon=True,
    )
    thread.start()
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            threading.Event().wait(0.05)
    try:
        yield f"https://127.0.0.1:{port}", app
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)
        loop.close()


def test_sync_and_async_sends_go_over_http2(
    ec_key: ec.EllipticCurvePrivateKey, server: tuple[str, Http2Apns]
) -> None:
    url, app = server
    document = apns_document(ec_key, base_url=url)
    with norq.Norq.from_dict(document, environ={}) as norq_app:
        assert norq_app.notify("push", DEVICE, body="sync").message_id == "h2-id"

        async def send() -> norq.Receipt:
            async with norq.Norq.from_dict(document, environ={}) as async_app:
                return await async_app.anotify("push", DEVICE, body="async")

        assert asyncio.run(send()).message_id == "h2-id"
    assert app.versions == ["2", "2"]
    assert app.paths == [f"/3/device/{DEVICE}"] * 2
