"""End to end: send_mail through Norq, SendGrid down, the SMTP relay delivering to the sandbox."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core import mail
from django.test import Client, override_settings
from norq_sandbox import SandboxServer
from norq_sandbox.settings import DEFAULT_SENDGRID_API_KEY

pytestmark = pytest.mark.e2e


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    with SandboxServer(step_delay=0.01) as server:
        monkeypatch.setenv("SENDGRID_BASE_URL", server.url)
        monkeypatch.setenv("SENDGRID_API_KEY", DEFAULT_SENDGRID_API_KEY)
        monkeypatch.setenv("SMTP_HOST", server.smtp_host)
        monkeypatch.setenv("SMTP_PORT", str(server.smtp_port))
        monkeypatch.setenv("SMTP_SECURITY", "none")
        # The same settings.NORQ, so the project's Norq is rebuilt with this environment.
        with override_settings(EMAIL_BACKEND="norq.contrib.django.EmailBackend"):
            from django.conf import settings

            with override_settings(NORQ=settings.NORQ):
                yield server


def test_sendgrid_down_the_smtp_relay_delivers_to_the_sandbox(sandbox: SandboxServer) -> None:
    sandbox.faults_for("sendgrid").add("503")
    mail.outbox = []

    response = Client().post("/orders/42/ship", {"email": "ada@example.com"})

    assert response.status_code == 200
    [sendgrid_try] = sandbox.requests_to("sendgrid")
    assert sendgrid_try.status == 503
    [email] = sandbox.outbox("smtp")
    assert email.subject == "Order 42 shipped"
    assert email.to == ("ada@example.com", "orders@example.com")
    assert email.text is not None
    assert "order 42 is on its way" in email.text
    assert email.html is not None
    assert "<b>42</b>" in email.html
    assert email.details["attachments"] == ["invoice-42.pdf"]
    assert sandbox.outbox("sendgrid") == []
    assert mail.outbox == []  # really sent: no fake, so Django's outbox stays empty


def test_send_mail_is_delivered_by_sendgrid_when_it_is_up(sandbox: SandboxServer) -> None:
    response = Client().post("/contact", {"message": "Where is my order?"})

    assert response.json() == {"sent": 1}
    [email] = sandbox.outbox("sendgrid")
    assert email.to == ("support@example.com",)
    assert email.text == "Where is my order?"
    assert sandbox.outbox("smtp") == []
