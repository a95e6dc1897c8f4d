"""norq.contrib.django: settings.NORQ, and how Django's email messages become Norq notifications."""

from __future__ import annotations

from email.mime.image import MIMEImage
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection, send_mail
from django.test import override_settings

import norq
from norq.contrib.django import EmailBackend, get_norq
from norq.testing import NotificationFake

SECRET = "SG.do-not-show-this-key"
CONFIG: dict[str, Any] = {
    "providers": {"mail": {"type": "sendgrid", "config": {"api_key": SECRET, "from": "a@b.co"}}},
    "routing": {"email": "mail"},
}


def send(message: EmailMessage) -> int:
    return get_connection("norq.contrib.django.EmailBackend").send_messages([message])


# -- settings.NORQ ------------------------------------------------------------------


def test_norq_is_built_from_a_dict_and_rebuilt_when_the_setting_changes() -> None:
    with override_settings(NORQ=CONFIG):
        first = get_norq()
        assert get_norq() is first
        assert list(first.providers) == ["mail"]
    with override_settings(NORQ={**CONFIG, "routing": {"email": ["mail"]}}):
        assert get_norq() is not first


def test_norq_is_built_from_the_path_of_a_yaml_file(tmp_path: Path) -> None:
    (tmp_path / "norq.yaml").write_text("providers: {console: {}}\nrouting: {sms: console}\n")
    with override_settings(NORQ=tmp_path / "norq.yaml"):
        assert get_norq().routing == {"sms": ("console",)}


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (None, "settings.NORQ is not set: set it to the path of your norq.yaml"),
        (42, "settings.NORQ is a int: set it to the path"),
        ({"routing": {"email": "nowhere"}}, "settings.NORQ: "),
    ],
)
def test_a_wrong_setting_is_improperly_configured(value: Any, problem: str) -> None:
    with override_settings(NORQ=value), pytest.raises(ImproperlyConfigured) as caught:
        get_norq()
    assert problem in str(caught.value)


def test_a_config_error_does_not_show_the_secrets() -> None:
    broken = {**CONFIG, "providers": {"mail": {"type": "sendgrid", "config": {"api_key": SECRET}}}}
    with override_settings(NORQ=broken), pytest.raises(ImproperlyConfigured) as caught:
        get_norq()
    assert "from" in str(caught.value)
    assert SECRET not in str(caught.value)


# -- the email backend --------------------------------------------------------------


@pytest.fixture(autouse=True)
def norq_config() -> Any:
    with override_settings(NORQ=CONFIG):
        yield


def test_send_mail_becomes_one_email_notification(norq_fake: NotificationFake) -> None:
    count = send_mail(
        "Hello",
        "Text body",
        None,
        ["ada@example.com"],
        connection=get_connection(EmailBackend.__module__ + ".EmailBackend"),
    )

    assert count == 1
    sent = norq_fake.assert_sent(to="ada@example.com", channel="email", provider="mail")
    assert (sent.subject, sent.body) == ("Hello", "Text body")
    assert "html" not in sent.fields


def test_each_to_address_gets_one_email_and_copies_go_once(norq_fake: NotificationFake) -> None:
    message = EmailMessage(
        "Hi",
        "Body",
        to=["ada@example.com", "bob@example.com"],
        cc=["cc@example.com"],
        bcc=["audit@example.com", "log@example.com"],
        reply_to=["help@example.com"],
    )

    assert send(message) == 1

    first, second = norq_fake.notifications
    assert first.to == "ada@example.com"
    assert first.fields["cc"] == "cc@example.com"
    assert first.fields["bcc"] == ["audit@example.com", "log@example.com"]
    assert second.to == "bob@example.com"
    assert "cc" not in second.fields
    assert "bcc" not in second.fields
    assert first.fields["reply_to"] == second.fields["reply_to"] == "help@example.com"


def test_without_to_each_copy_address_gets_its_own_email(norq_fake: NotificationFake) -> None:
    send(EmailMessage("Hi", "Body", bcc=["a@example.com", "b@example.com"]))

    assert [n.to for n in norq_fake.notifications] == ["a@example.com", "b@example.com"]
    assert all("bcc" not in n.fields for n in norq_fake.notifications)


def test_a_message_without_recipients_is_not_sent(norq_fake: NotificationFake) -> None:
    assert send(EmailMessage("Hi", "Body")) == 0
    norq_fake.assert_nothing_sent()


def test_an_html_alternative_and_attachments_are_carried(norq_fake: NotificationFake) -> None:
    message = EmailMultiAlternatives("Invoice", "See attached.", to=["ada@example.com"])
    message.attach_alternative('<p>See <img src="cid:logo"></p>', "text/html")
    message.attach("invoice.pdf", b"%PDF", "application/pdf")
    message.attach("notes.txt", "plain notes")  # the type is guessed from the name
    logo = MIMEImage(b"\x89PNG\r\n", "png")
    logo.add_header("Content-ID", "<logo>")
    logo.add_header("Content-Disposition", "inline", filename="logo.png")
    message.attach(logo)

    send(message)

    sent = norq_fake.assert_sent(to="ada@example.com", body="See attached.")
    assert sent.fields["html"] == '<p>See <img src="cid:logo"></p>'
    assert sent.fields["attachments"] == [
        {"filename": "invoice.pdf", "content": b"%PDF", "type": "application/pdf"},
        {"filename": "notes.txt", "content": b"plain notes", "type": "text/plain"},
        {
            "filename": "logo.png",
            "content": b"\x89PNG\r\n",
            "type": "image/png",
            "content_id": "logo",
            "disposition": "inline",
        },
    ]


def test_an_html_body_gets_a_text_part_made_from_it(norq_fake: NotificationFake) -> None:
    message = EmailMessage("Hi", "<p>Hello <b>Ada</b></p>", to=["ada@example.com"])
    message.content_subtype = "html"

    send(message)

    sent = norq_fake.assert_sent(to="ada@example.com")
    assert (sent.body, sent.fields["html"]) == ("Hello Ada", "<p>Hello <b>Ada</b></p>")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"headers": {"X-Campaign": "spring"}}, r"do not send extra headers \(X-Campaign\)"),
        ({"alternatives": [("BEGIN:VCALENDAR", "text/calendar")]}, "of type text/calendar"),
        ({"to": ["not an address"]}, "is not an email address"),
    ],
)
def test_what_cannot_be_sent_is_refused_before_anything_goes_out(
    norq_fake: NotificationFake, change: dict[str, Any], problem: str
) -> None:
    options: dict[str, Any] = {"to": ["ada@example.com"], **change}
    message = EmailMultiAlternatives("Hi", "Body", **options)

    with pytest.raises(norq.MessageError, match=problem):
        send(message)
    norq_fake.assert_nothing_sent()


def test_a_delivery_failure_raises_with_the_receipt(norq_fake: NotificationFake) -> None:
    norq_fake.fail("invalid_recipient")

    with pytest.raises(norq.DeliveryError) as caught:
        send(EmailMessage("Hi", "Body", to=["ada@example.com"]))

    assert caught.value.receipt.error is not None
    assert caught.value.receipt.error.code == "invalid_recipient"


def test_fail_silently_counts_the_failure_and_logs_it(
    norq_fake: NotificationFake, caplog: pytest.LogCaptureFixture
) -> None:
    norq_fake.fail("invalid_recipient", to="bob@example.com")
    messages = [
        EmailMessage("One", "Body", to=["ada@example.com"]),
        EmailMessage("Two", "Body", to=["bob@example.com"]),
    ]

    sent = get_connection(
        EmailBackend.__module__ + ".EmailBackend", fail_silently=True
    ).send_messages(messages)

    assert sent == 1
    assert "an email was not sent" in caplog.text
    assert SECRET not in caplog.text


def test_a_norq_given_to_the_connection_is_used(norq_fake: NotificationFake) -> None:
    app = norq.Norq.from_dict(
        {"providers": {"console": {}}, "routing": {"email": "console"}}, environ={}
    )
    connection = get_connection("norq.contrib.django.EmailBackend", norq=app)

    EmailMessage("Hi", "Body", to=["ada@example.com"], connection=connection).send()

    norq_fake.assert_sent(to="ada@example.com", provider="console")
