"""A Django email backend that sends through Norq's ``email`` route.

Every ``EmailMessage`` becomes Norq notifications on the ``email`` channel,
so the route's failover, retries, rate limits, hooks and redaction apply as
to any other send. What maps to what is in docs/django.md; in short:

- each ``to`` address gets its own email (Norq sends to one recipient at a
  time); the first also goes to the ``cc`` and ``bcc`` addresses, so each
  person gets one copy. Without ``to``, each ``cc`` and ``bcc`` address gets
  its own email.
- ``subject``, the text body, an HTML body or ``text/html`` alternative,
  ``cc``, ``bcc``, ``reply_to`` and the attachments (files and inline
  images) are the email options of the same names;
- the From address is the one configured on the email provider, which has
  verified it: ``from_email`` is not used. Extra headers, and alternatives
  other than HTML, are refused rather than dropped.

While a :class:`norq.testing.NotificationFake` is installed, each message
sent is also appended to ``django.core.mail.outbox`` when the test
environment has one, as Django's own test backend does.
"""

from __future__ import annotations

import copy
import logging
import mimetypes
from collections.abc import Sequence
from email.mime.base import MIMEBase
from typing import Any

from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage
from django.utils.html import strip_tags

import norq
from norq import intercept
from norq.contrib.django.conf import get_norq

logger = logging.getLogger("norq")

CHANNEL = "email"


class EmailBackend(BaseEmailBackend):
    """``EMAIL_BACKEND = "norq.contrib.django.EmailBackend"``.

    It sends with the project's Norq (``settings.NORQ``), or with the one
    given as ``norq=`` (``get_connection(..., norq=app)``). With
    ``fail_silently``, a message that cannot be sent is logged and skipped;
    otherwise its :class:`norq.NorqError` is raised (``norq.DeliveryError``
    carries the receipt).
    """

    def __init__(
        self, fail_silently: bool = False, *, norq: norq.Norq | None = None, **kwargs: Any
    ) -> None:
        super().__init__(fail_silently=fail_silently, **kwargs)
        self._norq = norq

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        """Send each message; returns how many were sent to all their recipients."""
        if not email_messages:
            return 0
        app = self._norq if self._norq is not None else get_norq()
        sent = 0
        for message in email_messages:
            if not message.recipients():
                continue
            try:
                for notification in notifications(message):
                    app.send(notification)
            except norq.NorqError as exc:
                if not self.fail_silently:
                    raise
                logger.warning("an email was not sent: %s", exc)
                continue
            sent += 1
            if intercept.current is not None and hasattr(mail, "outbox"):
                mail.outbox.append(_kept(message))
        return sent


def _kept(message: EmailMessage) -> EmailMessage:
    """A copy for ``mail.outbox``, as Django's test backend keeps it, minus the connection."""
    detached = copy.copy(message)
    detached.connection = None
    return copy.deepcopy(detached)


def notifications(message: EmailMessage) -> list[norq.Notification]:
    """The Norq notifications that send ``message``; :class:`norq.MessageError` if it cannot be.

    Checked whole before the first is sent, so a message is sent to all its
    recipients or to none for a problem of its own.
    """
    if message.extra_headers:
        raise norq.MessageError(
            "Norq's email providers do not send extra headers ("
            + ", ".join(sorted(message.extra_headers))
            + "); remove them from the message",
            code="invalid_message",
        )
    fields: dict[str, Any] = {"subject": str(message.subject)}
    body, html = _content(message)
    if html is not None:
        fields["html"] = html
    if message.reply_to:
        fields["reply_to"] = _one_or_list(message.reply_to)
    attachments = [_attachment(item, index) for index, item in enumerate(message.attachments)]
    if attachments:
        fields["attachments"] = attachments
    copies: dict[str, Any] = {}
    if message.cc:
        copies["cc"] = _one_or_list(message.cc)
    if message.bcc:
        copies["bcc"] = _one_or_list(message.bcc)
    if message.to:
        first, *others = [str(address) for address in message.to]
        sends = [(first, {**fields, **copies})] + [(address, fields) for address in others]
    else:
        sends = [(str(address), fields) for address in [*message.cc, *message.bcc]]
    return [norq.Notification(CHANNEL, to, body=body, fields=options) for to, options in sends]


def _content(message: EmailMessage) -> tuple[str, str | None]:
    """The text body and the HTML one (or ``None``)."""
    body = str(message.body or "")
    html = None
    if message.content_subtype == "html":
        html, body = body, ""
    for alternative in getattr(message, "alternatives", ()):
        content, mimetype = alternative[0], alternative[1]
        if mimetype != "text/html":
            raise norq.MessageError(
                f"an alternative of type {mimetype} cannot be sent: Norq's email providers "
                "send a text body and an HTML one",
                code="invalid_message",
            )
        if html is not None:
            raise norq.MessageError(
                "the message has two HTML bodies; give one", code="invalid_message"
            )
        html = content.decode() if isinstance(content, bytes) else str(content)
    if not body.strip() and html is not None:
        # Every email carries a text part, for the clients that show no HTML.
        body = strip_tags(html).strip()
    return body, html


def _attachment(item: Any, index: int) -> dict[str, Any]:
    """Django's attachment (a (filename, content, mimetype) triple or a MIME part) for Norq."""
    if isinstance(item, MIMEBase):
        payload = item.get_payload(decode=True)
        if not isinstance(payload, bytes):
            raise norq.MessageError(
                f"attachment {index} is a multipart MIME part; attach files instead",
                code="invalid_message",
            )
        found: dict[str, Any] = {
            "filename": item.get_filename() or f"attachment-{index + 1}",
            "content": payload,
            "type": item.get_content_type(),
        }
        content_id = item.get("Content-ID")
        if content_id:
            found["content_id"] = str(content_id).strip("<>")
            found["disposition"] = "inline"
        return found
    filename, content, mimetype = item[0], item[1], item[2]
    if mimetype is None:
        mimetype = mimetypes.guess_type(filename or "")[0] or "application/octet-stream"
    return {
        "filename": filename or f"attachment-{index + 1}",
        "content": content.encode() if isinstance(content, str) else bytes(content),
        "type": mimetype,
    }


def _one_or_list(addresses: Sequence[str]) -> str | list[str]:
    return str(addresses[0]) if len(addresses) == 1 else [str(a) for a in addresses]
