"""The shop's own tests: Django's test client, override_settings, Norq's fake and mail.outbox."""

from __future__ import annotations

from django.core import mail
from django.test import Client, SimpleTestCase, override_settings

from norq.testing import NotificationFake, fake_notifications

NORQ_BACKEND = "norq.contrib.django.EmailBackend"


@override_settings(EMAIL_BACKEND=NORQ_BACKEND)
class ShippingTests(SimpleTestCase):
    def test_the_customer_gets_the_invoice_by_email_and_an_sms(self) -> None:
        with fake_notifications() as fake:
            response = self.client.post(
                "/orders/42/ship", {"email": "ada@example.com", "phone": "+15557654321"}
            )

        assert response.status_code == 200
        sent = fake.assert_sent(to="ada@example.com", channel="email", subject="Order 42 shipped")
        assert sent.provider == "sendgrid"
        assert sent.fields["bcc"] == "orders@example.com"
        assert "<b>42</b>" in sent.fields["html"]
        [invoice] = sent.fields["attachments"]
        assert invoice["filename"] == "invoice-42.pdf"
        fake.assert_sent(
            to="+15557654321", channel="sms", template="order_shipped", data={"order": 42}
        )
        fake.assert_count(2)

    def test_the_email_is_also_in_djangos_outbox(self) -> None:
        with fake_notifications():
            self.client.post("/orders/7/ship", {"email": "ada@example.com"})

        assert len(mail.outbox) == 1
        [message] = mail.outbox
        assert message.subject == "Order 7 shipped"
        assert message.to == ["ada@example.com"]
        assert message.attachments[0][0] == "invoice-7.pdf"

    def test_when_sendgrid_is_down_the_smtp_relay_takes_the_email(self) -> None:
        with fake_notifications() as fake:
            fake.fail("provider_unavailable", provider="sendgrid")
            self.client.post("/orders/8/ship", {"email": "ada@example.com"})

        sent = fake.assert_sent(to="ada@example.com", provider="smtp")
        assert sent.providers == ("sendgrid", "smtp")

    def test_a_failed_contact_email_is_reported_not_raised(self) -> None:
        with fake_notifications() as fake:
            fake.fail("invalid_credentials", channel="email", disposition="final")
            response = self.client.post("/contact", {"message": "Where is my order?"})

        assert response.json() == {"sent": 0}
        fake.assert_failed(to="support@example.com", code="invalid_credentials")
        assert mail.outbox == []


def test_without_the_norq_backend_django_keeps_the_mail_in_its_outbox(
    norq_fake: NotificationFake,
) -> None:
    # Django's test environment swaps EMAIL_BACKEND for its locmem backend.
    mail.outbox = []
    Client().post("/contact", {"message": "hello"})

    assert [m.subject for m in mail.outbox] == ["Contact form"]
    norq_fake.assert_nothing_sent()


def test_the_pytest_fixture_works_with_override_settings(norq_fake: NotificationFake) -> None:
    mail.outbox = []
    with override_settings(EMAIL_BACKEND=NORQ_BACKEND):
        response = Client().post("/contact", {"message": "hello"})

    assert response.json() == {"sent": 1}
    norq_fake.assert_sent(to="support@example.com", subject="Contact form", body="hello")
    assert len(mail.outbox) == 1
