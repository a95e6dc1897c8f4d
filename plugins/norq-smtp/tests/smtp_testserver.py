"""A real SMTP server (aiosmtpd) on 127.0.0.1 for the norq-smtp tests.

A module with its own name, not conftest.py, so test modules can import it
when several plugins' test folders are collected in one run.

The server records every message and every connection it served, and can
be told to answer a command with a given reply or to drop the connection,
so each reply code and each failure mode is tested against real SMTP.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

import norq
from norq import Receipt

USERNAME = "norq@example.test"
PASSWORD = "smtp-P4ss/word+with=chars"
SENDER = "alerts@example.test"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    session: int
    authenticated: bool
    tls: bool


@dataclass
class Recorder:
    """The aiosmtpd handler: accepts mail unless a scripted reply says otherwise."""

    messages: list[Received] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)
    #: stage ("mail", "rcpt", "data") -> replies to give, one per command, in order.
    replies: dict[str, list[str]] = field(default_factory=dict)
    #: stages at which to drop the connection instead of answering, once each.
    drops: list[str] = field(default_factory=list)
    failed_logins: int = 0

    def _session_number(self, session: Session) -> int:
        for number, known in enumerate(self.sessions):
            if known is session:
                return number
        self.sessions.append(session)
        return len(self.sessions) - 1

    def _scripted(self, server: Any, session: Session, stage: str) -> str | None:
        self._session_number(session)
        if stage in self.drops:
            self.drops.remove(stage)
            server.transport.close()
            return "250 OK"  # never arrives: the connection is closed
        queued = self.replies.get(stage)
        return queued.pop(0) if queued else None

    async def handle_MAIL(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        scripted = self._scripted(server, session, "mail")
        if scripted is not None:
            return scripted
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        scripted = self._scripted(server, session, "rcpt")
        if scripted is not None:
            return scripted
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        scripted = self._scripted(server, session, "data")
        if scripted is not None:
            return scripted
        content = envelope.original_content or b""
        self.messages.append(
            Received(
                mail_from=envelope.mail_from or "",
                rcpt_tos=list(envelope.rcpt_tos),
                content=content,
                session=self._session_number(session),
                authenticated=bool(session.authenticated),
                tls=server.transport.get_extra_info("ssl_object") is not None,
            )
        )
        return f"250 2.0.0 OK queued as {len(self.messages)}"

    def authenticate(
        self, server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login == USERNAME.encode()
            and data.password == PASSWORD.encode()
        )
        if not ok:
            self.failed_logins += 1
        # handled=False: aiosmtpd itself answers "535 5.7.8" to a failure.
        return AuthResult(success=ok, handled=False)


@dataclass
class SmtpServer:
    """A running server and the config that reaches it."""

    host: str
    port: int
    recorder: Recorder
    security: str
    ca_file: Path | None
    auth: bool

    def config(self, **overrides: Any) -> dict[str, Any]:
        config: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "security": self.security,
            "sender": SENDER,
            "helo_name": "norq.test",
        }
        if self.ca_file is not None:
            config["ca_file"] = str(self.ca_file)
        if self.auth:
            config["username"] = USERNAME
            config["password"] = PASSWORD
        config.update(overrides)
        return config

    def norq(self, *, retry: dict[str, Any] | None = None, **overrides: Any) -> norq.Norq:
        """A Norq that routes ``email`` to this server, retrying without waiting."""
        provider: dict[str, Any] = {"type": "smtp", "config": self.config(**overrides)}
        provider["retry"] = {"backoff": 0, "jitter": 0, **(retry or {})}
        return norq.Norq.from_dict(
            {"providers": {"mail": provider}, "routing": {"email": "mail"}}, environ={}
        )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


StartServer = Callable[..., SmtpServer]


async def send(app: norq.Norq, mode: str, to: str = "ada@example.test", **options: Any) -> Receipt:
    """One email through ``notify`` (``mode="sync"``) or ``anotify``, closing ``app`` after."""
    options.setdefault("body", "hi")
    options.setdefault("subject", "s")
    if mode == "sync":
        with app:
            return app.notify("email", to, **options)
    async with app:
        return await app.anotify("email", to, **options)
