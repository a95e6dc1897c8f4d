"""Fixtures for the Vonage plugin's tests: config documents and Norq builders that never wait."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

import norq
from tests.conftest import Sleeps, quiet_norqs

API_KEY = "vonKEY42"
API_SECRET = "vonage-SECRET/with+chars"
SECRETS = (API_KEY, API_SECRET)
BASE_URL = "https://rest.vonage.test"
SMS_URL = f"{BASE_URL}/sms/json"
RECIPIENT = "+447700900001"
SENDER = "Norq"


def vonage(**config: Any) -> dict[str, Any]:
    """A ``providers.<name>`` entry for Vonage."""
    settings: dict[str, Any] = {
        "api_key": API_KEY,
        "api_secret": API_SECRET,
        "from": SENDER,
        "base_url": BASE_URL,
    }
    settings.update(config)
    return {"type": "vonage", "config": settings}


def document(routing: str | list[str] = "vonage", **providers: Any) -> dict[str, Any]:
    return {"providers": providers or {"vonage": vonage()}, "routing": {"sms": routing}}


def answer(*parts: dict[str, str]) -> dict[str, Any]:
    """A ``/sms/json`` answer body with these parts."""
    return {"message-count": str(len(parts)), "messages": list(parts)}


def sent(message_id: str = "0C000000217B7F02") -> dict[str, str]:
    return {"to": RECIPIENT[1:], "message-id": message_id, "status": "0"}


def refused(status: str, text: str = "refused") -> dict[str, str]:
    return {"status": status, "error-text": text}


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


MakeNorq = Callable[..., norq.Norq]


@pytest.fixture
def make_norq(sleeps: Sleeps) -> Iterator[MakeNorq]:
    """Norq from a config document, with an executor that never waits (httpx, for respx)."""
    with quiet_norqs(document, sleeps) as build:
        yield build
