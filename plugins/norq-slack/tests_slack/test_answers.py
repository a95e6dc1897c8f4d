"""Slack's answers: ok:false inside a 200, webhook errors as text, codes and dispositions."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from norq_slack import SLACK_ERRORS, SlackProvider, SlackWebhookProvider

import norq
from tests_slack.conftest import CHANNEL, MakeNorq, document, slack, webhook

RETRY, FAILOVER, FINAL = "retry", "failover", "final"

# The table in docs/providers/slack.md, written out so a change to either shows.
EXPECTED = {
    "channel_not_found": ("invalid_recipient", FINAL),
    "user_not_found": ("invalid_recipient", FINAL),
    "not_in_channel": ("permission_denied", FINAL),
    "is_archived": ("recipient_unreachable", FINAL),
    "channel_is_archived": ("recipient_unreachable", FINAL),
    "msg_too_long": ("message_too_long", FINAL),
    "no_text": ("invalid_message", FINAL),
    "too_many_attachments": ("invalid_message", FINAL),
    "invalid_blocks": ("invalid_message", FINAL),
    "invalid_blocks_format": ("invalid_message", FINAL),
    "invalid_payload": ("invalid_message", FINAL),
    "invalid_auth": ("invalid_credentials", FAILOVER),
    "not_authed": ("invalid_credentials", FAILOVER),
    "account_inactive": ("invalid_credentials", FAILOVER),
    "token_revoked": ("invalid_credentials", FAILOVER),
    "token_expired": ("invalid_credentials", FAILOVER),
    "no_service": ("invalid_credentials", FAILOVER),
    "missing_scope": ("permission_denied", FAILOVER),
    "no_permission": ("permission_denied", FAILOVER),
    "ekm_access_denied": ("permission_denied", FAILOVER),
    "team_access_not_granted": ("permission_denied", FAILOVER),
    "action_prohibited": ("permission_denied", FAILOVER),
    "ratelimited": ("rate_limited", RETRY),
    "rate_limited": ("rate_limited", RETRY),
    # "Some aspect of the operation may have succeeded": like a lost answer.
    "internal_error": ("outcome_unknown", FINAL),
    "fatal_error": ("outcome_unknown", FINAL),
    # A workspace moving into an Enterprise org: unavailable for a while.
    "org_login_required": ("provider_unavailable", RETRY),
    "team_added_to_org": ("provider_unavailable", RETRY),
    "service_unavailable": ("provider_unavailable", RETRY),
    "request_timeout": ("provider_unavailable", RETRY),
    "rollup_error": ("provider_unavailable", RETRY),
}


@pytest.fixture
def bot(make_norq: MakeNorq) -> Any:
    return reader(make_norq(document(slack=slack())).providers["slack"])


@pytest.fixture
def hook(make_norq: MakeNorq) -> Any:
    return reader(make_norq(document("hook", hook=webhook())).providers["hook"])


def reader(provider: norq.Provider) -> Any:
    request = provider.prepare_send(norq.Message("chat", CHANNEL, "hi"))

    def read(status: int, body: Any = b"", headers: dict[str, str] | None = None) -> Any:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return provider.read_send(request, norq.Response(status, headers or {}, raw))

    return read


def test_the_table_covers_exactly_the_documented_errors() -> None:
    assert set(SLACK_ERRORS) == set(EXPECTED)


@pytest.mark.parametrize(("error", "expected"), sorted(EXPECTED.items()))
def test_ok_false_inside_a_200_has_its_code_and_disposition(
    bot: Any, error: str, expected: tuple[str, str]
) -> None:
    result = bot(200, {"ok": False, "error": error})
    assert (result.ok, result.code, result.disposition) == (False, *expected)
    assert (result.provider_code, result.message) == (error, f"Slack: {error}")


def test_slacks_explanations_are_kept(bot: Any) -> None:
    result = bot(
        200,
        {
            "ok": False,
            "error": "invalid_blocks",
            "response_metadata": {"messages": ["[ERROR] missing required field: text"]},
        },
    )
    assert result.message == "Slack: invalid_blocks ([ERROR] missing required field: text)"


def test_an_unknown_error_is_a_final_rejection(bot: Any) -> None:
    result = bot(200, {"ok": False, "error": "something_new"})
    assert (result.code, result.disposition) == ("rejected", FINAL)


@pytest.mark.parametrize("body", [{"ok": False, "error": "ratelimited"}, b""])
def test_http_429_is_retried_after_retry_after(bot: Any, body: Any) -> None:
    result = bot(429, body, {"retry-after": "30"})
    assert (result.code, result.disposition, result.retry_after) == ("rate_limited", RETRY, 30)


def test_http_503_is_retried(bot: Any) -> None:
    assert bot(503, b"").disposition == RETRY


@pytest.mark.parametrize(
    "body", [b"", b"<html>", b"[]", {"ok": "yes"}, {"ok": True}, {"ok": True, "channel": "C1"}]
)
def test_an_unreadable_answer_is_a_bad_response(bot: Any, body: Any) -> None:
    result = bot(200, body)
    assert (result.code, result.disposition) == ("bad_response", FINAL)


def test_webhook_ok_is_accepted_without_an_id(hook: Any) -> None:
    result = hook(200, b"ok")
    assert (result.ok, result.message_id) == (True, None)


@pytest.mark.parametrize(
    ("status", "text", "expected"),
    [
        (400, "invalid_payload", ("invalid_message", FINAL)),
        (400, "no_text", ("invalid_message", FINAL)),
        (400, "user_not_found", ("invalid_recipient", FINAL)),
        (403, "action_prohibited", ("permission_denied", FAILOVER)),
        (404, "channel_not_found", ("invalid_recipient", FINAL)),
        (404, "no_service", ("invalid_credentials", FAILOVER)),
        (410, "channel_is_archived", ("recipient_unreachable", FINAL)),
        (500, "rollup_error", ("provider_unavailable", RETRY)),
        (400, "something_new", ("rejected", FINAL)),
        (502, "<html>bad gateway</html>", ("provider_unavailable", RETRY)),
    ],
)
def test_webhook_errors_come_as_text_with_a_status(
    hook: Any, status: int, text: str, expected: tuple[str, str]
) -> None:
    result = hook(status, text.encode())
    assert (result.ok, result.code, result.disposition) == (False, *expected)


def test_a_webhook_429_is_retried_after_retry_after(hook: Any) -> None:
    result = hook(429, b"rate_limited", {"retry-after": "7"})
    assert (result.code, result.disposition, result.retry_after) == ("rate_limited", RETRY, 7)


def test_a_webhook_200_that_is_not_ok_is_a_bad_response(hook: Any) -> None:
    assert hook(200, b"<html>login</html>").code == "bad_response"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)
bodies = st.binary(max_size=64) | st.builds(lambda v: json.dumps(v).encode(), json_values)
PROVIDERS = [
    SlackProvider(SlackProvider.Config.model_validate(slack()["config"])),
    SlackWebhookProvider(SlackWebhookProvider.Config.model_validate(webhook()["config"])),
]


@given(
    provider=st.sampled_from(PROVIDERS),
    status=st.sampled_from([200, 400, 403, 404, 429, 500]),
    body=bodies,
)
def test_any_answer_is_read_without_raising(
    provider: norq.Provider, status: int, body: bytes
) -> None:
    request = provider.prepare_send(norq.Message("chat", CHANNEL, "hi"))
    result = provider.read_send(request, norq.Response(status, {}, body))
    if not result.ok:
        assert result.disposition in (RETRY, FAILOVER, FINAL)
        return
    assert status == 200
    if isinstance(provider, SlackWebhookProvider):
        assert (body.strip(), result.message_id) == (b"ok", None)
    else:
        channel, _, ts = (result.message_id or "").partition(":")
        assert channel
        assert ts
