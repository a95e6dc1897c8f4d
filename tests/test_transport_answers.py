"""What every HTTP transport does with an answer it must not trust: a redirect, a huge body.

Each test runs on the three built-in clients, over real loopback HTTP:
httpx for sync sends, aiohttp (the default) and httpx for async ones.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Iterator
from typing import Any

import pytest

import norq
from norq.error_codes import ErrorCode
from norq.plugins import get_plugin_manager
from norq.receipt import Receipt
from norq.testing import MockServer, json_response

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
API_KEY_SECRET = "key-SECRET-for-the-redirect-test"
TO = "+15558675310"
CREATED = {"sid": "SM" + "ab" * 16, "status": "queued"}

CLIENTS = ["httpx-sync", "aiohttp", "httpx-async"]


def _document(base_url: str, client: str, **executor: Any) -> dict[str, Any]:
    return {
        "providers": {
            "twilio": {
                "config": {
                    "account_sid": ACCOUNT_SID,
                    "api_key_sid": "SK" + "fedcba9876543210" * 2,
                    "api_key_secret": API_KEY_SECRET,
                    "from": "+15005550006",
                    "base_url": base_url,
                },
                "retry": {"max_retries": 2, "backoff": 0, "retry_unconfirmed": True},
            }
        },
        "routing": {"sms": "twilio"},
        "executor": {
            "async_transport": "httpx" if client == "httpx-async" else "aiohttp",
            **executor,
        },
    }


def _send(document: dict[str, Any], client: str) -> Receipt:
    app = norq.Norq.from_dict(
        document, environ={}, plugin_manager=get_plugin_manager(load_entry_points=False)
    )

    async def send_async() -> Receipt:
        async with app:
            return await app.anotify("sms", TO, body="hi")  # type: ignore[no-any-return]

    try:
        if client == "httpx-sync":
            with app:
                return app.notify("sms", TO, body="hi")
        return asyncio.run(send_async())
    except norq.DeliveryError as failed:
        return failed.receipt


@pytest.fixture
def elsewhere() -> Iterator[MockServer]:
    """Another origin, which would accept anything sent to it."""
    with MockServer(handler=lambda request: json_response(201, CREATED)) as server:
        yield server


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_never_followed_and_fails_naming_the_location(
    client: str, status: int, elsewhere: MockServer
) -> None:
    location = f"{elsewhere.url}/steal?secret={API_KEY_SECRET}"
    with MockServer(
        handler=lambda request: json_response(status, headers={"Location": location})
    ) as api:
        receipt = _send(_document(api.url, client), client)

        assert len(api.requests) == 1  # not retried either
    assert elsewhere.requests == []
    assert not receipt.ok
    assert receipt.error is not None
    assert receipt.error.code == ErrorCode.BAD_RESPONSE
    assert receipt.error.disposition == "final"
    assert receipt.status_code == status
    assert f"HTTP {status} redirect to {elsewhere.url}/steal?secret=***" in receipt.error.message
    assert API_KEY_SECRET not in repr(receipt)


@pytest.mark.parametrize("client", CLIENTS)
def test_a_redirect_without_a_location_fails_too(client: str) -> None:
    with MockServer(json_response(302)) as api:
        receipt = _send(_document(api.url, client), client)
    assert receipt.error is not None
    assert receipt.error.code == ErrorCode.BAD_RESPONSE
    assert "HTTP 302 redirect without a Location" in receipt.error.message


def _gzipped(size: int) -> norq.Response:
    body = gzip.compress(b'{"sid": "SM1", "pad": "' + b"x" * size + b'"}', 9)
    return norq.Response(
        201, {"content-type": "application/json", "content-encoding": "gzip"}, body
    )


@pytest.mark.parametrize("client", CLIENTS)
def test_a_body_that_inflates_past_the_cap_is_a_bad_response(client: str) -> None:
    # 10 MB of JSON in about 10 KB of gzip; the cap is counted after decompression.
    answer = _gzipped(10_000_000)
    assert len(answer.body) < 20_000
    with MockServer(answer) as api:
        receipt = _send(_document(api.url, client, max_response_bytes=1_000_000), client)
        assert len(api.requests) == 1
    assert receipt.error is not None
    assert receipt.error.code == ErrorCode.BAD_RESPONSE
    assert receipt.error.disposition == "final"
    assert receipt.status_code == 201
    assert "larger than executor.max_response_bytes (1,000,000 bytes)" in receipt.error.message


@pytest.mark.parametrize("client", CLIENTS)
def test_a_plain_body_past_the_cap_is_a_bad_response(client: str) -> None:
    answer = json_response(201, {**CREATED, "pad": "x" * 300_000})
    with MockServer(answer) as api:
        receipt = _send(_document(api.url, client, max_response_bytes=100_000), client)
    assert receipt.error is not None
    assert receipt.error.code == ErrorCode.BAD_RESPONSE
    assert "larger than executor.max_response_bytes (100,000 bytes)" in receipt.error.message


@pytest.mark.parametrize("client", CLIENTS)
def test_a_body_within_the_cap_is_read_whole(client: str) -> None:
    with MockServer(_gzipped(500_000)) as api:
        receipt = _send(_document(api.url, client, max_response_bytes=600_000), client)
    assert receipt.ok
    assert receipt.message_id == "SM1"


def test_the_default_cap_is_ten_mebibytes() -> None:
    app = norq.Norq.from_dict({}, environ={})
    assert app.config.executor.max_response_bytes == 10 * 1024 * 1024
    assert app.executor.settings.max_response_bytes == 10 * 1024 * 1024
