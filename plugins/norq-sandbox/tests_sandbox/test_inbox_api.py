"""The admin API behind the inbox: every channel in one list, and an email's HTML kept apart."""

from __future__ import annotations

import smtplib

import httpx
from norq_sandbox import SandboxServer
from norq_sandbox.settings import DEFAULT_SLACK_TOKEN

from tests_sandbox.conftest import send


def test_the_inbox_lists_every_channel_newest_first(
    api: httpx.Client, sandbox: SandboxServer
) -> None:
    sid = send(api).json()["sid"]
    with smtplib.SMTP(sandbox.smtp_host, sandbox.smtp_port, timeout=10) as smtp:
        smtp.sendmail("a@example.com", ["b@example.com"], b"Subject: hi\r\n\r\nhello")
    httpx.post(
        f"{sandbox.url}/api/chat.postMessage",
        headers={"Authorization": f"Bearer {DEFAULT_SLACK_TOKEN}"},
        json={"channel": "#ops", "text": "hello"},
    )

    listed = httpx.get(f"{sandbox.url}/_sandbox/messages").json()["messages"]

    assert [(m["channel"], m["api"]) for m in listed] == [
        ("chat", "slack"),
        ("email", "smtp"),
        ("sms", "twilio"),
    ]
    assert listed[2]["id"] == sid


def test_an_emails_html_is_served_alone_under_a_strict_policy(sandbox: SandboxServer) -> None:
    html = "<p>Hello <script>alert(1)</script></p>"
    message = (
        b"Subject: hi\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        + html.encode()
    )
    with smtplib.SMTP(sandbox.smtp_host, sandbox.smtp_port, timeout=10) as smtp:
        smtp.sendmail("a@example.com", ["b@example.com"], message)
    (email,) = sandbox.outbox("smtp")

    listed = httpx.get(f"{sandbox.url}/_sandbox/messages").json()["messages"]
    served = httpx.get(f"{sandbox.url}/_sandbox/messages/{email.id}/html")

    assert listed[0]["has_html"] is True
    assert "<script>" not in str(listed[0])
    assert served.text.strip() == html
    assert served.headers["content-type"].startswith("text/html")
    policy = served.headers["content-security-policy"]
    # A sandbox that allows no script (only the inbox's measuring of it), and no script source.
    assert policy.startswith("sandbox allow-same-origin;")
    assert "allow-scripts" not in policy
    assert "script-src" not in policy
    assert "default-src 'none'" in policy
    assert served.headers["x-content-type-options"] == "nosniff"


def test_html_of_an_unknown_or_text_only_message_is_404(sandbox: SandboxServer) -> None:
    with smtplib.SMTP(sandbox.smtp_host, sandbox.smtp_port, timeout=10) as smtp:
        smtp.sendmail("a@example.com", ["b@example.com"], b"Subject: hi\r\n\r\nplain")
    (email,) = sandbox.outbox("smtp")

    assert httpx.get(f"{sandbox.url}/_sandbox/messages/{email.id}/html").status_code == 404
    assert httpx.get(f"{sandbox.url}/_sandbox/messages/nothing/html").status_code == 404


def test_info_says_where_smtp_listens(sandbox: SandboxServer) -> None:
    info = httpx.get(f"{sandbox.url}/_sandbox/info").json()

    assert info["smtp"] == f"{sandbox.smtp_host}:{sandbox.smtp_port}"
