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
        (CHANNEL, {"unfurl_media": "no"}, "unfurl_media must be True or False"),
        (CHANNEL, {"mrkdwn": 1}, "mrkdwn must be True or False"),
        ("U0123", {}, "is not a Slack channel"),
        ("u0123abcde", {}, "is not a Slack channel"),
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


@respx.mock
@pytest.mark.parametrize("user", ["U0123ABCDE", "W0123ABCDE"])
def test_a_user_id_is_a_recipient_slack_posts_to_as_a_direct_message(
    make_norq: MakeNorq, user: str
) -> None:
    route = respx.post(POST_URL).mock(return_value=httpx.Response(200, json=posted("D0123ABCDE")))
    receipt = make_norq().notify("chat", user, body="Your export is ready")
    assert json.loads(route.calls.last.request.content)["channel"] == user
    assert receipt.message_id == "D0123ABCDE:1417671948.000006"


METADATA = {"event_type": "deploy_finished", "event_payload": {"service": "api", "version": 12}}


@respx.mock
@pytest.mark.parametrize("metadata", [METADATA, json.dumps(METADATA)], ids=["mapping", "json"])
def test_every_chat_post_message_option_reaches_the_wire(
    make_norq: MakeNorq, metadata: Any
) -> None:
    route = respx.post(POST_URL).mock(return_value=httpx.Response(200, json=posted()))
    make_norq().notify(
        "chat",
        CHANNEL,
        body="Deployed",
        thread_ts="1417671948.000006",
        reply_broadcast=True,
        unfurl_links=False,
        unfurl_media=False,
        mrkdwn=False,
        username="deploy-bot",
        icon_emoji=":rocket:",
        metadata=metadata,
    )
    assert json.loads(route.calls.last.request.content) == {
        "channel": CHANNEL,
        "text": "Deployed",
        "thread_ts": "1417671948.000006",
        "reply_broadcast": True,
        "unfurl_links": False,
        "unfurl_media": False,
        "mrkdwn": False,
        "username": "deploy-bot",
        "icon_emoji": ":rocket:",
        "metadata": METADATA,
    }


@respx.mock
def test_an_icon_can_be_an_image_url(make_norq: MakeNorq) -> None:
    route = respx.post(POST_URL).mock(return_value=httpx.Response(200, json=posted()))
    make_norq().notify("chat", CHANNEL, body="hi", icon_url="https://example.com/bot.png")
    sent = json.loads(route.calls.last.request.content)
    assert sent["icon_url"] == "https://example.com/bot.png"


@pytest.mark.parametrize(
    ("fields", "complaint"),
    [
        ({"reply_broadcast": True}, "reply_broadcast needs thread_ts"),
        ({"reply_broadcast": "yes", "thread_ts": "1.2"}, "reply_broadcast must be True or False"),
        ({"username": ""}, "username must be non-empty text"),
        ({"username": 7}, "username must be non-empty text"),
        ({"icon_emoji": "rocket"}, "icon_emoji must be an emoji name between colons"),
        ({"icon_url": "ftp://example.com/a.png"}, "icon_url must be an http"),
        (
            {"icon_emoji": ":rocket:", "icon_url": "https://example.com/a.png"},
            "give icon_emoji or icon_url, not both",
        ),
        ({"metadata": {"event_payload": {}}}, "metadata needs an event_type"),
        ({"metadata": {"event_type": "x", "event_payload": [1]}}, "event_payload must be a"),
        ({"metadata": {"event_type": "x"}}, "metadata needs an event_payload"),
        ({"metadata": "{nope"}, "metadata is text but not JSON"),
        ({"metadata": {"event_type": "x", "event_payload": {}, "extra": 1}}, "only event_type"),
    ],
)
def test_bad_options_are_refused_before_any_request(
    make_norq: MakeNorq, fields: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(norq.MessageError, match=complaint):
        make_norq().prepare("chat", CHANNEL, body="hi", **fields)


@respx.mock
def test_a_webhook_takes_the_formatting_options(make_norq: MakeNorq) -> None:
    route = respx.post(WEBHOOK_URL).mock(return_value=httpx.Response(200, text="ok"))
    app = make_norq(document("hook", hook=webhook()))
    app.notify("chat", "#alerts", body="hi", unfurl_media=False, mrkdwn=False)
    assert json.loads(route.calls.last.request.content) == {
        "text": "hi",
        "unfurl_media": False,
        "mrkdwn": False,
    }


@pytest.mark.parametrize(
    "option", ["username", "icon_emoji", "icon_url", "metadata", "reply_broadcast", "thread_ts"]
)
def test_a_webhook_refuses_what_only_the_web_api_does(make_norq: MakeNorq, option: str) -> None:
    app = make_norq(document("hook", hook=webhook()))
    with pytest.raises(norq.MessageError, match=f"does not understand '{option}'"):
        app.prepare("chat", "#alerts", body="hi", **{option: "x"})
