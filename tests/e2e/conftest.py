"""Fixtures for end-to-end tests: real sandboxes on loopback and Norq instances aimed at them."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from norq_sandbox import (
    DEFAULT_ACCOUNT_SID,
    DEFAULT_API_KEY_SECRET,
    DEFAULT_API_KEY_SID,
    DEFAULT_AUTH_TOKEN,
    SandboxServer,
)
from starlette.types import ASGIApp, Receive, Scope, Send

from norq import Norq

VALID_FROM = "+15005550006"
RECIPIENT = "+15558675310"
# Fast, deterministic retries: the waits are real but tiny.
FAST_RETRY: dict[str, Any] = {"max_retries": 2, "backoff": 0.01, "jitter": 0}


def twilio_provider(
    base_url: str, *, retry: dict[str, Any] | None = None, **config: Any
) -> dict[str, Any]:
    """A ``providers.<name>`` entry for a Twilio instance served by a sandbox."""
    settings: dict[str, Any] = {
        "account_sid": DEFAULT_ACCOUNT_SID,
        "api_key_sid": DEFAULT_API_KEY_SID,
        "api_key_secret": DEFAULT_API_KEY_SECRET,
        "from": VALID_FROM,
        "base_url": base_url,
    }
    settings.update(config)
    return {"type": "twilio", "config": settings, "retry": {**FAST_RETRY, **(retry or {})}}


def auth_token_provider(base_url: str, **config: Any) -> dict[str, Any]:
    entry = twilio_provider(base_url, **config)
    del entry["config"]["api_key_sid"], entry["config"]["api_key_secret"]
    entry["config"]["auth_token"] = DEFAULT_AUTH_TOKEN
    return entry


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(step_delay=0.01) as server:
        yield server


@pytest.fixture
def backup_sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(step_delay=0.01) as server:
        yield server


MakeNorq = Callable[..., Norq]


@pytest.fixture
def make_norq() -> Iterator[MakeNorq]:
    """Build Norq instances from config documents; every one is closed after the test."""
    built: list[Norq] = []

    def build(
        providers: dict[str, Any],
        routing: str | list[str] = "twilio",
        **document: Any,
    ) -> Norq:
        app = Norq.from_dict(
            {"providers": providers, "routing": {"sms": routing}, **document}, environ={}
        )
        built.append(app)
        return app

    yield build
    for app in built:
        app.close()


class AsgiServer:
    """Any ASGI app under uvicorn on a free loopback port, in a background thread."""

    def __init__(self, app: Any) -> None:
        import uvicorn
        from norq_sandbox.server import bind

        self._socket = bind("127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self._server = uvicorn.Server(
            uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        )
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._server.serve(sockets=[self._socket])), daemon=True
        )

    def __enter__(self) -> AsgiServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the ASGI server did not start")
            time.sleep(0.005)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._socket.close()


class LateApp:
    """An ASGI app that forwards to one set later: a webhook app whose config needs the URL
    of the server it runs on."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "set LateApp.app before sending requests"
        await self.app(scope, receive, send)
