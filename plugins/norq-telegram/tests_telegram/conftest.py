"""Fixtures for the Telegram plugin's tests: config documents and Norq builders that never wait."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

import norq
from tests.conftest import Sleeps, quiet_norqs

BOT_TOKEN = "123456789:AAEhBOweik6ad9r_QXMENQjcrGbqCr4K-ab"
BASE_URL = "https://telegram.test"
SEND_URL = f"{BASE_URL}/bot{BOT_TOKEN}/sendMessage"
CHAT = "-1001234567890"


def telegram(**config: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {"bot_token": BOT_TOKEN, "base_url": BASE_URL}
    settings.update(config)
    return {"type": "telegram", "config": settings}


def document(**config: Any) -> dict[str, Any]:
    return {"providers": {"telegram": telegram(**config)}, "routing": {"chat": "telegram"}}


def sent(chat: int = int(CHAT), message_id: int = 42, text: str = "hi") -> dict[str, Any]:
    """The Bot API's answer to a sendMessage that worked: the Message it posted."""
    return {
        "ok": True,
        "result": {
            "message_id": message_id,
            "from": {"id": 123456789, "is_bot": True, "first_name": "Norq", "username": "norq_bot"},
            "chat": {"id": chat, "title": "Ops", "type": "supergroup"},
            "date": 1767225600,
            "text": text,
        },
    }


def refused(status: int, description: str, **parameters: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        answer["parameters"] = parameters
    return answer


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


MakeNorq = Callable[..., norq.Norq]


@pytest.fixture
def make_norq(sleeps: Sleeps) -> Iterator[MakeNorq]:
    """Norq from a config document, with an executor that never waits (httpx, for respx)."""
    with quiet_norqs(document, sleeps) as build:
        yield build
