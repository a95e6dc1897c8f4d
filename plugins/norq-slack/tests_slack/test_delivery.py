"""Rate limits, failover and async delivery for Slack: respx for sync, a sandbox for aiohttp."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx
from norq_sandbox import SandboxServer
from norq_sandbox.settings import DEFAULT_SLACK_TOKEN

import norq
from tests_slack.conftest import (
    CHANNEL,
    POST_URL,
    WEBHOOK_URL,
    MakeNorq,
    Sleeps,
    document,
    posted,
    slack,
    webhook,
)

FAST_RETRY = {"max_retries": 2, "backoff": 0.01, "jitter": 0}


def bot_then_hook() -> dict[str, Any]:
    return document(["slack", "hook"], slack=slack(), hook=webhook())


def refused(error: str) -> httpx.Response:
    return httpx.Response(200, json={"ok": False, "error": error})


@respx.mock
def test_429_waits_for_retry_after_then_posts(make_norq: MakeNorq, sleeps: Sleeps) -> None:
    route = respx.post(POST_URL).mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "2"}, json=refused("ratelimited").json()),
            httpx.Response(200, json=posted()),
        ]
    )
    receipt = make_norq().notify("chat", CHANNEL, body="hi")
    assert (receipt.ok, receipt.attempts) == (True, 2)
    assert route.call_count == 2
    assert sleeps.calls == [2.0]


@respx.mock
def test_ratelimited_inside_a_200_is_retried(make_norq: MakeNorq) -> None:
    respx.post(POST_URL).mock(
        side_effect=[refused("ratelimited"), httpx.Response(200, json=posted())]
    )
    assert make_norq().notify("chat", CHANNEL, body="hi").attempts == 2


@respx.mock
@pytest.mark.parametrize("error", ["internal_error", "fatal_error"])
def test_a_possibly_posted_message_is_neither_retried_nor_failed_over(
    make_norq: MakeNorq, error: str
) -> None:
    route = respx.post(POST_URL).mock(return_value=refused(error))
    hook = respx.post(WEBHOOK_URL).mock(return_value=httpx.Response(200, text="ok"))
    app = make_norq(bot_then_hook())
    with pytest.raises(norq.DeliveryError) as caught:
        app.notify("chat", CHANNEL, body="hi")
    receipt = caught.value.receipt
    assert route.call_count == 1
    assert not hook.called
    assert receipt.unconfirmed
    assert receipt.error is not None
    assert (receipt.error.code, receipt.error.provider_code) == ("outcome_unknown", error)
    assert receipt.error.disposition == "final"


@respx.mock
def test_with_unconfirmed_retries_allowed_it_is_retried_then_failed_over(
    make_norq: MakeNorq,
) -> None:
    route = respx.post(POST_URL).mock(return_value=refused("internal_error"))
    hook = respx.post(WEBHOOK_URL).mock(return_value=httpx.Response(200, text="ok"))
    doc = bot_then_hook()
    doc["providers"]["slack"]["retry"] = {**FAST_RETRY, "retry_unconfirmed": True}
    receipt = make_norq(doc).notify("chat", CHANNEL, body="hi")
    assert route.call_count == 3
    assert hook.call_count == 1
    assert (receipt.ok, receipt.provider) == (True, "hook")


@respx.mock
@pytest.mark.parametrize("error", ["org_login_required", "team_added_to_org"])
def test_a_workspace_migration_is_retried_then_failed_over(make_norq: MakeNorq, error: str) -> None:
    route = respx.post(POST_URL).mock(return_value=refused(error))
    hook = respx.post(WEBHOOK_URL).mock(return_value=httpx.Response(200, text="ok"))
    doc = bot_then_hook()
    doc["providers"]["slack"]["retry"] = FAST_RETRY
    receipt = make_norq(doc).notify("chat", CHANNEL, body="hi")
    assert route.call_count == 3
    assert hook.call_count == 1
    assert (receipt.ok, receipt.provider) == (True, "hook")


@respx.mock
@pytest.mark.parametrize("error", ["invalid_auth", "account_inactive", "missing_scope"])
def test_token_problems_fail_over_to_the_webhook(make_norq: MakeNorq, error: str) -> None:
    bot = respx.post(POST_URL).mock(return_value=refused(error))
    hook = respx.post(WEBHOOK_URL).mock(return_value=httpx.Response(200, text="ok"))
    receipt = make_norq(bot_then_hook()).notify("chat", CHANNEL, body="hi")
    assert (receipt.ok, receipt.provider, receipt.message_id, receipt.attempts) == (
        True,
        "hook",
        None,
        2,
    )
    assert (bot.call_count, hook.call_count) == (1, 1)


@respx.mock
@pytest.mark.parametrize("error", ["channel_not_found", "invalid_blocks", "msg_too_long"])
def test_a_wrong_channel_or_message_is_final(make_norq: MakeNorq, error: str) -> None:
    respx.post(POST_URL).mock(return_value=refused(error))
    hook = respx.post(WEBHOOK_URL)
    with pytest.raises(norq.DeliveryError) as caught:
        make_norq(bot_then_hook()).notify("chat", CHANNEL, body="hi")
    failure = caught.value.receipt.error
    assert failure is not None
    assert (failure.provider_code, failure.disposition) == (error, "final")
    assert not hook.called


@respx.mock
def test_a_revoked_webhook_fails_over(make_norq: MakeNorq) -> None:
    respx.post(WEBHOOK_URL).mock(return_value=httpx.Response(404, text="no_service"))
    bot = respx.post(POST_URL).mock(return_value=httpx.Response(200, json=posted()))
    doc = document(["hook", "slack"], slack=slack(), hook=webhook())
    receipt = make_norq(doc).notify("chat", CHANNEL, body="hi")
    assert (receipt.ok, receipt.provider) == (True, "slack")
    assert bot.call_count == 1


# -- async, on the default transport (aiohttp), against a real loopback sandbox ----


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(step_delay=0.01) as server:
        yield server


def sandboxed_bot(url: str, token: str = DEFAULT_SLACK_TOKEN) -> dict[str, Any]:
    return {**slack(bot_token=token, base_url=url), "retry": FAST_RETRY}


def sandboxed_hook(url: str, path: str = "T0SANDBOX/B0SANDBOX/secret") -> dict[str, Any]:
    return {**webhook(webhook_url=f"{url}/services/{path}"), "retry": FAST_RETRY}


async def test_async_post_on_aiohttp_reaches_the_sandbox(sandbox: SandboxServer) -> None:
    async with norq.Norq.from_dict(document(slack=sandboxed_bot(sandbox.url)), environ={}) as app:
        receipt = await app.anotify("chat", "#deploys", body="Deployed api 1.2")
    assert receipt.ok
    (message,) = sandbox.outbox("slack")
    assert message.text == "Deployed api 1.2"
    channel, _, ts = (receipt.message_id or "").partition(":")
    assert channel.startswith("C")
    assert ts == message.provider_id


async def test_async_webhook_on_aiohttp_reaches_the_sandbox(sandbox: SandboxServer) -> None:
    doc = document("hook", hook=sandboxed_hook(sandbox.url))
    async with norq.Norq.from_dict(doc, environ={}) as app:
        receipt = await app.anotify("chat", "#alerts", body="Disk almost full")
    assert (receipt.ok, receipt.message_id) == (True, None)
    (message,) = sandbox.outbox("slack-webhook")
    assert message.text == "Disk almost full"


async def test_async_rate_limit_is_waited_out_on_aiohttp(sandbox: SandboxServer) -> None:
    sandbox.faults_for("slack").add("429:0")
    async with norq.Norq.from_dict(document(slack=sandboxed_bot(sandbox.url)), environ={}) as app:
        receipt = await app.anotify("chat", CHANNEL, body="hi")
    assert (receipt.ok, receipt.attempts) == (True, 2)


async def test_async_bad_token_fails_over_to_the_webhook_on_aiohttp(
    sandbox: SandboxServer,
) -> None:
    doc = document(
        ["slack", "hook"],
        slack=sandboxed_bot(sandbox.url, token="xoxb-wrong"),
        hook=sandboxed_hook(sandbox.url),
    )
    async with norq.Norq.from_dict(doc, environ={}) as app:
        receipt = await app.anotify("chat", CHANNEL, body="hi")
    assert (receipt.ok, receipt.provider, receipt.attempts) == (True, "hook", 2)
    assert receipt.error is None
