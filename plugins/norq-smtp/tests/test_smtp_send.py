"""Sending through a real SMTP server on 127.0.0.1: the message, TLS, AUTH, reuse."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

import pytest
from smtp_testserver import SENDER, StartServer, send

import norq


def parsed(content: bytes) -> EmailMessage:
    message = email.message_from_bytes(content, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_sends_the_mime_message_and_the_receipt_id_is_its_message_id(
    smtp_server: StartServer,
) -> None:
    server = smtp_server()
    with server.norq(sender_name="Norq Alerts") as app:
        receipt = app.notify(
            "email",
            "ada@example.test",
            body="Your parcel left the depot.",
            subject="Order shipped",
            html="<p>Your parcel <b>left</b> the depot.</p>",
            cc=["bob@example.test"],
            bcc="audit@example.test",
        )
    [received] = server.recorder.messages
    assert received.mail_from == SENDER
    assert received.rcpt_tos == ["ada@example.test", "bob@example.test", "audit@example.test"]
    message = parsed(received.content)
    assert receipt.ok
    assert receipt.message_id == message["Message-ID"]
    assert receipt.message_id.endswith("@example.test>")
    assert message["From"] == f"Norq Alerts <{SENDER}>"
    assert message["To"] == "ada@example.test"
    assert message["Cc"] == "bob@example.test"
    assert message["Bcc"] is None, "Bcc goes in the envelope only"
    assert message["Subject"] == "Order shipped"
    assert message["Date"] is not None
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    assert html is not None
    assert text.get_content().strip() == "Your parcel left the depot."
    assert html.get_content().strip() == "<p>Your parcel <b>left</b> the depot.</p>"


def test_non_ascii_text_and_subject_arrive_intact(smtp_server: StartServer) -> None:
    server = smtp_server()
    with server.norq() as app:
        app.notify("email", "ada@example.test", body="Grüße, 東京 ✓", subject="Größe ✓")
    message = parsed(server.recorder.messages[0].content)
    assert message["Subject"] == "Größe ✓"
    body = message.get_body(("plain",))
    assert body is not None
    assert body.get_content().strip() == "Grüße, 東京 ✓"


def test_starttls_and_auth(smtp_server: StartServer) -> None:
    server = smtp_server(security="starttls", auth=True)
    with server.norq() as app:
        receipt = app.notify("email", "ada@example.test", body="hi", subject="s")
    [received] = server.recorder.messages
    assert receipt.ok
    assert received.tls
    assert received.authenticated


def test_implicit_tls_and_auth(smtp_server: StartServer) -> None:
    server = smtp_server(security="tls", auth=True)
    with server.norq() as app:
        receipt = app.notify("email", "ada@example.test", body="hi", subject="s")
    [received] = server.recorder.messages
    assert receipt.ok
    assert received.tls
    assert received.authenticated


async def test_async_starttls_and_auth(smtp_server: StartServer) -> None:
    server = smtp_server(security="starttls", auth=True)
    async with server.norq() as app:
        receipt = await app.anotify("email", "ada@example.test", body="hi", subject="s")
    [received] = server.recorder.messages
    assert receipt.ok
    assert receipt.message_id is not None
    assert received.tls
    assert received.authenticated


async def test_async_implicit_tls(smtp_server: StartServer) -> None:
    server = smtp_server(security="tls", auth=True)
    async with server.norq() as app:
        receipt = await app.anotify("email", "ada@example.test", body="hi", subject="s")
    assert receipt.ok
    assert server.recorder.messages[0].tls


def test_a_server_certificate_from_an_unknown_authority_is_refused(
    smtp_server: StartServer,
) -> None:
    server = smtp_server(security="starttls", auth=True)
    app = server.norq(ca_file=None, retry={"max_retries": 0})
    with app, pytest.raises(norq.DeliveryError) as caught:
        app.notify("email", "ada@example.test", body="hi", subject="s")
    error = caught.value.receipt.error
    assert error is not None
    assert error.code == "connect_error"
    assert "CERTIFICATE_VERIFY_FAILED" in error.message
    assert server.recorder.messages == []


def test_starttls_required_but_not_offered_is_a_clear_error(smtp_server: StartServer) -> None:
    server = smtp_server(security="none")
    app = server.norq(security="starttls", retry={"max_retries": 0})
    with app, pytest.raises(norq.DeliveryError) as caught:
        app.notify("email", "ada@example.test", body="hi", subject="s")
    error = caught.value.receipt.error
    assert error is not None
    assert "does not offer STARTTLS" in error.message
    assert server.recorder.messages == []


def test_a_bulk_send_logs_in_once_and_reuses_the_connection(smtp_server: StartServer) -> None:
    server = smtp_server(security="starttls", auth=True)
    recipients = [f"user{i}@example.test" for i in range(5)]
    with server.norq() as app:
        receipts = list(app.notify_many("email", recipients, body="hi", subject="s"))
    assert [r.ok for r in receipts] == [True] * 5
    assert len({r.message_id for r in receipts}) == 5
    assert len(server.recorder.sessions) == 1
    assert [m.rcpt_tos for m in server.recorder.messages] == [[r] for r in recipients]


async def test_an_async_bulk_send_reuses_at_most_max_connections(
    smtp_server: StartServer,
) -> None:
    server = smtp_server(security="starttls", auth=True)
    recipients = [f"user{i}@example.test" for i in range(12)]
    async with server.norq(max_connections=2) as app:
        receipts = [
            r
            async for r in app.anotify_many(
                "email", recipients, body="hi", subject="s", concurrency=6
            )
        ]
    assert sorted(r.index for r in receipts if r.ok) == list(range(12))
    assert 1 <= len(server.recorder.sessions) <= 2
    assert len(server.recorder.messages) == 12


def test_a_refused_message_does_not_spoil_the_connection_for_the_next(
    smtp_server: StartServer,
) -> None:
    server = smtp_server()
    server.recorder.replies["rcpt"] = ["550 5.1.1 <nobody@example.test>: user unknown"]
    with server.norq() as app:
        receipts = list(
            app.notify_many(
                "email", ["nobody@example.test", "ada@example.test"], body="hi", subject="s"
            )
        )
    assert [r.ok for r in receipts] == [False, True]
    assert len(server.recorder.sessions) == 1
    assert server.recorder.messages[0].rcpt_tos == ["ada@example.test"]


def test_a_connection_the_server_closed_while_idle_is_replaced(
    smtp_server: StartServer,
) -> None:
    server = smtp_server()
    with server.norq() as app:
        app.notify("email", "ada@example.test", body="one", subject="s")
        server.recorder.drops.append("mail")
        receipt = app.notify("email", "ada@example.test", body="two", subject="s")
    assert receipt.ok
    assert receipt.attempts == 1
    assert len(server.recorder.sessions) == 2
    assert len(server.recorder.messages) == 2


async def test_async_a_connection_the_server_closed_while_idle_is_replaced(
    smtp_server: StartServer,
) -> None:
    server = smtp_server()
    async with server.norq() as app:
        await app.anotify("email", "ada@example.test", body="one", subject="s")
        server.recorder.drops.append("mail")
        receipt = await app.anotify("email", "ada@example.test", body="two", subject="s")
    assert receipt.ok
    assert receipt.attempts == 1
    assert len(server.recorder.messages) == 2


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_connection_lost_after_data_is_not_retried(
    smtp_server: StartServer, mode: str
) -> None:
    server = smtp_server()
    server.recorder.drops.append("data")
    app = server.norq()
    with pytest.raises(norq.DeliveryError) as caught:
        await send(app, mode)
    receipt = caught.value.receipt
    assert receipt.attempts == 1, "the server may have queued it: a retry risks a duplicate"
    assert receipt.error is not None
    assert receipt.error.code == "connection_lost"
    assert receipt.error.disposition == "final"


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_refused_login_fails_over(smtp_server: StartServer, mode: str) -> None:
    server = smtp_server(security="starttls", auth=True)
    app = server.norq(password="wrong-password")
    with pytest.raises(norq.DeliveryError) as caught:
        await send(app, mode)
    error = caught.value.receipt.error
    assert error is not None
    assert (error.code, error.provider_code, error.disposition) == (
        "invalid_credentials",
        "535",
        "failover",
    )
    assert caught.value.receipt.attempts == 1
    # smtplib and aiosmtplib try each mechanism the server offers (PLAIN, LOGIN).
    assert server.recorder.failed_logins >= 1
    assert server.recorder.messages == []
