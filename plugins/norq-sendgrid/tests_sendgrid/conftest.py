"""Fixtures for the SendGrid plugin's tests: config documents and Norq builders that never wait."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

import norq
from tests.conftest import Sleeps, quiet_norqs

API_KEY = "SG.sendgrid-SECRET/with+chars"
BASE_URL = "https://api.sendgrid.test"
SEND_URL = f"{BASE_URL}/v3/mail/send"
SENDER = "receipts@example.com"
RECIPIENT = "ada@example.com"


def sendgrid(**config: Any) -> dict[str, Any]:
    """A ``providers.<name>`` entry for SendGrid."""
    settings: dict[str, Any] = {"api_key": API_KEY, "from": SENDER, "base_url": BASE_URL}
    settings.update(config)
    return {"type": "sendgrid", "config": settings}


def document(routing: str | list[str] = "sendgrid", **providers: Any) -> dict[str, Any]:
    return {"providers": providers or {"sendgrid": sendgrid()}, "routing": {"email": routing}}


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


#: The executor's clock in these tests: X-RateLimit-Reset waits are measured from it.
NOW = 1_700_000_000.0


MakeNorq = Callable[..., norq.Norq]


@pytest.fixture
def make_norq(sleeps: Sleeps) -> Iterator[MakeNorq]:
    """Norq from a config document, with an executor that never waits (httpx, for respx)."""
    with quiet_norqs(document, sleeps, clock=lambda: NOW) as build:
        yield build
