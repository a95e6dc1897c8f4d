"""The sandbox's SMTP server accepts mail into the inbox, over real loopback with smtplib."""

from __future__ import annotations

import os
import shutil
import smtplib
import ssl
import subprocess
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from norq_sandbox import SandboxServer


def letter(subject: str = "Disk almost full") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Alerts <alerts@example.com>"
    message["To"] = "ada@example.com"
    message["Subject"] = subject
    message.set_content("92% used")
    message.add_alternative("<p><b>92%</b> used</p>", subtype="html")
    return message


def connect(sandbox: SandboxServer) -> smtplib.SMTP:
    return smtplib.SMTP(sandbox.smtp_host, sandbox.smtp_port, timeout=10)


def test_a_message_is_accepted_with_a_queue_id_and_kept(sandbox: SandboxServer) -> None:
    with connect(sandbox) as client:
        client.send_message(letter())
        code, _ = client.noop()
    assert code == 250

    (stored,) = sandbox.outbox("smtp")
    assert (stored.channel, stored.subject) == ("email", "Disk almost full")
    assert stored.sender == "Alerts <alerts@example.com>"
    assert stored.to == ("ada@example.com",)
    assert (stored.text or "").strip() == "92% used"
    assert (stored.html or "").strip() == "<p><b>92%</b> used</p>"
    assert ("Subject", "Disk almost full") in stored.headers
    (record,) = sandbox.requests_to("smtp")
    assert (record.status, record.message_sid) == (250, stored.provider_id)


def test_the_reply_names_the_queue_id(sandbox: SandboxServer) -> None:
    with connect(sandbox) as client:
        client.ehlo()
        client.mail("alerts@example.com")
        client.rcpt("ada@example.com")
        code, reply = client.data(letter().as_bytes())

    (stored,) = sandbox.outbox("smtp")
    assert code == 250
    assert reply.decode().endswith(f"queued as {stored.provider_id}")


def test_every_recipient_of_the_envelope_is_kept(sandbox: SandboxServer) -> None:
    with connect(sandbox) as client:
        client.sendmail(
            "alerts@example.com", ["a@example.com", "b@example.com"], b"Subject: hi\r\n\r\nhello"
        )

    (stored,) = sandbox.outbox("smtp")
    assert stored.to == ("a@example.com", "b@example.com")
    assert (stored.text or "").strip() == "hello"
    assert stored.html is None


@pytest.fixture
def locked() -> Iterator[SandboxServer]:
    with SandboxServer(step_delay=0.01, smtp_username="mailer", smtp_password="s3cret") as server:
        yield server


def test_with_a_user_configured_auth_is_required(locked: SandboxServer) -> None:
    with connect(locked) as client, pytest.raises(smtplib.SMTPSenderRefused) as refused:
        client.send_message(letter())

    assert refused.value.smtp_code == 530
    assert locked.outbox() == []


def test_auth_with_the_right_password_sends(locked: SandboxServer) -> None:
    with connect(locked) as client:
        client.login("mailer", "s3cret")
        client.send_message(letter())

    assert len(locked.outbox("smtp")) == 1
    (record,) = locked.requests_to("smtp")
    assert record.username == "mailer"


def test_auth_with_a_wrong_password_is_535(locked: SandboxServer) -> None:
    with connect(locked) as client, pytest.raises(smtplib.SMTPAuthenticationError) as refused:
        client.login("mailer", "wrong")

    assert refused.value.smtp_code == 535


def _certificate(directory: Path) -> tuple[str, str]:
    openssl = shutil.which("openssl")
    if openssl is None:
        if os.environ.get("CI") == "true":
            pytest.fail("openssl is missing in CI")
        pytest.skip("openssl is not installed")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return str(cert), str(key)


def test_starttls_is_offered_with_a_certificate(tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path)
    context = ssl.create_default_context(cafile=cert)
    settings = {"smtp_tls_cert": cert, "smtp_tls_key": key}
    with SandboxServer(step_delay=0.01, **settings) as sandbox, connect(sandbox) as client:
        client.ehlo()
        assert client.has_extn("starttls")
        client.starttls(context=context)
        client.ehlo()
        client.send_message(letter())

        assert len(sandbox.outbox("smtp")) == 1


def test_auth_waits_for_starttls_when_tls_is_configured(tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path)
    settings = {"smtp_tls_cert": cert, "smtp_tls_key": key}
    with (
        SandboxServer(step_delay=0.01, smtp_username="u", smtp_password="p", **settings) as sandbox,
        connect(sandbox) as client,
    ):
        client.ehlo()
        assert not client.has_extn("auth")
        client.starttls(context=ssl.create_default_context(cafile=cert))
        client.ehlo()
        client.login("u", "p")
        client.send_message(letter())

        assert len(sandbox.outbox("smtp")) == 1


@pytest.mark.parametrize(
    ("fault", "code"), [("429", 451), ("429:30", 451), ("500", 451), ("502", 451), ("503", 421)]
)
def test_faults_are_smtp_replies(sandbox: SandboxServer, fault: str, code: int) -> None:
    sandbox.faults_for("smtp").add(fault)

    with connect(sandbox) as client, pytest.raises(smtplib.SMTPDataError) as refused:
        client.send_message(letter())

    assert refused.value.smtp_code == code
    assert sandbox.outbox() == []
    (record,) = sandbox.requests_to("smtp")
    assert (record.fault, record.status) == (fault, code)


def test_a_rate_limit_says_when_to_come_back(sandbox: SandboxServer) -> None:
    sandbox.faults_for("smtp").add("429:30")

    with connect(sandbox) as client, pytest.raises(smtplib.SMTPDataError) as refused:
        client.send_message(letter())

    assert b"4.7.1" in refused.value.smtp_error
    assert b"30 seconds" in refused.value.smtp_error


def test_a_drop_closes_the_connection_and_keeps_nothing(sandbox: SandboxServer) -> None:
    sandbox.faults_for("smtp").add("drop")

    client = connect(sandbox)
    with pytest.raises(smtplib.SMTPServerDisconnected):
        client.send_message(letter())
    client.close()

    assert sandbox.outbox() == []
    assert sandbox.requests_to("smtp")[0].dropped


def test_accept_drop_keeps_the_mail_but_loses_the_reply(sandbox: SandboxServer) -> None:
    sandbox.faults_for("smtp").add("accept-drop")

    client = connect(sandbox)
    with pytest.raises(smtplib.SMTPServerDisconnected):
        client.send_message(letter())
    client.close()

    assert len(sandbox.outbox("smtp")) == 1


def test_a_delay_still_delivers(sandbox: SandboxServer) -> None:
    sandbox.faults_for("smtp").add("delay:0.05")

    with connect(sandbox) as client:
        client.send_message(letter())

    assert len(sandbox.outbox("smtp")) == 1
