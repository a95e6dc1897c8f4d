"""Builders for Twilio tests: a config, a Norq on a fresh plugin manager, wire decoding."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

import norq
from norq.executor import Executor
from norq.plugins import get_plugin_manager

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
API_KEY_SID = "SK" + "fedcba9876543210" * 2
API_KEY_SECRET = "key-SECRET/with+odd=chars"
AUTH_TOKEN = "auth-TOKEN-9f8e7d6c5b4a"
WEBHOOK_TOKEN = "webhook-TOKEN-0a1b2c3d"
SERVICE_SID = "MG" + "00112233445566778899aabbccddeeff"
MESSAGE_SID = "SM" + "aabbccddeeff00112233445566778899"
SENDER = "+15005550006"
RECIPIENT = "+15558675310"
API_ROOT = "https://api.twilio.com"
MESSAGES_URL = f"{API_ROOT}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
SECRETS = (API_KEY_SECRET, AUTH_TOKEN, WEBHOOK_TOKEN)


def twilio_config(**overrides: Any) -> dict[str, Any]:
    """A valid API-key config; a value of None removes the key."""
    config: dict[str, Any] = {
        "account_sid": ACCOUNT_SID,
        "api_key_sid": API_KEY_SID,
        "api_key_secret": API_KEY_SECRET,
        "from": SENDER,
    }
    config.update(overrides)
    return {key: value for key, value in config.items() if value is not None}


def document(**overrides: Any) -> dict[str, Any]:
    return {
        "providers": {"twilio": {"config": twilio_config(**overrides)}},
        "routing": {"sms": "twilio"},
    }


def created(sid: str = MESSAGE_SID, status: str = "queued") -> httpx.Response:
    return httpx.Response(201, json={"sid": sid, "status": status})


def form_of(request: httpx.Request) -> list[tuple[str, str]]:
    """The form pairs a request carried, in order, repeats kept."""
    return parse_qsl(request.content.decode("ascii"), keep_blank_values=True, strict_parsing=True)


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


@pytest.fixture
def make_norq(executor: Executor) -> Callable[..., norq.Norq]:
    """Builds a Norq on a fresh plugin manager with an executor that never waits."""

    def build(doc: dict[str, Any] | None = None, **kwargs: Any) -> norq.Norq:
        kwargs.setdefault("environ", {})
        kwargs.setdefault("plugin_manager", get_plugin_manager(load_entry_points=False))
        return norq.Norq.from_dict(
            doc if doc is not None else document(), executor=executor, **kwargs
        )

    return build
