"""norq-sendgrid: email through SendGrid's v3 Mail Send API, as a separately installed plugin.

It registers the provider type ``sendgrid`` (channel ``email``) through the
``norq`` entry-point group. See docs/providers/sendgrid.md.
"""

from __future__ import annotations

import norq
from norq_sendgrid.config import SendGridConfig
from norq_sendgrid.options import MAX_MESSAGE_BYTES
from norq_sendgrid.provider import SendGridProvider

__version__ = "0.1.0"
__all__ = ["MAX_MESSAGE_BYTES", "SendGridConfig", "SendGridProvider"]


@norq.hookimpl
def register_providers(register: norq.Register) -> None:
    register(SendGridProvider)
