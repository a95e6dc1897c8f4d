"""The sandbox speaks Telegram's Bot API sendMessage as the Bot API documents it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from norq_sandbox import SandboxServer
from norq_sandbox.settings import DEFAULT_TELEGRAM_TOKEN
from norq_sandbox.telegram import MIGRATED_TO, UNLUCKY_CHATS
from norq_sandbox.telegram_markup import EntityError, plain_text

SEND = f"/bot{DEFAULT_TELEGRAM_TOKEN}/sendMessage"


@pytest.fixture
def bot(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url, timeout=10) as client:
        yield client


def sent(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is True
    result: dict[str, Any] = body["result"]
    return result


def refused(response: httpx.Response) -> tuple[int, str]:
    body = response.json()
    assert body["ok"] is False
    assert body["error_code"] == response.status_code
    return response.status_code, body["description"]


def test_send_message_answers_the_message_it_posted(
    bot: httpx.Client, sandbox: SandboxServer
) -> None:
    first = sent(bot.post(SEND, json={"chat_id": -1001234567890, "text": "Deploy done"}))
    second = sent(bot.post(SEND, json={"chat_id": "-1001234567890", "text": "again"}))

    assert first["chat"] == {"id": -1001234567890, "title": "Sandbox group", "type": "supergroup"}
    assert first["text"] == "Deploy done"
    assert first["from"]["is_bot"] is True
    assert second["message_id"] == first["message_id"] + 1
    # The outbox lists the newest first.
    stored = sandbox.outbox("telegram")[::-1]
    assert [(m.channel, m.to, m.text) for m in stored] == [
        ("chat", ("-1001234567890",), "Deploy done"),
        ("chat", ("-1001234567890",), "again"),
    ]
    assert stored[0].provider_id == f"-1001234567890:{first['message_id']}"


def test_a_form_and_a_query_string_work_too(bot: httpx.Client) -> None:
    sent(bot.post(SEND, data={"chat_id": "42", "text": "form"}))
    sent(bot.get(SEND, params={"chat_id": "42", "text": "query"}))


def test_a_channel_username_gets_a_stable_channel_id(bot: httpx.Client) -> None:
    first = sent(bot.post(SEND, json={"chat_id": "@norq_releases", "text": "one"}))
    second = sent(bot.post(SEND, json={"chat_id": "@norq_releases", "text": "two"}))
    assert first["chat"]["id"] == second["chat"]["id"] < -1_000_000_000_000
    assert first["chat"]["type"] == "channel"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (f"/bot{DEFAULT_TELEGRAM_TOKEN[:-1]}X/sendMessage", (401, "Unauthorized")),
        ("/botnot-a-token/sendMessage", (404, "Not Found")),
        (f"/bot{DEFAULT_TELEGRAM_TOKEN}/sendTelepathy", (404, "Not Found")),
    ],
)
def test_tokens_and_methods_are_checked(
    bot: httpx.Client, path: str, expected: tuple[int, str]
) -> None:
    assert refused(bot.post(path, json={"chat_id": 42, "text": "hi"})) == expected


@pytest.mark.parametrize(("chat", "expected"), sorted(UNLUCKY_CHATS.items()))
def test_unlucky_chats_fail_as_telegram_answers(
    bot: httpx.Client, sandbox: SandboxServer, chat: str, expected: tuple[int, str]
) -> None:
    assert refused(bot.post(SEND, json={"chat_id": chat, "text": "hi"})) == expected
    assert sandbox.outbox("telegram") == []


def test_a_migrated_group_names_its_supergroup(bot: httpx.Client) -> None:
    answer = bot.post(SEND, json={"chat_id": -400000002, "text": "hi"}).json()
    assert answer["parameters"] == {"migrate_to_chat_id": MIGRATED_TO}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"text": "hi"}, (400, "Bad Request: chat_id is empty")),
        ({"chat_id": "ops", "text": "hi"}, (400, "Bad Request: chat not found")),
        ({"chat_id": 42}, (400, "Bad Request: message text is empty")),
        ({"chat_id": 42, "text": "x" * 4097}, (400, "Bad Request: message is too long")),
        (
            {"chat_id": 42, "text": "v1.2 shipped", "parse_mode": "MarkdownV2"},
            (
                400,
                "Bad Request: can't parse entities: Character '.' is reserved and must be "
                "escaped with the preceding '\\'",
            ),
        ),
        (
            {"chat_id": 42, "text": "a <script> b", "parse_mode": "HTML"},
            (
                400,
                'Bad Request: can\'t parse entities: Unsupported start tag "script" at byte '
                "offset 2",
            ),
        ),
        (
            {"chat_id": 42, "text": "hi", "parse_mode": "BBCode"},
            (400, "Bad Request: unsupported parse_mode"),
        ),
    ],
)
def test_what_telegram_refuses_is_refused(
    bot: httpx.Client, fields: dict[str, Any], expected: tuple[int, str]
) -> None:
    assert refused(bot.post(SEND, json=fields)) == expected


@pytest.mark.parametrize(
    ("mode", "text", "shown"),
    [
        (
            "MarkdownV2",
            "*Deployed* _api_ `1.2` to [prod](https://example.com/a\\)b)\\!",
            "Deployed api 1.2 to prod!",
        ),
        ("MarkdownV2", "\\*not bold\\* \\<@here\\> \\[x\\]\\(y\\)", "*not bold* <@here> [x](y)"),
        ("MarkdownV2", "__under__ ~gone~ ||spoiler||\n>quoted", "under gone spoiler\nquoted"),
        ("MarkdownV2", "```python\nprint(1)\n```", "print(1)\n"),
        (
            "HTML",
            '<b>Deployed</b> &lt;api&gt; &amp; <a href="https://x.test">docs</a>',
            "Deployed <api> & docs",
        ),
        ("html", "AT&T", "AT&T"),
        ("Markdown", "*Deployed* \\_api\\_ [docs](https://x.test)", "Deployed _api_ docs"),
    ],
)
def test_the_inbox_shows_what_the_chat_reads(
    bot: httpx.Client, sandbox: SandboxServer, mode: str, text: str, shown: str
) -> None:
    result = sent(bot.post(SEND, json={"chat_id": 42, "text": text, "parse_mode": mode}))
    assert result["text"] == shown
    (stored,) = sandbox.outbox("telegram")
    assert stored.text == shown
    assert (stored.details["format"], stored.details["source"]) == (mode, text)


@pytest.mark.parametrize(
    ("mode", "text"),
    [
        ("MarkdownV2", "*bold"),
        ("MarkdownV2", "[link](https://x.test"),
        ("MarkdownV2", "trailing \\"),
        ("MarkdownV2", "`code"),
        ("HTML", "<b>bold"),
        ("HTML", "<b>bold</i>"),
        ("Markdown", "_italic"),
    ],
)
def test_markup_that_never_closes_does_not_parse(mode: str, text: str) -> None:
    with pytest.raises(EntityError):
        plain_text(text, mode)


def test_a_429_carries_retry_after_in_parameters(bot: httpx.Client, sandbox: SandboxServer) -> None:
    sandbox.faults_for("telegram").add("429:3")
    response = bot.post(SEND, json={"chat_id": 42, "text": "hi"})
    assert refused(response) == (429, "Too Many Requests: retry after 3")
    assert response.json()["parameters"] == {"retry_after": 3}


def test_the_request_log_masks_the_token(bot: httpx.Client, sandbox: SandboxServer) -> None:
    sent(bot.post(SEND, json={"chat_id": 42, "text": "hi"}))
    (logged,) = sandbox.requests_to("telegram")
    assert DEFAULT_TELEGRAM_TOKEN not in logged.path
    assert logged.path == "/bot5550000001:********/sendMessage"
