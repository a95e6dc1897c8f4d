"""Fixtures for the Slack plugin's tests: config documents and Norq builders that never wait."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

import norq
from tests.conftest import Sleeps, quiet_norqs

BOT_TOKEN = "xoxb-1234-SECRET/with+chars"
BASE_URL = "https://slack.test"
POST_URL = f"{BASE_URL}/api/chat.postMessage"
WEBHOOK_URL = "https://hooks.slack.test/services/T000/B000/WEBHOOKsecret42"
CHANNEL = "C0123ABCDE"


def slack(**config: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {"bot_token": BOT_TOKEN, "base_url": BASE_URL}
    settings.update(config)
    return {"type": "slack", "config": settings}


def webhook(**config: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {"webhook_url": WEBHOOK_URL}
    settings.update(config)
    return {"type": "slack_webhook", "config": settings}


def document(routing: str | list[str] = "slack", **providers: Any) -> dict[str, Any]:
    return {"providers": providers or {"slack": slack()}, "routing": {"chat": routing}}


def posted(channel: str = CHANNEL, ts: str = "1417671948.000006") -> dict[str, Any]:
    return {"ok": True, "channel": channel, "ts": ts, "message": {"text": "hi"}}


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


MakeNorq = Callable[..., norq.Norq]


@pytest.fixture
def make_norq(sleeps: Sleeps) -> Iterator[MakeNorq]:
    """Norq from a config document, with an executor that never waits (httpx, for respx)."""
    with quiet_norqs(document, sleeps) as build:
        yield build
