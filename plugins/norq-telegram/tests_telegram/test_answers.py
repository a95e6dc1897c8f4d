"""Telegram's answers: every documented failure's code and disposition, and odd answers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from norq_telegram import TELEGRAM_ERRORS, TelegramConfig, TelegramProvider

import norq
from tests_telegram.conftest import CHAT, refused, sent, telegram

RETRY, FAILOVER, FINAL = "retry", "failover", "final"

# Each documented failure as Telegram answers it, and what it means; the table
# in docs/providers/telegram.md lists the same keys.
EXPECTED: dict[str, tuple[int, str, str, str]] = {
    "Bad Request: chat not found": (400, "Bad Request: chat not found", "invalid_recipient", FINAL),
    "Bad Request: chat_id is empty": (
        400,
        "Bad Request: chat_id is empty",
        "invalid_recipient",
        FINAL,
    ),
    "Bad Request: PEER_ID_INVALID": (
        400,
        "Bad Request: PEER_ID_INVALID",
        "invalid_recipient",
        FINAL,
    ),
    "Bad Request: group chat was upgraded to a supergroup chat": (
        400,
        "Bad Request: group chat was upgraded to a supergroup chat",
        "invalid_recipient",
        FINAL,
    ),
    "Forbidden: bot can't send messages to bots": (
        403,
        "Forbidden: bot can't send messages to bots",
        "invalid_recipient",
        FINAL,
    ),
    "Forbidden: bot was blocked by the user": (
        403,
        "Forbidden: bot was blocked by the user",
        "recipient_opted_out",
        FINAL,
    ),
    "Forbidden: user is deactivated": (
        403,
        "Forbidden: user is deactivated",
        "recipient_unreachable",
        FINAL,
    ),
    "Forbidden: bot can't initiate conversation with a user": (
        403,
        "Forbidden: bot can't initiate conversation with a user",
        "recipient_unreachable",
        FINAL,
    ),
    "Forbidden: bot was kicked from the": (
        403,
        "Forbidden: bot was kicked from the supergroup chat",
        "permission_denied",
        FINAL,
    ),
    "Forbidden: bot is not a member of the": (
        403,
        "Forbidden: bot is not a member of the channel chat",
        "permission_denied",
        FINAL,
    ),
    "Bad Request: not enough rights to send": (
        400,
        "Bad Request: not enough rights to send text messages to the chat",
        "permission_denied",
        FINAL,
    ),
    "Bad Request: have no rights to send a message": (
        400,
        "Bad Request: have no rights to send a message",
        "permission_denied",
        FINAL,
    ),
    "Bad Request: need administrator rights in the channel chat": (
        400,
        "Bad Request: need administrator rights in the channel chat",
        "permission_denied",
        FINAL,
    ),
    "Bad Request: message is too long": (
        400,
        "Bad Request: message is too long",
        "message_too_long",
        FINAL,
    ),
    "Bad Request: message text is empty": (
        400,
        "Bad Request: message text is empty",
        "invalid_message",
        FINAL,
    ),
    "Bad Request: can't parse entities": (
        400,
        "Bad Request: can't parse entities: Character '.' is reserved and must be escaped "
        "with the preceding '\\'",
        "invalid_message",
        FINAL,
    ),
    "Bad Request: message thread not found": (
        400,
        "Bad Request: message thread not found",
        "invalid_message",
        FINAL,
    ),
    "Bad Request: message to be replied not found": (
        400,
        "Bad Request: message to be replied not found",
        "invalid_message",
        FINAL,
    ),
    "Bad Request: can't parse inline keyboard button": (
        400,
        "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the "
        "inline keyboard",
        "invalid_message",
        FINAL,
    ),
    "Unauthorized": (401, "Unauthorized", "invalid_credentials", FAILOVER),
    "Not Found": (404, "Not Found", "invalid_credentials", FAILOVER),
    "Too Many Requests": (429, "Too Many Requests: retry after 5", "rate_limited", RETRY),
}

PROVIDER = TelegramProvider(TelegramConfig.model_validate(telegram()["config"]))
REQUEST = PROVIDER.prepare_send(norq.Message("chat", CHAT, "hi"))


def read(status: int, body: Any = b"", headers: dict[str, str] | None = None) -> norq.SendResult:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return PROVIDER.read_send(REQUEST, norq.Response(status, headers or {}, raw))


def test_the_table_covers_exactly_the_documented_failures() -> None:
    assert set(TELEGRAM_ERRORS) == set(EXPECTED)


@pytest.mark.parametrize(("key", "answer"), sorted(EXPECTED.items()))
def test_each_failure_has_its_code_and_disposition(
    key: str, answer: tuple[int, str, str, str]
) -> None:
    status, description, code, disposition = answer
    result = read(status, refused(status, description))
    assert (result.ok, result.code, result.disposition) == (False, code, disposition)
    assert (result.provider_code, result.message) == (description, f"Telegram: {description}")


def test_a_bot_the_user_blocked_is_final_and_reads_as_an_opt_out() -> None:
    result = read(403, refused(403, "Forbidden: bot was blocked by the user"))
    assert (result.code, result.disposition) == ("recipient_opted_out", FINAL)


def test_flood_control_waits_for_retry_after_from_parameters() -> None:
    result = read(429, refused(429, "Too Many Requests: retry after 17", retry_after=17))
    assert (result.code, result.disposition, result.retry_after) == ("rate_limited", RETRY, 17)


def test_parameters_win_over_the_retry_after_header() -> None:
    answer = refused(429, "Too Many Requests: retry after 9", retry_after=9)
    result = read(429, answer, {"Retry-After": "2"})
    assert result.retry_after == 9


def test_the_retry_after_header_is_read_when_parameters_say_nothing() -> None:
    result = read(429, refused(429, "Too Many Requests"), {"Retry-After": "4"})
    assert result.retry_after == 4


def test_a_migrated_group_names_its_new_supergroup() -> None:
    answer = refused(
        400,
        "Bad Request: group chat was upgraded to a supergroup chat",
        migrate_to_chat_id=-1009876543210,
    )
    result = read(400, answer)
    assert "the group is now the supergroup -1009876543210: send to that id" in (
        result.message or ""
    )


@pytest.mark.parametrize(
    ("status", "description", "expected"),
    [
        (400, "Bad Request: something new", ("rejected", FINAL)),
        (403, "Forbidden: something new", ("permission_denied", FINAL)),
        (429, "Slow down", ("rate_limited", RETRY)),
        (500, "Internal Server Error", ("provider_unavailable", RETRY)),
        (502, "Bad Gateway", ("provider_unavailable", RETRY)),
    ],
)
def test_an_unlisted_description_is_read_by_its_status(
    status: int, description: str, expected: tuple[str, str]
) -> None:
    result = read(status, refused(status, description))
    assert (result.code, result.disposition) == expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [(502, ("provider_unavailable", RETRY)), (504, ("provider_unavailable", RETRY))],
)
def test_a_proxy_page_instead_of_json_is_read_by_its_status(
    status: int, expected: tuple[str, str]
) -> None:
    result = read(status, b"<html><body>502 Bad Gateway</body></html>")
    assert (result.code, result.disposition) == expected


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<html>",
        b"[]",
        {"ok": "yes"},
        {"ok": True},
        {"ok": True, "result": {"message_id": 1}},
        {"ok": True, "result": {"message_id": "1", "chat": {"id": 5}}},
        {"ok": True, "result": {"message_id": True, "chat": {"id": 5}}},
    ],
)
def test_a_200_that_is_not_a_sent_message_is_a_bad_response(body: Any) -> None:
    result = read(200, body)
    assert (result.code, result.disposition) == ("bad_response", FINAL)


def test_a_sent_message_is_named_chat_and_message_id() -> None:
    result = read(200, sent(-100555, 7))
    assert (result.ok, result.message_id) == (True, "-100555:7")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)
bodies = st.binary(max_size=64) | st.builds(lambda v: json.dumps(v).encode(), json_values)
shaped = st.builds(
    lambda ok, code, description, parameters: json.dumps(
        {"ok": ok, "error_code": code, "description": description, "parameters": parameters}
    ).encode(),
    st.booleans(),
    json_values,
    json_values,
    json_values,
)


@given(status=st.sampled_from([200, 400, 401, 403, 404, 429, 500, 502]), body=bodies | shaped)
def test_any_answer_is_read_without_raising(status: int, body: bytes) -> None:
    result = read(status, body)
    if result.ok:
        assert status == 200
        chat, _, message_id = (result.message_id or "").partition(":")
        assert chat
        assert message_id
    else:
        assert result.disposition in (RETRY, FAILOVER, FINAL)
        assert result.retry_after is None or result.retry_after >= 0
