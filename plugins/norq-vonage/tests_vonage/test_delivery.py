"""Retries, failover and async delivery for Vonage: respx for sync, a real sandbox for aiohttp."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx
from norq_sandbox import SandboxServer
from norq_sandbox.settings import DEFAULT_VONAGE_API_KEY, DEFAULT_VONAGE_API_SECRET

import norq
from tests_vonage.conftest import (
    RECIPIENT,
    SMS_URL,
    MakeNorq,
    Sleeps,
    answer,
    document,
    refused,
    sent,
    vonage,
)

BACKUP_URL = "https://backup.vonage.test/sms/json"
FAST_RETRY = {"max_retries": 2, "backoff": 0.01, "jitter": 0}


def with_backup() -> dict[str, Any]:
    return document(
        ["vonage", "backup"],
        vonage=vonage(),
        backup=vonage(base_url="https://backup.vonage.test"),
    )


@respx.mock
def test_throttled_inside_a_200_is_retried(make_norq: MakeNorq, sleeps: Sleeps) -> None:
    route = respx.post(SMS_URL).mock(
        side_effect=[
            httpx.Response(200, json=answer(refused("1", "Throttled"))),
            httpx.Response(200, json=answer(sent())),
        ]
    )
    receipt = make_norq().notify("sms", RECIPIENT, body="hi")
    assert receipt.ok
    assert receipt.attempts == 2
    assert route.call_count == 2
    assert len(sleeps.calls) == 1


@respx.mock
@pytest.mark.parametrize(("status", "text"), [("4", "Bad Credentials"), ("9", "Quota Exceeded")])
def test_credentials_and_quota_fail_over_to_the_next_provider(
    make_norq: MakeNorq, status: str, text: str
) -> None:
    respx.post(SMS_URL).mock(return_value=httpx.Response(200, json=answer(refused(status, text))))
    backup = respx.post(BACKUP_URL).mock(return_value=httpx.Response(200, json=answer(sent("B1"))))
    receipt = make_norq(with_backup()).notify("sms", RECIPIENT, body="hi")
    assert receipt.ok
    assert (receipt.provider, receipt.message_id, receipt.attempts) == ("backup", "B1", 2)
    assert backup.call_count == 1


@respx.mock
def test_invalid_parameters_are_final_and_do_not_fail_over(make_norq: MakeNorq) -> None:
    respx.post(SMS_URL).mock(
        return_value=httpx.Response(200, json=answer(refused("3", "Invalid Parameters")))
    )
    backup = respx.post(BACKUP_URL)
    with pytest.raises(norq.DeliveryError) as caught:
        make_norq(with_backup()).notify("sms", RECIPIENT, body="hi")
    receipt = caught.value.receipt
    assert receipt.error is not None
    assert (receipt.error.code, receipt.error.disposition) == ("invalid_message", "final")
    assert receipt.error.provider_code == "3"
    assert (receipt.provider, receipt.status_code) == ("vonage", 200)
    assert not backup.called


@respx.mock
def test_throttling_that_outlasts_the_retries_fails_over(make_norq: MakeNorq) -> None:
    primary = respx.post(SMS_URL).mock(
        return_value=httpx.Response(200, json=answer(refused("1", "Throttled")))
    )
    respx.post(BACKUP_URL).mock(return_value=httpx.Response(200, json=answer(sent("B2"))))
    receipt = make_norq(with_backup()).notify("sms", RECIPIENT, body="hi")
    assert (receipt.ok, receipt.provider) == (True, "backup")
    assert primary.call_count == 3  # the first attempt and two retries


# -- async, on the default transport (aiohttp), against a real loopback sandbox ----


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(step_delay=0.01) as server:
        yield server


def sandboxed(url: str, **config: Any) -> dict[str, Any]:
    settings = {
        "api_key": DEFAULT_VONAGE_API_KEY,
        "api_secret": DEFAULT_VONAGE_API_SECRET,
        "base_url": url,
        **config,
    }
    return {**vonage(**settings), "retry": FAST_RETRY}


async def test_async_send_on_aiohttp_reaches_the_sandbox(sandbox: SandboxServer) -> None:
    async with norq.Norq.from_dict(document(vonage=sandboxed(sandbox.url)), environ={}) as app:
        receipt = await app.anotify("sms", RECIPIENT, body="Your code is 1234", client_ref="r1")
    assert receipt.ok
    (message,) = sandbox.outbox("vonage")
    assert receipt.message_id == message.provider_id
    assert message.text == "Your code is 1234"
    assert message.to == (RECIPIENT[1:],)


async def test_async_throttling_is_retried_on_aiohttp(sandbox: SandboxServer) -> None:
    sandbox.faults_for("vonage").add("429")
    async with norq.Norq.from_dict(document(vonage=sandboxed(sandbox.url)), environ={}) as app:
        receipt = await app.anotify("sms", RECIPIENT, body="hi")
    assert (receipt.ok, receipt.attempts) == (True, 2)


async def test_async_bad_credentials_fail_over_on_aiohttp(sandbox: SandboxServer) -> None:
    doc = document(
        ["vonage", "backup"],
        vonage=sandboxed(sandbox.url, api_secret="not-the-secret"),
        backup=sandboxed(sandbox.url),
    )
    async with norq.Norq.from_dict(doc, environ={}) as app:
        receipt = await app.anotify("sms", RECIPIENT, body="hi")
    assert (receipt.ok, receipt.provider, receipt.attempts) == (True, "backup", 2)
    assert len(sandbox.outbox("vonage")) == 1
