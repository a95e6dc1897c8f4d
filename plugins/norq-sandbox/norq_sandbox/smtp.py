"""An SMTP server that accepts mail into the inbox, built on aiosmtpd.

It runs on the sandbox's event loop, beside the HTTP APIs. Every message is
accepted with ``250 2.0.0 Ok: queued as <id>``, parsed, and shown in the inbox
with its headers, text and HTML parts. AUTH (PLAIN, LOGIN) is required when
the settings name a user, and STARTTLS is offered when they name a
certificate; both are off by default, like a development mail catcher.

Faults apply when a message's data arrives, in SMTP's own words: ``429`` is
``451 4.7.1`` (try again later), ``500`` and ``502`` are ``451 4.3.0``,
``503`` is ``421 4.3.2``; ``delay``, ``drop`` and ``accept-drop`` behave as
they do over HTTP.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import ssl
import uuid
import warnings
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from norq_sandbox.faults import COMMON_KINDS, Fault
from norq_sandbox.outbox import OutboxMessage
from norq_sandbox.records import LoggedRequest
from norq_sandbox.state import SandboxState

logger = logging.getLogger("norq_sandbox")

NAME = "smtp"
HOSTNAME = "norq-sandbox"
SMTP_FAULTS = COMMON_KINDS
ACCEPTED = "250 2.0.0 Ok: queued as {id}"


def fault_reply(fault: Fault) -> str:
    """The SMTP reply that stands for an HTTP-style fault."""
    if fault.kind == "429":
        wait = f" in {fault.seconds:g} seconds" if fault.seconds is not None else " later"
        return f"451 4.7.1 Rate limit exceeded, try again{wait}"
    if fault.kind == "503":
        return "421 4.3.2 Service not available, closing transmission channel"
    return "451 4.3.0 Temporary server error, try again later"


def parse(content: bytes) -> tuple[EmailMessage, str | None, str | None]:
    """The message, its plain-text part and its HTML part (either may be missing)."""
    message = email.message_from_bytes(content, policy=email.policy.default)
    assert isinstance(message, EmailMessage)  # the default policy makes EmailMessage
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    return (
        message,
        None if text is None else str(text.get_content()),
        None if html is None else str(html.get_content()),
    )


class MailHandler:
    """aiosmtpd's handler: check credentials, apply faults, keep what arrives."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        settings = self.state.settings
        if not isinstance(data, LoginPassword) or settings.smtp_username is None:
            return AuthResult(success=False, handled=False)
        ok = (
            data.login.decode("utf-8", "replace") == settings.smtp_username
            and data.password.decode("utf-8", "replace") == settings.smtp_password
        )
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        records = self.state.records
        login = getattr(session.auth_data, "login", None)
        record = records.record_request(
            "SMTP",
            "DATA",
            "",
            {"mail_from": [str(envelope.mail_from)], "rcpt_to": list(envelope.rcpt_tos)},
            login.decode("utf-8", "replace") if isinstance(login, bytes) else None,
            api=NAME,
        )
        fault = self.state.plans[NAME].next()
        if fault is not None:
            records.update_request(record, fault=str(fault))
            if fault.kind == "delay":
                await asyncio.sleep(fault.seconds or 0.0)
            elif fault.kind in ("drop", "accept-drop"):
                if fault.kind == "accept-drop":
                    records.update_request(record, message_sid=self._keep(envelope))
                records.update_request(record, dropped=True)
                logger.info("%s", _log_line(record))
                if server.transport is not None:
                    server.transport.close()
                # Let the close happen before aiosmtpd writes this reply, so none goes out.
                for _ in range(3):
                    await asyncio.sleep(0)
                return "421 4.3.0 Connection dropped by the sandbox"
            else:
                reply = fault_reply(fault)
                records.update_request(record, status=int(reply[:3]))
                logger.info("%s", _log_line(record))
                return reply
        queue_id = self._keep(envelope)
        records.update_request(record, status=250, message_sid=queue_id)
        logger.info("%s", _log_line(record))
        return ACCEPTED.format(id=queue_id)

    def _keep(self, envelope: Envelope) -> str:
        queue_id = uuid.uuid4().hex[:12].upper()
        message, text, html = parse(envelope.original_content or b"")
        self.state.records.deliver(
            OutboxMessage(
                id=queue_id,
                api=NAME,
                channel="email",
                at=self.state.records.clock.now(),
                sender=str(message.get("From") or envelope.mail_from),
                to=tuple(envelope.rcpt_tos),
                provider_id=queue_id,
                subject=None if message.get("Subject") is None else str(message["Subject"]),
                text=text,
                html=html,
                headers=tuple((name, str(value)) for name, value in message.items()),
                details={
                    "mail_from": envelope.mail_from,
                    "message_id": message.get("Message-ID"),
                    "attachments": [
                        part.get_filename() or "" for part in message.iter_attachments()
                    ],
                },
            )
        )
        return queue_id


def _log_line(record: LoggedRequest) -> str:
    rcpt = ", ".join(record.params.get("rcpt_to", []))
    answer = "dropped" if record.dropped else str(record.status)
    line = f"smtp DATA to {rcpt} -> {answer}"
    if record.message_sid:
        line += f" {record.message_sid}"
    if record.fault:
        line += f" (fault {record.fault})"
    return line


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def protocol_factory(state: SandboxState) -> Callable[[], SMTP]:
    """What ``loop.create_server`` needs to speak SMTP with the sandbox's settings."""
    settings = state.settings
    handler = MailHandler(state)
    context = (
        None
        if settings.smtp_tls_cert is None or settings.smtp_tls_key is None
        else tls_context(settings.smtp_tls_cert, settings.smtp_tls_key)
    )
    auth_required = settings.smtp_username is not None

    def factory() -> SMTP:
        with warnings.catch_warnings():
            # AUTH without TLS is what a loopback test server is for; aiosmtpd warns anyway.
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
            return _smtp(handler, context, auth_required)

    return factory


def _smtp(handler: MailHandler, context: ssl.SSLContext | None, auth_required: bool) -> SMTP:
    return SMTP(
        handler,
        hostname=HOSTNAME,
        ident="Norq sandbox ESMTP",
        tls_context=context,
        authenticator=handler.authenticate,
        auth_required=auth_required,
        # Without a certificate, AUTH over plain loopback: it is a test server.
        auth_require_tls=context is not None,
        enable_SMTPUTF8=True,
    )
