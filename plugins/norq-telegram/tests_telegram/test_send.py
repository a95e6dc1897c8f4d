"""What goes on the wire for sendMessage, and what is refused before it."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

import norq
from tests.conftest import Sleeps
from tests_telegram.conftest import BOT_TOKEN, CHAT, SEND_URL, MakeNorq, document, sent

KEYBOARD = {"inline_keyboard": [[{"text": "Open", "url": "https://example.com/orders/42"}]]}


def wire(route: respx.Route) -> Any:
    return json.loads(route.calls.last.request.content)


@respx.mock
def test_the_request_is_exactly_send_message(make_norq: MakeNorq) -> None:
    route = respx.post(SEND_URL).mock(return_value=httpx.Response(200, json=sent()))
    receipt = make_norq().notify("chat", CHAT, body="Deploy finished")
    assert (receipt.ok, receipt.message_id) == (True, f"{CHAT}:42")
    request = route.calls.last.request
    assert request.method == "POST"
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert "authorization" not in request.headers
    # chat_id is an Integer for a numeric id; no parse_mode: the text is plain.
    assert wire(route) == {"chat_id": int(CHAT), "text": "Deploy finished"}


@respx.mock
def test_a_public_channel_is_named_by_its_username(make_norq: MakeNorq) -> None:
    route = respx.post(SEND_URL).mock(return_value=httpx.Response(200, json=sent(-100777)))
    receipt = make_norq().notify("chat", "@norq_releases", body="1.2 is out")
    assert wire(route)["chat_id"] == "@norq_releases"
    # The receipt names the chat by the id Telegram answered with.
    assert receipt.message_id == "-100777:42"


@respx.mock
def test_every_option_maps_onto_its_send_message_parameter(make_norq: MakeNorq) -> None:
    route = respx.post(SEND_URL).mock(return_value=httpx.Response(200, json=sent()))
    make_norq().notify(
        "chat",
        CHAT,
        body="*Deployed*",
        parse_mode="MarkdownV2",
        message_thread_id=7,
        disable_notification=True,
        protect_content=True,
        disable_link_preview=True,
        reply_to=41,
        reply_markup=KEYBOARD,
    )
    assert wire(route) == {
        "chat_id": int(CHAT),
        "text": "*Deployed*",
        "parse_mode": "MarkdownV2",
        "message_thread_id": 7,
        "disable_notification": True,
        "protect_content": True,
        "link_preview_options": {"is_disabled": True},
        "reply_parameters": {"message_id": 41},
        "reply_markup": KEYBOARD,
    }


@respx.mock
def test_reply_markup_may_be_json_text(make_norq: MakeNorq) -> None:
    route = respx.post(SEND_URL).mock(return_value=httpx.Response(200, json=sent()))
    make_norq().notify("chat", CHAT, body="hi", reply_markup=json.dumps(KEYBOARD))
    assert wire(route)["reply_markup"] == KEYBOARD


@respx.mock
@pytest.mark.parametrize("mode", ["MarkdownV2", "HTML", "Markdown"])
def test_the_configured_parse_mode_is_sent_with_every_message(
    make_norq: MakeNorq, mode: str
) -> None:
    route = respx.post(SEND_URL).mock(return_value=httpx.Response(200, json=sent()))
    make_norq(document(parse_mode=mode)).notify("chat", CHAT, body="hi")
    assert wire(route)["parse_mode"] == mode


@respx.mock
def test_a_message_may_ask_for_plain_text_on_an_instance_with_a_parse_mode(
    make_norq: MakeNorq,
) -> None:
    route = respx.post(SEND_URL).mock(return_value=httpx.Response(200, json=sent()))
    make_norq(document(parse_mode="HTML")).notify("chat", CHAT, body="a < b", parse_mode=None)
    assert wire(route) == {"chat_id": int(CHAT), "text": "a < b"}


@respx.mock
async def test_async_sends_the_same_request(make_norq: MakeNorq) -> None:
    route = respx.post(SEND_URL).mock(return_value=httpx.Response(200, json=sent()))
    receipt = await make_norq().anotify("chat", CHAT, body="Deploy finished")
    assert receipt.message_id == f"{CHAT}:42"
    assert wire(route) == {"chat_id": int(CHAT), "text": "Deploy finished"}


@respx.mock
def test_flood_control_is_waited_out_for_retry_after_seconds(
    make_norq: MakeNorq, sleeps: Sleeps
) -> None:
    too_many = {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 3",
        "parameters": {"retry_after": 3},
    }
    route = respx.post(SEND_URL).mock(
        side_effect=[httpx.Response(429, json=too_many), httpx.Response(200, json=sent())]
    )
    receipt = make_norq().notify("chat", CHAT, body="hi")
    assert (receipt.ok, receipt.attempts, route.call_count) == (True, 2, 2)
    assert sleeps.calls == [3]


@pytest.mark.parametrize(
    ("to", "why"),
    [
        ("ops", "is not a Telegram chat"),
        ("#ops", "is not a Telegram chat"),
        ("@ab", "is not a Telegram chat"),
        ("12 34", "is not a Telegram chat"),
        ("-0", "is not a Telegram chat"),
    ],
)
def test_a_recipient_that_is_not_a_chat_is_refused_before_sending(
    make_norq: MakeNorq, to: str, why: str
) -> None:
    with pytest.raises(norq.MessageError, match=why) as refused:
        make_norq().prepare("chat", to, body="hi")
    assert refused.value.code == "invalid_recipient"


@pytest.mark.parametrize(
    ("options", "why"),
    [
        ({"parse_mode": "markdown"}, "parse_mode must be one of MarkdownV2, HTML, Markdown"),
        ({"disable_notification": "yes"}, "disable_notification must be True or False"),
        ({"message_thread_id": 0}, "message_thread_id must be a positive"),
        ({"reply_to": "41"}, "reply_to must be a positive"),
        ({"reply_markup": [["Open"]]}, "reply_markup must be a mapping"),
        ({"reply_markup": "{"}, "reply_markup is text but not JSON"),
        ({"thread_ts": "1.2"}, "thread_ts"),
    ],
)
def test_an_option_telegram_would_refuse_is_refused_before_sending(
    make_norq: MakeNorq, options: dict[str, Any], why: str
) -> None:
    with pytest.raises(norq.MessageError, match=why):
        make_norq().prepare("chat", CHAT, body="hi", **options)


def test_plain_text_over_4096_utf16_units_is_refused(make_norq: MakeNorq) -> None:
    app = make_norq()
    app.prepare("chat", CHAT, body="x" * 4096)
    # An emoji outside the BMP counts twice, as Telegram counts it.
    with pytest.raises(norq.MessageError, match="4097 characters") as refused:
        app.prepare("chat", CHAT, body="x" * 4095 + "\N{ROCKET}")
    assert refused.value.code == "message_too_long"


def test_the_dry_run_masks_the_token_in_the_url(make_norq: MakeNorq) -> None:
    app = make_norq()
    prepared = app.prepare("chat", CHAT, body="hi")
    shown = app.redactor(prepared.request)
    assert BOT_TOKEN not in shown
    assert "POST https://telegram.test/bot***/sendMessage" in shown
    assert BOT_TOKEN not in repr(prepared.request)
