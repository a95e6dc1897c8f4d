"""The sandbox speaks Slack's chat.postMessage and incoming webhooks as Slack documents them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from norq_sandbox import SandboxServer
from norq_sandbox.settings import DEFAULT_SLACK_TOKEN

POST = "/api/chat.postMessage"
HOOK = "/services/T0SANDBOX/B0SANDBOX/abcdefghijklmnopqrstuvwx"


@pytest.fixture
def slack(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {DEFAULT_SLACK_TOKEN}"}
    with httpx.Client(base_url=sandbox.url, headers=headers, timeout=10) as client:
        yield client


def ok_body(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True, body
    assert isinstance(body, dict)
    return body


def error_of(response: httpx.Response) -> str:
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is False
    assert isinstance(body["error"], str)
    return body["error"]


def test_post_message_answers_ok_with_channel_ts_and_message(
    slack: httpx.Client, sandbox: SandboxServer
) -> None:
    body = ok_body(slack.post(POST, json={"channel": "C0123456789", "text": "Deploy done"}))

    assert body["channel"] == "C0123456789"
    assert re.fullmatch(r"\d+\.\d{6}", body["ts"])
    assert body["message"]["text"] == "Deploy done"
    assert body["message"]["ts"] == body["ts"]
    (stored,) = sandbox.outbox("slack")
    assert (stored.channel, stored.text, stored.to) == ("chat", "Deploy done", ("C0123456789",))
    assert stored.provider_id == body["ts"]


def test_a_channel_name_gets_a_stable_channel_id(slack: httpx.Client) -> None:
    first = ok_body(slack.post(POST, json={"channel": "#alerts", "text": "one"}))
    second = ok_body(slack.post(POST, json={"channel": "alerts", "text": "two"}))

    assert re.fullmatch(r"C[0-9A-F]{10}", first["channel"])
    assert first["channel"] == second["channel"]
    assert first["ts"] != second["ts"]


def test_a_form_with_a_token_field_works_too(sandbox: SandboxServer) -> None:
    fields = {"token": DEFAULT_SLACK_TOKEN, "channel": "#ops", "text": "form post"}

    ok_body(httpx.post(sandbox.url + POST, data=fields))


def test_blocks_alone_are_enough(slack: httpx.Client) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*bold*"}}]

    ok_body(slack.post(POST, json={"channel": "#ops", "blocks": blocks}))


@pytest.mark.parametrize(
    ("headers", "error"),
    [({}, "not_authed"), ({"Authorization": "Bearer xoxb-wrong"}, "invalid_auth")],
)
def test_tokens_are_checked_inside_a_200(
    sandbox: SandboxServer, headers: dict[str, str], error: str
) -> None:
    response = httpx.post(sandbox.url + POST, json={"channel": "#a", "text": "x"}, headers=headers)

    assert error_of(response) == error
    assert sandbox.outbox() == []


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"text": "no channel"}, "channel_not_found"),
        ({"channel": "#a"}, "no_text"),
        ({"channel": "#a", "text": "x" * 40001}, "msg_too_long"),
        ({"channel": "#a", "blocks": "{not json"}, "invalid_blocks_format"),
        ({"channel": "#a", "blocks": [{"type": "section"}] * 51}, "invalid_blocks"),
    ],
)
def test_invalid_messages_fail_inside_a_200(
    slack: httpx.Client, sandbox: SandboxServer, fields: dict[str, Any], error: str
) -> None:
    assert error_of(slack.post(POST, json=fields)) == error
    assert sandbox.outbox() == []


def test_a_rate_limit_is_429_with_retry_after(slack: httpx.Client, sandbox: SandboxServer) -> None:
    sandbox.faults_for("slack").add("429:30")

    response = slack.post(POST, json={"channel": "#a", "text": "x"})

    assert response.status_code == 429
    assert response.headers["retry-after"] == "30"
    assert response.json() == {"ok": False, "error": "ratelimited"}


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_http_errors(
    slack: httpx.Client, sandbox: SandboxServer, status: int
) -> None:
    sandbox.faults_for("slack").add(str(status))

    assert slack.post(POST, json={"channel": "#a", "text": "x"}).status_code == status


# -- incoming webhooks ---------------------------------------------------------------


def test_a_webhook_answers_ok_as_text(sandbox: SandboxServer) -> None:
    response = httpx.post(sandbox.url + HOOK, json={"text": "Build failed"})

    assert (response.status_code, response.text) == (200, "ok")
    (stored,) = sandbox.outbox("slack-webhook")
    assert (stored.channel, stored.text) == ("chat", "Build failed")


@pytest.mark.parametrize(
    ("content", "status", "text"),
    [
        (b"{not json", 400, "invalid_payload"),
        (b'{"username": "bot"}', 400, "no_text"),
    ],
)
def test_webhook_failures_are_http_errors_naming_the_problem(
    sandbox: SandboxServer, content: bytes, status: int, text: str
) -> None:
    response = httpx.post(
        sandbox.url + HOOK, content=content, headers={"Content-Type": "application/json"}
    )

    assert (response.status_code, response.text) == (status, text)
    assert sandbox.outbox() == []


def test_a_malformed_webhook_url_is_no_service(sandbox: SandboxServer) -> None:
    response = httpx.post(sandbox.url + "/services/x/y/z", json={"text": "hi"})

    assert (response.status_code, response.text) == (404, "no_service")


def test_a_webhook_rate_limit_is_429_with_retry_after(sandbox: SandboxServer) -> None:
    sandbox.faults_for("slack").add("429")

    response = httpx.post(sandbox.url + HOOK, json={"text": "x"})

    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"


def test_a_dropped_webhook_delivers_nothing(sandbox: SandboxServer) -> None:
    sandbox.faults_for("slack").add("drop")

    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(sandbox.url + HOOK, json={"text": "x"})

    assert sandbox.outbox() == []


def test_the_request_log_never_holds_the_token(sandbox: SandboxServer) -> None:
    fields = {"token": DEFAULT_SLACK_TOKEN, "channel": "#ops", "text": "form post"}
    httpx.post(sandbox.url + POST, data=fields)
    httpx.post(
        sandbox.url + POST,
        json={"channel": "#ops", "text": "json"},
        headers={"Authorization": f"Bearer {DEFAULT_SLACK_TOKEN}"},
    )

    assert DEFAULT_SLACK_TOKEN not in httpx.get(sandbox.url + "/_sandbox/requests").text
    assert [r.username for r in sandbox.requests_to("slack")] == ["token", "token"]


def test_a_token_inside_a_json_body_is_not_authed(sandbox: SandboxServer) -> None:
    # Slack reads the token from the Authorization header for JSON; a form may carry it.
    body = {"token": DEFAULT_SLACK_TOKEN, "channel": "#a", "text": "x"}
    response = httpx.post(sandbox.url + POST, json=body)

    assert error_of(response) == "not_authed"
    assert sandbox.outbox("slack") == []


def test_a_token_in_a_form_is_accepted(sandbox: SandboxServer) -> None:
    form = {"token": DEFAULT_SLACK_TOKEN, "channel": "#a", "text": "x"}
    ok_body(httpx.post(sandbox.url + POST, data=form))


def test_a_body_error_is_internal_error_after_the_message_was_posted(
    slack: httpx.Client, sandbox: SandboxServer
) -> None:
    # Slack: internal_error means "some aspect of the operation may have succeeded";
    # the sandbox shows the worst case, so a blind retry makes a duplicate.
    sandbox.faults_for("slack").add("body-error")

    assert error_of(slack.post(POST, json={"channel": "#a", "text": "maybe"})) == "internal_error"
    (posted,) = sandbox.outbox("slack")
    assert posted.text == "maybe"


@pytest.mark.parametrize("status", ["500", "502", "503"])
def test_a_server_error_posts_nothing_and_claims_nothing_was_done(
    slack: httpx.Client, sandbox: SandboxServer, status: str
) -> None:
    sandbox.faults_for("slack").add(status)

    response = slack.post(POST, json={"channel": "#a", "text": "x"})

    assert response.status_code == int(status)
    # fatal_error and internal_error say the post may have happened; these did not.
    assert "fatal_error" not in response.text
    assert "internal_error" not in response.text
    assert sandbox.outbox("slack") == []


def test_a_webhooks_secret_stays_out_of_the_request_log(
    slack: httpx.Client, sandbox: SandboxServer
) -> None:
    slack.post(HOOK, json={"text": "hi"})

    (logged,) = sandbox.requests_to("slack")
    assert logged.path == "/services/T0SANDBOX/B0SANDBOX/********"
