"""The ``smtp`` provider: turns a Norq message into a MIME email and its envelope. Pure."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formataddr
from typing import Any, ClassVar

import norq
from norq_smtp.attachments import attachments, check_attachments
from norq_smtp.config import SmtpConfig
from norq_smtp.prepared import POLICY, PreparedEmail, SmtpServer
from norq_smtp.replies import read_reply

_ADDRESS_LISTS = ("cc", "bcc")


class SmtpProvider(norq.Provider[SmtpConfig]):
    """Sends email through an SMTP server; the receipt id is the generated ``Message-ID``.

    Per-message options: ``subject`` (required, usually from the template),
    ``html`` (an HTML alternative to the text body), ``cc`` and ``bcc`` (an
    address or a list), ``reply_to``, ``attachments`` (see :mod:`norq_smtp.attachments`).
    """

    name = "smtp"
    channels = frozenset({"email"})
    recipient_formats: ClassVar[Mapping[str, norq.AddressFormat]] = {"email": norq.EMAIL}
    description = "Sends email over SMTP (STARTTLS or TLS, AUTH), reusing connections"
    message_fields = frozenset({"subject", "html", "cc", "bcc", "reply_to", "attachments"})
    default_retry = norq.RetryPolicy(max_retries=2, backoff=1.0)

    def __init__(self, config: SmtpConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        # Built once: prepare_send only adds the message.
        self._server = SmtpServer(
            host=config.host,
            port=config.server_port,
            security=config.security,
            username=config.username,
            password=config.password,
            helo_name=config.helo_name,
            ca_file=config.ca_file,
            max_connections=config.max_connections,
        )
        self._from = formataddr((config.sender_name or "", config.sender))
        self._domain = config.sender.rpartition("@")[2]

    def check_message(self, message: norq.Message) -> None:
        super().check_message(message)
        subject = message.fields.get("subject")
        if not isinstance(subject, str) or not subject.strip():
            raise norq.MessageError(
                f"email to {message.to} has no subject: pass subject=... or use a template "
                "with a subject part",
                code="invalid_message",
            )
        for name in ("subject", "reply_to"):
            value = message.fields.get(name)
            if isinstance(value, str) and ("\r" in value or "\n" in value):
                raise norq.MessageError(
                    f"{name} must be one line: a line break would start a new mail header",
                    code="invalid_message",
                )
        html = message.fields.get("html")
        if html is not None and not isinstance(html, str):
            raise norq.MessageError(
                f"html must be a string, got {type(html).__name__}", code="invalid_message"
            )
        if message.fields.get("reply_to") is not None:
            _addresses(message.fields, "reply_to")
        if message.fields.get("attachments") is not None:
            check_attachments(message.fields["attachments"])
        for name in _ADDRESS_LISTS:
            _addresses(message.fields, name)
        for address in (message.to, *_all_copies(message.fields)):
            if not address.isascii():
                raise norq.MessageError(
                    f"{address!r} is not an ASCII address; norq-smtp does not send SMTPUTF8 "
                    "mail (write the domain in its xn-- form)",
                    code="invalid_recipient",
                )

    def prepare_send(self, message: norq.Message) -> PreparedEmail:
        fields = message.fields
        email = EmailMessage(policy=POLICY)
        # Random, not derived from the content: the same notification sent
        # twice is two emails, and servers deduplicate on Message-ID.
        token = uuid.uuid4().hex
        message_id = f"<{token}@{self._domain}>"
        email["Message-ID"] = message_id
        email["From"] = self._from
        email["To"] = message.to
        cc = _addresses(fields, "cc")
        if cc:
            email["Cc"] = ", ".join(cc)
        reply_to = fields.get("reply_to") or self.config.reply_to
        if reply_to:
            email["Reply-To"] = reply_to
        email["Subject"] = fields["subject"]
        email.set_content(message.body or "")
        html = fields.get("html")
        if html is not None:
            email.add_alternative(html, subtype="html")
        for attachment in attachments(fields.get("attachments")):
            email.add_attachment(
                attachment.content,
                maintype=attachment.maintype,
                subtype=attachment.subtype,
                filename=attachment.filename,
                disposition=attachment.disposition,
                cid=None if attachment.content_id is None else f"<{attachment.content_id}>",
            )
        # Boundaries chosen here, not by the generator on first serialisation,
        # which would change the prepared message when it is shown or sent.
        multiparts = [part for part in email.walk() if part.is_multipart()]
        for number, part in enumerate(multiparts):
            part.set_boundary(f"=_{token}" + (f"_{number}" if number else ""))
        return PreparedEmail(
            server=self._server,
            envelope_from=self.config.sender,
            envelope_to=(message.to, *cc, *_addresses(fields, "bcc")),
            message=email,
            message_id=message_id,
            retry=self.retry,
        )

    def read_send(self, request: Any, response: norq.Response) -> norq.SendResult:
        return read_reply(request, response)

    def describe(self, message: norq.Message) -> Mapping[str, str]:
        return {"server": self._server.describe()}


def _addresses(fields: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = fields.get(name)
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(item, str) for item in items):
        raise norq.MessageError(
            f"{name} must be an email address or a list of them, got {value!r}",
            code="invalid_recipient",
        )
    return tuple(_checked(item, name) for item in items)


def _checked(address: str, name: str) -> str:
    try:
        return norq.EMAIL.check_recipient(address)
    except norq.MessageError as exc:
        raise norq.MessageError(f"{name}: {exc}", code="invalid_recipient") from None


def _all_copies(fields: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(address for name in _ADDRESS_LISTS for address in _addresses(fields, name))
