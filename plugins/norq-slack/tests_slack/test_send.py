"""What goes on the wire for both Slack provider types, and what is refused before it."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

import norq
from tests_slack.conftest import (
    BOT_TOKEN,
    CHANNEL,
    POST_URL,
    WEBHOOK_URL,
    MakeNorq,
    document,
    posted,
    slack,
    webhook,
)

BLOCKS = [
    {"type": "header", "text": {"type": "plain_text", "text": "Deployed"}},
    {"type": "section", "text": {"type": "mrkdwn", "text": "*api* is at `1.2`"}},
]


@respx.mock
def test_the_bot_request_is_exactly_chat_post_message(make_norq: MakeNorq) -> None:
    route = respx.post(POST_URL).mock(return_value=httpx.Response(200, json=posted()))
    receipt = make_norq().notify("chat", CHANNEL, body="Deploy finished")
    assert (receipt.ok, receipt.message_id) == (True, f"{CHANNEL}:1417671948.000006")
    request = route.calls.last.request
    assert request.headers["Authorization"] == f"Bearer {BOT_TOKEN}"
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert json.loads(request.content) == {"channel": CHANNEL, "text": "Deploy finished"}


@respx.mock
def test_a_channel_name_is_sent_as_is_and_the_answer_names_the_id(make_norq: MakeNorq) -> None:
    route = respx.post(POST_URL).mock(return_value=httpx.Response(200, json=posted("C999")))
    receipt = make_norq().notify("chat", "#deploys", body="hi")
    assert json.loads(route.calls.last.request.content)["channel"] == "#deploys"
    assert receipt.message_id == "C999:1417671948.000006"


@respx.mock
@pytest.mark.parametrize(
    "blocks", [BLOCKS, json.dumps(BLOCKS), {"blocks": BLOCKS}], ids=["list", "json", "builder"]
)
def test_block_kit_comes_through_the_blocks_option(make_norq: MakeNorq, blocks: Any) -> None:
    route = respx.post(POST_URL).mock(return_value=httpx.Response(200, json=posted()))
    make_norq().notify(
        "chat",
        CHANNEL,
        body="Deployed api 1.2",
        blocks=blocks,
        thread_ts="1417671948.000006",
        unfurl_links=False,
    )
    assert json.loads(route.calls.last.request.content) == {
        "channel": CHANNEL,
        "text": "Deployed api 1.2",
        "blocks": BLOCKS,
        "thread_ts": "1417671948.000006",
        "unfurl_links": False,
    }


@respx.mock
def test_text_comes_from_a_template(make_norq: MakeNorq) -> None:
    route = respx.post(POST_URL).mock(return_value=httpx.Response(200, json=posted()))
    doc = {
        **document(),
        "templates": {"deployed": {"chat": {"body": "Deployed {{ service }} {{ version }}"}}},
    }
    make_norq(doc).notify(
        "chat", CHANNEL, template="deployed", data={"service": "api", "version": "1.2"}
    )
    assert json.loads(route.calls.last.request.content)["text"] == "Deployed api 1.2"


@respx.mock
def test_the_webhook_request_posts_json_to_the_secret_url(make_norq: MakeNorq) -> None:
    route = respx.post(WEBHOOK_URL).mock(return_value=httpx.Response(200, text="ok"))
    app = make_norq(document("hook", hook=webhook()))
    receipt = app.notify("chat", "#alerts", body="Disk almost full", blocks=BLOCKS)
    request = route.calls.last.request
    assert "Authorization" not in request.headers
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert json.loads(request.content) == {"text": "Disk almost full", "blocks": BLOCKS}
    # Slack returns no id for a webhook post: the receipt is ok, without one.
    assert (receipt.ok, receipt.message_id, receipt.provider) == (True, None, "hook")


def test_a_webhook_bound_to_a_channel_refuses_other_recipients(make_norq: MakeNorq) -> None:
    app = make_norq(document("hook", hook=webhook(channel="#alerts")))
    assert app.prepare("chat", "#alerts", body="hi").provider == "hook"
    with pytest.raises(norq.MessageError, match="posts only to #alerts, not #general"):
        app.prepare("chat", "#general", body="hi")


def test_the_webhook_request_hides_its_url_in_repr(make_norq: MakeNorq) -> None:
    request = make_norq(document("hook", hook=webhook())).prepare("chat", "#a", body="x").request
    assert repr(request) == "<PreparedRequest POST https://hooks.slack.test/***>"


def test_prepare_send_is_pure(make_norq: MakeNorq) -> None:
    app = make_norq()
    first = app.prepare("chat", CHANNEL, body="hi", blocks=BLOCKS).request
    assert first == app.prepare("chat", CHANNEL, body="hi", blocks=BLOCKS).request


@pytest.mark.parametrize("provider", ["slack", "hook"])
@pytest.mark.parametrize(
    ("to", "fields", "complaint"),
    [
        ("general", {}, "is not a Slack channel"),
        ("#General", {}, "is not a Slack channel"),
        ("c0123abcde", {}, "is not a Slack channel"),
        (CHANNEL, {"body": "x" * 40_001}, "at most 40000"),
        (CHANNEL, {"blocks": []}, "non-empty list of Block Kit blocks"),
        (CHANNEL, {"blocks": "{not json"}, "blocks is text but not JSON"),
        (
            CHANNEL,
            {"blocks": [{"text": "no type"}]},
            r"blocks\[0\] must be a mapping with a 'type'",
        ),
        (CHANNEL, {"blocks": [{"type": "divider"}] * 51}, "at most 50"),
        (CHANNEL, {"unfurl_links": "no"}, "unfurl_links must be True or False"),
        (CHANNEL, {"icon_emoji": ":x:"}, "icon_emoji"),
    ],
)
def test_bad_messages_are_refused_before_any_request(
    make_norq: MakeNorq, provider: str, to: str, fields: dict[str, Any], complaint: str
) -> None:
    app = make_norq(document(provider, slack=slack(), hook=webhook()))
    fields = {"body": "hi", **fields}
    with respx.mock(assert_all_called=False) as mock:
        routes = [mock.post(POST_URL), mock.post(WEBHOOK_URL)]
        with pytest.raises(norq.MessageError, match=complaint):
            app.notify("chat", to, **fields)
        assert not any(route.called for route in routes)


@pytest.mark.parametrize("thread_ts", ["yesterday", 1417671948.000006, "1417671948"])
def test_thread_ts_must_be_a_message_timestamp(make_norq: MakeNorq, thread_ts: Any) -> None:
    with pytest.raises(norq.MessageError, match="thread_ts must be a message timestamp"):
        make_norq().prepare("chat", CHANNEL, body="hi", thread_ts=thread_ts)
