"""The sandbox speaks SendGrid's v3 Mail Send as SendGrid documents it, over real loopback."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from norq_sandbox import SandboxServer
from norq_sandbox.settings import DEFAULT_SENDGRID_API_KEY

PATH = "/v3/mail/send"


@pytest.fixture
def mail(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {DEFAULT_SENDGRID_API_KEY}"}
    with httpx.Client(base_url=sandbox.url, headers=headers, timeout=10) as client:
        yield client


def email(**changes: Any) -> dict[str, Any]:
    """A valid Mail Send body; a change of None removes the key."""
    body: dict[str, Any] = {
        "personalizations": [{"to": [{"email": "ada@example.com", "name": "Ada"}]}],
        "from": {"email": "alerts@example.com", "name": "Alerts"},
        "subject": "Disk almost full",
        "content": [
            {"type": "text/plain", "value": "92% used"},
            {"type": "text/html", "value": "<p><b>92%</b> used</p>"},
        ],
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def errors_of(response: httpx.Response) -> list[tuple[str | None, str]]:
    body = response.json()
    assert set(body) == {"errors"}
    return [(error["field"], error["message"]) for error in body["errors"]]


def test_an_accepted_send_is_202_with_an_empty_body_and_an_x_message_id(
    mail: httpx.Client, sandbox: SandboxServer
) -> None:
    response = mail.post(PATH, json=email())

    assert response.status_code == 202
    assert response.content == b""
    message_id = response.headers["x-message-id"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", message_id)
    (stored,) = sandbox.outbox("sendgrid")
    assert stored.provider_id == message_id
    assert (stored.channel, stored.subject) == ("email", "Disk almost full")
    assert stored.sender == "Alerts <alerts@example.com>"
    assert stored.to == ("Ada <ada@example.com>",)
    assert (stored.text, stored.html) == ("92% used", "<p><b>92%</b> used</p>")


def test_each_personalization_is_its_own_email(mail: httpx.Client, sandbox: SandboxServer) -> None:
    personalizations = [
        {"to": [{"email": "a@example.com"}], "subject": "For A"},
        {"to": [{"email": "b@example.com"}], "cc": [{"email": "c@example.com"}]},
    ]

    assert mail.post(PATH, json=email(personalizations=personalizations)).status_code == 202

    second, first = sandbox.outbox("sendgrid")
    assert (first.to, first.subject) == (("a@example.com",), "For A")
    assert (second.to, second.subject) == (("b@example.com", "c@example.com"), "Disk almost full")
    assert first.provider_id == second.provider_id


def test_sandbox_mode_validates_and_answers_200_without_sending(
    mail: httpx.Client, sandbox: SandboxServer
) -> None:
    body = email(mail_settings={"sandbox_mode": {"enable": True}})

    response = mail.post(PATH, json=body)

    assert response.status_code == 200
    assert sandbox.outbox() == []


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "authorization required"),
        (
            {"Authorization": "Bearer SG.wrong"},
            "The provided authorization grant is invalid, expired, or revoked",
        ),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "authorization required"),
    ],
)
def test_missing_or_wrong_keys_are_401(
    sandbox: SandboxServer, headers: dict[str, str], message: str
) -> None:
    response = httpx.post(sandbox.url + PATH, json=email(), headers=headers)

    assert response.status_code == 401
    assert errors_of(response) == [(None, message)]
    assert sandbox.outbox() == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"personalizations": None}, "personalizations"),
        ({"personalizations": []}, "personalizations"),
        ({"personalizations": [{"to": []}]}, "personalizations.0.to"),
        (
            {"personalizations": [{"to": [{"email": "not-an-address"}]}]},
            "personalizations.0.to.0.email",
        ),
        ({"from": None}, "from"),
        ({"from": {"email": "nobody"}}, "from.email"),
        ({"subject": None}, "subject"),
        ({"content": None}, "content"),
        ({"content": [{"type": "text/plain", "value": ""}]}, "content.0.value"),
        (
            {
                "content": [
                    {"type": "text/html", "value": "<p>x</p>"},
                    {"type": "text/plain", "value": "x"},
                ]
            },
            "content.1.type",
        ),
        (
            {
                "personalizations": [
                    {"to": [{"email": "a@example.com"}], "cc": [{"email": "A@example.com"}]}
                ]
            },
            "personalizations.0",
        ),
    ],
)
def test_invalid_bodies_are_400_naming_the_field(
    mail: httpx.Client, sandbox: SandboxServer, changes: dict[str, Any], field: str
) -> None:
    response = mail.post(PATH, json=email(**changes))

    assert response.status_code == 400
    ((reported, message),) = errors_of(response)
    assert reported == field
    assert message
    assert sandbox.outbox() == []


def test_a_template_replaces_subject_and_content(
    mail: httpx.Client, sandbox: SandboxServer
) -> None:
    body = email(subject=None, content=None, template_id="d-0123456789abcdef")
    body["personalizations"][0]["dynamic_template_data"] = {"name": "Ada"}

    assert mail.post(PATH, json=body).status_code == 202
    (stored,) = sandbox.outbox("sendgrid")
    assert "d-0123456789abcdef" in (stored.text or "")


def test_a_body_that_is_not_json_is_400(mail: httpx.Client) -> None:
    response = mail.post(PATH, content=b"{not json", headers={"Content-Type": "application/json"})

    assert response.status_code == 400
    assert errors_of(response) == [(None, "Bad Request")]


def test_a_rate_limit_carries_sendgrids_headers(mail: httpx.Client, sandbox: SandboxServer) -> None:
    sandbox.faults_for("sendgrid").add("429:3")
    before = time.time()

    response = mail.post(PATH, json=email())

    assert response.status_code == 429
    assert errors_of(response) == [(None, "too many requests")]
    assert response.headers["x-ratelimit-limit"] == "600"
    assert response.headers["x-ratelimit-remaining"] == "0"
    reset = int(response.headers["x-ratelimit-reset"])
    assert before + 3 <= reset <= time.time() + 5
    assert mail.post(PATH, json=email()).status_code == 202


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_answered_in_sendgrids_shape(
    mail: httpx.Client, sandbox: SandboxServer, status: int
) -> None:
    sandbox.faults_for("sendgrid").add(str(status))

    response = mail.post(PATH, json=email())

    assert response.status_code == status
    assert errors_of(response)
    assert sandbox.outbox() == []


def test_a_drop_closes_the_connection_and_sends_nothing(
    mail: httpx.Client, sandbox: SandboxServer
) -> None:
    sandbox.faults_for("sendgrid").add("drop")

    with pytest.raises(httpx.RemoteProtocolError):
        mail.post(PATH, json=email())

    assert sandbox.outbox() == []
    (record,) = sandbox.requests_to("sendgrid")
    assert record.dropped


def test_a_delay_still_sends(mail: httpx.Client, sandbox: SandboxServer) -> None:
    sandbox.faults_for("sendgrid").add("delay:0.05")

    assert mail.post(PATH, json=email()).status_code == 202
    assert sandbox.requests_to("sendgrid")[0].fault == "delay:0.05"


def test_sendgrid_faults_leave_twilio_alone(mail: httpx.Client, sandbox: SandboxServer) -> None:
    sandbox.faults_for("sendgrid").add("503")

    assert sandbox.faults.snapshot()["queued"] == []
    assert mail.post(PATH, json=email()).status_code == 503


def test_body_errors_are_not_sendgrids_way(sandbox: SandboxServer) -> None:
    with pytest.raises(ValueError, match="sendgrid cannot suffer 'body-error'"):
        sandbox.faults_for("sendgrid").add("body-error")


def test_a_seeded_rate_replays_the_same_faults(sandbox: SandboxServer) -> None:
    def statuses() -> list[int]:
        sandbox.reset()
        sandbox.faults_for("sendgrid").set_rate(0.5, ["429", "503"], seed=7)
        headers = {"Authorization": f"Bearer {DEFAULT_SENDGRID_API_KEY}"}
        with httpx.Client(base_url=sandbox.url, headers=headers) as client:
            return [client.post(PATH, json=email()).status_code for _ in range(12)]

    first = statuses()

    assert first == statuses()
    assert 202 in first
    assert set(first) - {202}, "a rate of 0.5 over 12 requests faulted none"


def test_the_request_log_never_holds_the_api_key(
    mail: httpx.Client, sandbox: SandboxServer
) -> None:
    mail.post(PATH, json=email())

    log = httpx.get(sandbox.url + "/_sandbox/requests").text
    assert DEFAULT_SENDGRID_API_KEY not in log
    (record,) = sandbox.requests_to("sendgrid")
    assert (record.username, record.status) == ("apikey", 202)
    assert record.body_json["subject"] == "Disk almost full"


ATTACHMENT = {
    "content": "aGVsbG8gd29ybGQ=",  # "hello world"
    "filename": "report.txt",
    "type": "text/plain",
    "disposition": "attachment",
}


def test_the_inbox_keeps_reply_to_attachments_and_custom_args(
    mail: httpx.Client, sandbox: SandboxServer
) -> None:
    body = email(
        reply_to={"email": "support@example.com", "name": "Support"},
        attachments=[ATTACHMENT],
        custom_args={"order": "1042"},
        personalizations=[{"to": [{"email": "ada@example.com"}], "custom_args": {"user": "7"}}],
    )

    assert mail.post(PATH, json=body).status_code == 202

    (stored,) = sandbox.outbox("sendgrid")
    assert ("Reply-To", "Support <support@example.com>") in stored.headers
    assert stored.details["reply_to"] == ["Support <support@example.com>"]
    assert stored.details["custom_args"] == {"order": "1042", "user": "7"}
    assert stored.details["attachments"] == [
        {
            "filename": "report.txt",
            "type": "text/plain",
            "disposition": "attachment",
            "content_id": None,
            "size": 11,
        }
    ]


@pytest.mark.parametrize(
    ("attachment", "field"),
    [
        ({**ATTACHMENT, "content": "not base64!"}, "attachments.0.content"),
        ({k: v for k, v in ATTACHMENT.items() if k != "filename"}, "attachments.0.filename"),
        ({**ATTACHMENT, "disposition": "inline"}, "attachments.0.content_id"),
    ],
)
def test_a_malformed_attachment_is_refused_naming_the_field(
    mail: httpx.Client, attachment: dict[str, Any], field: str
) -> None:
    response = mail.post(PATH, json=email(attachments=[attachment]))

    assert response.status_code == 400
    assert [f for f, _ in errors_of(response)] == [field]
