"""Fixtures for end-to-end tests: real sandboxes on loopback and Norq instances aimed at them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from norq import Norq
from norq.sandbox import (
    DEFAULT_ACCOUNT_SID,
    DEFAULT_API_KEY_SECRET,
    DEFAULT_API_KEY_SID,
    DEFAULT_AUTH_TOKEN,
    SandboxServer,
)

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
