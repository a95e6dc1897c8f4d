"""Messages the non-Twilio APIs accepted: emails, chat messages, pushes, Vonage SMS.

Twilio messages have a lifecycle of their own (:class:`SandboxMessage`); these
are accepted once and kept as sent, so one immutable record serves them all.
The inbox shows both kinds side by side, told apart by ``channel``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One message an emulated API accepted.

    ``api`` is who accepted it (``sendgrid``, ``smtp``, ``vonage``, ``slack``,
    ``slack-webhook``, ``fcm``, ``apns``, ``webpush``), ``channel`` what it is
    (``email``, ``sms``, ``chat``, ``push``), ``provider_id`` the id the API
    answered with (SendGrid's ``X-Message-Id``, Vonage's ``message-id``,
    Slack's ``ts``, FCM's message name, the ``apns-id``). A push's ``subject``
    and ``text`` are the notification's title and body, ``details["data"]``
    what it carried for the app. ``html`` is never put in the
    inbox's JSON: the inbox loads it into a sandboxed frame on its own.
    """

    id: str
    api: str
    channel: str
    at: dt.datetime
    sender: str | None
    to: tuple[str, ...]
    provider_id: str
    subject: str | None = None
    text: str | None = None
    html: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)

    def inbox_view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "api": self.api,
            "channel": self.channel,
            "created_at": self.at.isoformat(),
            "from": self.sender,
            "to": list(self.to),
            "provider_id": self.provider_id,
            "subject": self.subject,
            "body": self.text,
            "has_html": self.html is not None,
            "headers": [list(pair) for pair in self.headers],
            "details": dict(self.details),
            "status": "accepted",
            "version": 0,
        }
