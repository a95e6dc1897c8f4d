"""norq-smtp: a Norq provider and transport that send email over SMTP.

Installed as its own distribution and found through the ``norq`` entry-point
group. It registers the ``smtp`` provider (channel ``email``), which builds
each message as a MIME email (:class:`PreparedEmail`), and the ``smtp``
transport, which sends it with :mod:`smtplib` or aiosmtplib::

    providers:
      mail:
        type: smtp
        config:
          host: smtp.example.com
          username: norq@example.com
          password: ${SMTP_PASSWORD}
          sender: norq@example.com
    routing:
      email: mail

See docs/providers/smtp.md.
"""

from __future__ import annotations

import norq
from norq_smtp.config import SmtpConfig
from norq_smtp.prepared import TRANSPORT, PreparedEmail, SmtpServer
from norq_smtp.provider import SmtpProvider
from norq_smtp.replies import classify, read_reply
from norq_smtp.transport import SmtpTransport

__version__ = "0.1.0"

__all__ = [
    "PreparedEmail",
    "SmtpConfig",
    "SmtpProvider",
    "SmtpServer",
    "SmtpTransport",
    "classify",
    "read_reply",
    "register_providers",
    "register_transports",
]


@norq.hookimpl
def register_providers(register: norq.Register) -> None:
    register(SmtpProvider)


@norq.hookimpl
def register_transports(register: norq.RegisterTransport) -> None:
    register(TRANSPORT, SmtpTransport)
