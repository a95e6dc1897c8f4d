"""The pure description of one email: the MIME message, its envelope and its server."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

from pydantic import SecretStr

import norq

TRANSPORT = "smtp"

#: CRLF line ends and 7-bit transfer encodings (quoted-printable or base64 for
#: non-ASCII text), so any server takes the message without 8BITMIME.
POLICY = SMTP.clone(cte_type="7bit")


@dataclass(frozen=True, slots=True, repr=False)
class SmtpServer:
    """How to reach and log in to one SMTP server; connections are pooled per server."""

    host: str
    port: int
    security: str
    username: str | None = None
    password: SecretStr | None = None
    helo_name: str | None = None
    ca_file: Path | None = None
    max_connections: int = 4

    def __repr__(self) -> str:
        return f"<SmtpServer {self.describe()}>"

    def describe(self) -> str:
        """One line for a person: where, how encrypted, and who logs in (never the password)."""
        security = {"starttls": "STARTTLS", "tls": "TLS", "none": "no encryption"}[self.security]
        login = f", AUTH as {self.username} (password ***)" if self.username else ", no AUTH"
        return f"{self.host}:{self.port} ({security}{login})"


@dataclass(frozen=True, slots=True, repr=False)
class PreparedEmail:
    """What :class:`~norq_smtp.SmtpTransport` sends: a message, its envelope, its server.

    ``message_id`` is the ``Message-ID`` header, which becomes the receipt's
    id. ``str()`` is the dry run: the server, the envelope and the exact MIME
    message. The transport adds a ``Date`` header when it sends.
    """

    server: SmtpServer
    envelope_from: str
    envelope_to: tuple[str, ...]
    message: EmailMessage = field(compare=False)
    message_id: str
    retry: norq.RetryPolicy
    transport: str = TRANSPORT

    def mime_bytes(self) -> bytes:
        """The message as it goes after DATA, CRLF line ends, without the Date header."""
        return self.message.as_bytes(policy=POLICY)

    def __repr__(self) -> str:
        # Short on purpose: addresses and content are personal data.
        server, count = self.server, len(self.envelope_to)
        return (
            f"<PreparedEmail {self.message_id} via {server.host}:{server.port} "
            f"to {count} recipient(s)>"
        )

    def __str__(self) -> str:
        lines = [
            f"SMTP {self.server.describe()}",
            f"MAIL FROM:<{self.envelope_from}>",
            *(f"RCPT TO:<{address}>" for address in self.envelope_to),
            "DATA",
            self.mime_bytes().decode("ascii").replace("\r\n", "\n").rstrip("\n"),
        ]
        return "\n".join(lines)
