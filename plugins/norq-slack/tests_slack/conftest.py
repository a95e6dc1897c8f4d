"""Fixtures for the Slack plugin's tests: config documents and Norq builders that never wait."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import norq

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


class Sleeps:
    """Records the waits the executor asks for instead of sleeping."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)

    async def asleep(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


MakeNorq = Callable[..., norq.Norq]


@pytest.fixture
def make_norq(sleeps: Sleeps) -> Iterator[MakeNorq]:
    """Norq from a config document, with an executor that never waits (httpx, for respx)."""
    built: list[norq.Executor] = []

    def build(doc: dict[str, Any] | None = None) -> norq.Norq:
        executor = norq.Executor(
            sleep=sleeps,
            async_sleep=sleeps.asleep,
            rng=random.Random(7),
            async_transport="httpx",
        )
        built.append(executor)
        return norq.Norq.from_dict(doc or document(), environ={}, executor=executor)

    yield build
    for executor in built:
        executor.close()
